using System.Collections.ObjectModel;
using Offload.Balancer.Hashing;

namespace Offload.Balancer.Scheduling;

/// <summary>
/// An immutable, canonical view of a service's backends: sorted by id (ordinal), so two gateways given the
/// same backends in any order see the same indices and build the same tables. Scheduler results are indices
/// into <see cref="Backends"/>.
/// </summary>
public sealed class PoolSnapshot
{
    private readonly Backend[] _backends;
    private readonly long[] _effectiveWeights;
    private readonly ulong[] _offsetHashes;
    private readonly ulong[] _skipHashes;

    public PoolSnapshot(IEnumerable<Backend> backends)
    {
        ArgumentNullException.ThrowIfNull(backends);
        Backend[] sorted = [.. backends];
        if (sorted.Length == 0)
            throw new ArgumentException("a pool needs at least one backend", nameof(backends));
        foreach (Backend b in sorted)
            ArgumentNullException.ThrowIfNull(b, nameof(backends));
        Array.Sort(sorted, static (a, b) => string.CompareOrdinal(a.Id, b.Id));
        for (int i = 1; i < sorted.Length; i++)
        {
            if (string.Equals(sorted[i - 1].Id, sorted[i].Id, StringComparison.Ordinal))
                throw new ArgumentException($"backend id '{sorted[i].Id}' appears more than once in the pool", nameof(backends));
        }

        _backends = sorted;
        Backends = new ReadOnlyCollection<Backend>(sorted);
        _effectiveWeights = new long[sorted.Length];
        _offsetHashes = new ulong[sorted.Length];
        _skipHashes = new ulong[sorted.Length];
        bool anyLoadWeight = false;
        for (int i = 0; i < sorted.Length; i++)
        {
            _effectiveWeights[i] = sorted[i].EffectiveWeight;
            anyLoadWeight |= _effectiveWeights[i] > 0;
            _offsetHashes[i] = StableHash.OfString(sorted[i].Id, StableHash.OffsetSeed);
            _skipHashes[i] = StableHash.OfString(sorted[i].Id, StableHash.SkipSeed);
        }

        // Every usable backend reporting overload 1 says nothing about which one has room; dropping all new
        // flows would turn a load spike into an outage, so fall back to the configured weights.
        if (!anyLoadWeight)
        {
            for (int i = 0; i < sorted.Length; i++)
                _effectiveWeights[i] = sorted[i].Healthy ? (long)sorted[i].Weight * LoadFeedback.Steps : 0;
        }

        for (int i = 0; i < sorted.Length; i++)
        {
            if (_effectiveWeights[i] > 0)
                ParticipantCount++;
        }
    }

    /// <summary>The backends in canonical (ordinal id) order.</summary>
    public IReadOnlyList<Backend> Backends { get; }

    public int Count => _backends.Length;

    /// <summary>Backends that are healthy with an effective weight above zero: the only ones a scheduler picks.</summary>
    public int ParticipantCount { get; }

    public Backend this[int index] => _backends[index];

    /// <summary>The weight schedulers use: configured weight after health and load feedback (0 = never picked).</summary>
    public long EffectiveWeight(int index) => _effectiveWeights[index];

    internal ulong OffsetHash(int index) => _offsetHashes[index];

    internal ulong SkipHash(int index) => _skipHashes[index];

    /// <summary>Index of the backend with this id, or -1 (binary search over the canonical order).</summary>
    public int IndexOf(string id)
    {
        ArgumentNullException.ThrowIfNull(id);
        int lo = 0, hi = _backends.Length - 1;
        while (lo <= hi)
        {
            int mid = lo + ((hi - lo) >> 1);
            int c = string.CompareOrdinal(_backends[mid].Id, id);
            if (c == 0)
                return mid;
            if (c < 0)
                lo = mid + 1;
            else
                hi = mid - 1;
        }
        return -1;
    }
}
