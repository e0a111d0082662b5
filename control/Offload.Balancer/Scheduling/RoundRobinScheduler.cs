using Offload.Device;

namespace Offload.Balancer.Scheduling;

/// <summary>
/// Smooth weighted round-robin (nginx's scheme): on each pick every participant adds its effective weight to
/// a running score, the highest score wins (ties to the lower index) and pays back the total. Weights 5/1/1
/// give a a b a c a a rather than a a a a a b c, so a heavy backend never receives a burst. Ignores the key.
/// </summary>
/// <remarks>O(N) per pick; fine for pools of hundreds. Scores restart at zero on every rebuild.</remarks>
public sealed class RoundRobinScheduler : IBackendScheduler
{
    private long[] _current = [];
    private long _total;

    public string Name => "round-robin";

    public PoolSnapshot? Pool { get; private set; }

    public void Rebuild(PoolSnapshot pool)
    {
        ArgumentNullException.ThrowIfNull(pool);
        if (_current.Length < pool.Count)
            _current = new long[pool.Count];
        _current.AsSpan().Clear();
        _total = 0;
        for (int i = 0; i < pool.Count; i++)
            _total += pool.EffectiveWeight(i);
        Pool = pool;
    }

    public int Pick(in FlowKey key)
    {
        PoolSnapshot? pool = Pool;
        if (pool is null || _total == 0)
            return IBackendScheduler.None;

        int best = IBackendScheduler.None;
        long bestScore = long.MinValue;
        for (int i = 0; i < pool.Count; i++)
        {
            long w = pool.EffectiveWeight(i);
            if (w == 0)
                continue;
            long score = _current[i] + w;
            _current[i] = score;
            if (score > bestScore)
            {
                bestScore = score;
                best = i;
            }
        }
        _current[best] -= _total;
        return best;
    }
}
