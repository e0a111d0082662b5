using Offload.Device;
using Offload.Protocol.Sync;

namespace Offload.Balancer.Sync;

/// <summary>A peer gateway: its sync address and the port-0 MAC its data plane accepts as its own.</summary>
public sealed record SyncPeer(uint Ip, MacAddress Mac);

/// <summary>Session-sync settings of one gateway; all timeouts run on the service table's injected clock.</summary>
public sealed record SyncOptions
{
    /// <summary>This gateway's address: its identity in the group and the source of its sync datagrams.</summary>
    public required uint LocalIp { get; init; }

    /// <summary>The group key every gateway shares (HMAC-SHA256).</summary>
    public required ReadOnlyMemory<byte> Key { get; init; }

    public IReadOnlyList<SyncPeer> Peers { get; init; } = [];

    /// <summary>SYNC_PORT, as written to the data plane.</summary>
    public ushort Port { get; init; } = SyncWire.DefaultPort;

    /// <summary>
    /// Sequences restart at each boot, so the boot id must grow from one boot to the next for peers to tell a
    /// restart from a replay. Null: microseconds since the Unix epoch on the injected clock.
    /// </summary>
    public ulong? BootId { get; init; }

    public TimeSpan RetransmitTimeout { get; init; } = TimeSpan.FromMilliseconds(200);

    /// <summary>Resends of an unacknowledged message before it is dropped (and counted).</summary>
    public int MaxRetries { get; init; } = 5;

    /// <summary>Unacknowledged messages per peer; more changes wait in the peer's backlog.</summary>
    public int MaxInFlight { get; init; } = 32;

    /// <summary>Changes waiting per peer; beyond it new changes are dropped (and counted).</summary>
    public int MaxBacklog { get; init; } = 65536;

    /// <summary>Peer flows held for takeover; beyond it new ones are dropped (and counted).</summary>
    public int MaxStoredFlows { get; init; } = 262144;

    /// <summary>Sequences behind a sender's highest that are still checked for duplicates; older ones are refused.</summary>
    public int ReplayWindow { get; init; } = 4096;

    /// <summary>How long a withdrawn key is remembered, so a late resend of its older batch cannot bring it back.</summary>
    public TimeSpan TombstoneLifetime { get; init; } = TimeSpan.FromMinutes(2);
}
