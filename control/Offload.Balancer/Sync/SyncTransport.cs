using Offload.Device;
using Offload.Protocol.Sync;

namespace Offload.Balancer.Sync;

/// <summary>Carries sync messages to a peer. The engine never waits on it: loss is handled by resends.</summary>
public interface ISyncTransport
{
    /// <returns>False when it could not be queued now (the resend timer tries again).</returns>
    bool Send(uint peerIp, ReadOnlySpan<byte> message);
}

/// <summary>
/// Sends sync messages the way everything leaves a gateway: as Ethernet/IPv4/UDP frames through the data plane's
/// host TX queue out port 0 (the segment), addressed to the peer's port-0 MAC so its data plane takes them as its
/// own and punts them (UDP to SYNC_PORT, reason PROTO).
/// </summary>
public sealed class DataplaneSyncTransport : ISyncTransport
{
    private readonly Dataplane _dataplane;
    private readonly MacAddress _localMac;
    private readonly uint _localIp;
    private readonly ushort _port;
    private readonly Dictionary<uint, MacAddress> _peers = [];
    private readonly byte[] _frame = new byte[SyncDatagram.Overhead + SyncWire.MaxMessage];

    /// <param name="localMac">PORT0_MAC of this gateway.</param>
    public DataplaneSyncTransport(Dataplane dataplane, MacAddress localMac, SyncOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        _dataplane = dataplane ?? throw new ArgumentNullException(nameof(dataplane));
        _localMac = localMac;
        _localIp = options.LocalIp;
        _port = options.Port;
        foreach (var p in options.Peers)
            _peers[p.Ip] = p.Mac;
    }

    /// <summary>Messages for an address that is not a configured peer.</summary>
    public long UnknownPeer { get; private set; }

    public bool Send(uint peerIp, ReadOnlySpan<byte> message)
    {
        if (!_peers.TryGetValue(peerIp, out var mac))
        {
            UnknownPeer++;
            return false;
        }
        int n = SyncDatagram.Build(_frame, mac.Value, _localMac.Value, _localIp, peerIp, _port, message);
        return _dataplane.SendHost(0, _frame.AsSpan(0, n));
    }
}
