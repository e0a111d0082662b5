using Offload.Device;

namespace Offload.Balancer.Scheduling;

/// <summary>
/// Weighted least connections: picks the participant with the fewest live connections per unit of effective
/// weight, counting the connection being placed ((c + 1) / w, so an idle heavy backend goes first).
/// </summary>
/// <remarks>
/// Live counts are given to the scheduler by whoever knows them: the session tracker calls
/// <see cref="OnOpened"/> / <see cref="OnClosed"/> as it installs and ages out flows, and <see cref="SetCount"/>
/// to resynchronise (after a takeover, say). <see cref="Pick"/> itself counts nothing, because a pick can be
/// abandoned. Counts follow a backend by id across rebuilds. Ties go round-robin from the last pick, so a
/// burst of picks against equal counts spreads instead of piling on the lowest index.
/// </remarks>
public sealed class LeastConnectionsScheduler : IBackendScheduler
{
    private long[] _counts = [];
    private int _cursor;

    public string Name => "least-connections";

    public PoolSnapshot? Pool { get; private set; }

    public void Rebuild(PoolSnapshot pool)
    {
        ArgumentNullException.ThrowIfNull(pool);
        long[] counts = new long[pool.Count];
        if (Pool is { } old)
        {
            for (int i = 0; i < old.Count; i++)
            {
                int j = pool.IndexOf(old[i].Id);
                if (j >= 0)
                    counts[j] = _counts[i];
            }
        }
        _counts = counts;
        _cursor = 0;
        Pool = pool;
    }

    /// <summary>Live connections the scheduler believes <paramref name="backend"/> has.</summary>
    public long Count(int backend) => _counts[CheckIndex(backend)];

    public void OnOpened(int backend) => _counts[CheckIndex(backend)]++;

    public void OnClosed(int backend)
    {
        ref long c = ref _counts[CheckIndex(backend)];
        if (c > 0)
            c--;
    }

    public void SetCount(int backend, long count)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(count);
        _counts[CheckIndex(backend)] = count;
    }

    public int Pick(in FlowKey key)
    {
        PoolSnapshot? pool = Pool;
        if (pool is null)
            return IBackendScheduler.None;

        int n = pool.Count;
        int best = IBackendScheduler.None;
        long bestLoad = 0, bestWeight = 1;
        for (int k = 0; k < n; k++)
        {
            int i = _cursor + k < n ? _cursor + k : _cursor + k - n;
            long w = pool.EffectiveWeight(i);
            if (w == 0)
                continue;
            long load = _counts[i] + 1;
            // load/w < bestLoad/bestWeight without division; Int128 because weights reach 2^24 and counts
            // are unbounded longs.
            if (best < 0 || (Int128)load * bestWeight < (Int128)bestLoad * w)
            {
                best = i;
                bestLoad = load;
                bestWeight = w;
            }
        }
        if (best >= 0)
            _cursor = best + 1 < n ? best + 1 : 0;
        return best;
    }

    private int CheckIndex(int backend)
    {
        if (Pool is null)
            throw new InvalidOperationException("no pool yet: call Rebuild first");
        ArgumentOutOfRangeException.ThrowIfNegative(backend);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(backend, Pool.Count);
        return backend;
    }
}
