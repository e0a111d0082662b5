using Offload.Device;
using Offload.Group;
using Offload.Protocol;
using Offload.Protocol.Glbp;

namespace Offload.Gateway;

/// <summary>
/// Sends a group's GLBP messages the way Cisco does (Ethernet/IPv4/UDP to 01:00:5e:00:00:66 / 224.0.0.102, UDP
/// 3222 both ways, TTL 255, DSCP CS6, from one of the vMACs the gateway forwards, else its port MAC, and its address) through the device's host TX queue, so a
/// model, a PCIe board and a USB board put the same frame on the segment. One frame buffer, reused: no
/// allocation per hello.
/// </summary>
public sealed class HostPortGlbpTransport : IGlbpTransport
{
    private const int MaxFrame = EthernetHeader.UntaggedLength + Ipv4Header.MinLength + 8 + GlbpProtocol.MaxLength;

    private readonly Dataplane _dataplane;
    private readonly Lock _gate = new();
    private readonly ulong _sourceMac;
    private readonly uint _sourceIp;
    private readonly int _port;
    private readonly byte[] _frame = new byte[Math.Max(MaxFrame, FrameBuilder.MinFrame)];
    private ushort _identification;
    private long _sent;
    private long _dropped;

    /// <param name="dataplane">The device.</param>
    /// <param name="sourceMac">The segment port's own MAC (PORT0_MAC).</param>
    /// <param name="sourceIp">This gateway's address on the segment (the group's LocalIp).</param>
    /// <param name="port">The segment port (0).</param>
    public HostPortGlbpTransport(Dataplane dataplane, MacAddress sourceMac, uint sourceIp, int port = 0)
    {
        _dataplane = dataplane ?? throw new ArgumentNullException(nameof(dataplane));
        if (sourceMac.IsMulticast || sourceMac.Value == 0)
            throw new ArgumentException($"the source MAC {sourceMac} must be the port's unicast address", nameof(sourceMac));
        ArgumentOutOfRangeException.ThrowIfZero(sourceIp);
        if ((uint)port > 1)
            throw new ArgumentOutOfRangeException(nameof(port), port, "ports are 0 and 1");
        _sourceMac = sourceMac.Value;
        _sourceIp = sourceIp;
        _port = port;
    }

    /// <summary>Frames queued on the host TX port.</summary>
    public long Sent => Interlocked.Read(ref _sent);

    /// <summary>Messages dropped because the host TX queue had no room (the next hello carries the same state).</summary>
    public long Dropped => Interlocked.Read(ref _dropped);

    public void Send(ReadOnlySpan<byte> glbpMessage, ulong ethernetSource)
    {
        if (glbpMessage.Length > GlbpProtocol.MaxLength)
            throw new ArgumentException($"a GLBP message is at most {GlbpProtocol.MaxLength} bytes, got {glbpMessage.Length}", nameof(glbpMessage));
        // Only a GLBP vMAC may stand in for the port's own address: anything else would be a programming error.
        ulong source = ethernetSource == 0 || ethernetSource == _sourceMac ? _sourceMac
            : GlbpVirtualMac.TryParse(ethernetSource, out _, out _) ? ethernetSource
            : throw new ArgumentException($"the Ethernet source {new MacAddress(ethernetSource)} is neither the port's MAC nor a GLBP vMAC", nameof(ethernetSource));
        bool queued;
        // Groups send from their own timers: the shared buffer is filled under the device lock too.
        lock (_gate)
        {
            int length = GlbpFrame.Write(_frame, source, _sourceIp, glbpMessage, ++_identification);
            queued = _dataplane.SendHost(_port, _frame.AsSpan(0, length));
        }
        if (queued)
            Interlocked.Increment(ref _sent);
        else
            Interlocked.Increment(ref _dropped);
    }
}
