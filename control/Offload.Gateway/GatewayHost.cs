using Offload.Device;
using Offload.Group;
using Offload.Protocol.Glbp;

namespace Offload.Gateway;

/// <summary>Receives host frames the gateway loop does not handle itself (misses, FIN/RST events, ARP copies, sync).</summary>
public delegate void GatewayFrameHandler(in HostFrame meta, ReadOnlySpan<byte> frame);

/// <summary>
/// The step a gateway daemon runs in its loop: drains the device's host RX queue, hands GLBP messages to the group
/// whose number is in their header (decoded once, straight from the receive buffer), ignores this gateway's own
/// echoes, passes every other frame to <see cref="OtherFrames"/>, and kicks the watchdog. No threads and no
/// allocation per frame.
/// </summary>
public sealed class GatewayHost
{
    private readonly Dataplane _dataplane;
    private readonly uint _localIp;
    private readonly byte[] _buffer;
    private readonly GlbpGroup?[] _groups = new GlbpGroup?[GlbpProtocol.MaxGroup + 1];

    /// <param name="dataplane">The device.</param>
    /// <param name="localIp">This gateway's address on the segment: GLBP from it is our own echo.</param>
    public GatewayHost(Dataplane dataplane, uint localIp)
    {
        _dataplane = dataplane ?? throw new ArgumentNullException(nameof(dataplane));
        ArgumentOutOfRangeException.ThrowIfZero(localIp);
        _localIp = localIp;
        _buffer = new byte[dataplane.Geometry.MaxFrame];
    }

    /// <summary>Where non-GLBP host frames go (the balancer's classifier, session sync); null counts them in <see cref="Unhandled"/>.</summary>
    public GatewayFrameHandler? OtherFrames { get; set; }

    /// <summary>Frames per step at most, so the watchdog is kicked even under a miss storm.</summary>
    public int MaxFramesPerStep { get; set; } = 256;

    /// <summary>GLBP messages handed to a group.</summary>
    public long GlbpDelivered { get; private set; }

    /// <summary>GLBP frames from our own address (a segment that reflects multicast), ignored.</summary>
    public long OwnEchoes { get; private set; }

    /// <summary>GLBP frames whose message failed to decode; <see cref="LastMalformed"/> says why.</summary>
    public long GlbpMalformed { get; private set; }

    public GlbpResult LastMalformed { get; private set; }

    /// <summary>GLBP messages for a group number this gateway does not run.</summary>
    public long GlbpOtherGroup { get; private set; }

    /// <summary>Frames handed to <see cref="OtherFrames"/>.</summary>
    public long OtherDelivered { get; private set; }

    /// <summary>Non-GLBP frames dropped because <see cref="OtherFrames"/> is null.</summary>
    public long Unhandled { get; private set; }

    public void Add(GlbpGroup group)
    {
        ArgumentNullException.ThrowIfNull(group);
        if (_groups[group.GroupNumber] is { } other && other != group)
            throw new InvalidOperationException($"GLBP group {group.GroupNumber} is already registered on this gateway");
        _groups[group.GroupNumber] = group;
    }

    public void Remove(GlbpGroup group)
    {
        ArgumentNullException.ThrowIfNull(group);
        if (_groups[group.GroupNumber] == group)
            _groups[group.GroupNumber] = null;
    }

    /// <summary>One round; returns how many host frames it took.</summary>
    public int Step()
    {
        int n = 0;
        while (n < MaxFramesPerStep)
        {
            HostFrame meta;
            int length;
            if (!_dataplane.TryReceiveHost(_buffer, out meta, out length))
                break;
            n++;
            Dispatch(meta, _buffer.AsSpan(0, length));
        }
        _dataplane.Kick();
        return n;
    }

    private void Dispatch(in HostFrame meta, ReadOnlySpan<byte> frame)
    {
        // Hellos to 224.0.0.102 arrive as BCAST (multicast class), GLBP sent to one of our MACs as PROTO.
        if (meta.Reason is HostReason.Broadcast or HostReason.Protocol && GlbpFrame.TryGetMessage(frame, out uint source, out var message))
        {
            if (source == _localIp)
            {
                OwnEchoes++;
                return;
            }
            GlbpResult decoded = GlbpPacket.TryDecode(message, out GlbpPacket packet);
            if (!decoded.IsOk)
            {
                GlbpMalformed++;
                LastMalformed = decoded;
                return;
            }
            if (_groups[packet.Header.Group] is not { } group)
            {
                GlbpOtherGroup++;
                return;
            }
            group.OnMessage(packet, source);
            GlbpDelivered++;
            return;
        }
        if (OtherFrames is { } handler)
        {
            OtherDelivered++;
            handler(meta, frame);
        }
        else
        {
            Unhandled++;
        }
    }
}
