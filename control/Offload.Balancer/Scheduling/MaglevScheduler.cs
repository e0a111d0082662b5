using Offload.Balancer.Hashing;
using Offload.Device;

namespace Offload.Balancer.Scheduling;

/// <summary>
/// Weighted Maglev over the connection's 5-tuple: <c>table[StableHash.OfFlow(key, seed) mod M]</c>. Gateways
/// with the same pool, table size and seed pick the same backend for the same connection, and a pool change
/// moves only about the changed backend's share of new connections.
/// </summary>
public sealed class MaglevScheduler : IBackendScheduler
{
    private readonly MaglevTable _table;
    private readonly ulong _seed;

    public MaglevScheduler(int tableSize = MaglevTable.DefaultSize, ulong seed = StableHash.DefaultFlowSeed)
    {
        _table = new MaglevTable(tableSize);
        _seed = seed;
    }

    public string Name => "maglev";

    public PoolSnapshot? Pool { get; private set; }

    public MaglevTable Table => _table;

    public void Rebuild(PoolSnapshot pool)
    {
        _table.Build(pool);
        Pool = pool;
    }

    public int Pick(in FlowKey key) =>
        Pool is null ? IBackendScheduler.None : _table.Lookup(StableHash.OfFlow(key, _seed));
}
