using Offload.Balancer.Hashing;
using Offload.Device;

namespace Offload.Balancer.Scheduling;

/// <summary>
/// Source-address affinity: every connection from one client IP goes to the same backend. Built on the same
/// weighted Maglev table as <see cref="MaglevScheduler"/>, keyed by the source address alone, so it inherits
/// Maglev's weights, balance (over many clients) and minimal disruption when the pool changes; rendezvous
/// hashing would give the same consistency at O(N) per pick instead of O(1).
/// </summary>
public sealed class SourceHashScheduler : IBackendScheduler
{
    private readonly MaglevTable _table;
    private readonly ulong _seed;

    public SourceHashScheduler(int tableSize = MaglevTable.DefaultSize, ulong seed = StableHash.DefaultFlowSeed)
    {
        _table = new MaglevTable(tableSize);
        _seed = seed;
    }

    public string Name => "source-hash";

    public PoolSnapshot? Pool { get; private set; }

    public MaglevTable Table => _table;

    public void Rebuild(PoolSnapshot pool)
    {
        _table.Build(pool);
        Pool = pool;
    }

    public int Pick(in FlowKey key) =>
        Pool is null ? IBackendScheduler.None : _table.Lookup(StableHash.OfSource(key.SrcIp, _seed));
}
