using System.Buffers.Binary;
using System.Globalization;
using System.Net;
using System.Net.Sockets;

namespace Offload.Device.Ports;

/// <summary>
/// A raw AF_PACKET socket on one Linux interface: every frame the interface sees comes in (promiscuous), frames we
/// write go out as they are. What the kernel sends on the interface itself is not read back. Reads and writes reuse
/// the caller's buffers: nothing is allocated per frame.
/// </summary>
/// <remarks>
/// A plain socket with one frame per call. <see cref="PacketRing"/> (a TPACKET_V3 ring) and <see cref="PacketBatch"/>
/// (recvmmsg) read the same socket in batches; <c>offload bench wire</c> measures the three side by side
/// (docs/control-plane.md): the ring costs the receiver least per frame, but at the model's speed (a few hundred
/// thousand frames per second at most) none of them is what limits a port, and this one gives timeouts, cancellation
/// and error mapping for free.
/// </remarks>
public sealed class PacketSocket : IDisposable
{
    private const int SolPacket = 263;
    private const int PacketAddMembership = 1;
    private const int PacketMrPromisc = 1;
    private const int PacketIgnoreOutgoing = 23;
    private const ushort EthPAll = 0x0003;

    private readonly Socket _socket;

    private PacketSocket(Socket socket, string name, int index)
    {
        _socket = socket;
        Interface = name;
        InterfaceIndex = index;
    }

    public string Interface { get; }

    public int InterfaceIndex { get; }

    /// <summary>Opens <paramref name="name"/> for raw frames, in promiscuous mode.</summary>
    /// <exception cref="DeviceException">No such interface, or not allowed (needs root or CAP_NET_RAW).</exception>
    public static PacketSocket Open(string name) => Open(name, null);

    /// <param name="name">The interface.</param>
    /// <param name="beforeBind">Socket options that must be set before the bind (a TPACKET ring).</param>
    internal static PacketSocket Open(string name, Action<Socket>? beforeBind)
    {
        ArgumentException.ThrowIfNullOrEmpty(name);
        if (name.Length > 15 || name.Contains('/', StringComparison.Ordinal) || name is "." or "..")
            throw new DeviceException(DeviceError.Absent, $"interface '{name}': not an interface name");
        string indexFile = $"/sys/class/net/{name}/ifindex";
        if (!File.Exists(indexFile))
            throw new DeviceException(DeviceError.Absent, $"interface '{name}': no such interface (ip link lists them)");
        int index = int.Parse(File.ReadAllText(indexFile).Trim(), NumberStyles.None, CultureInfo.InvariantCulture);
        Socket socket;
        try
        {
            socket = new Socket(AddressFamily.Packet, SocketType.Raw, (ProtocolType)BinaryPrimitives.ReverseEndianness(EthPAll));
        }
        catch (SocketException e) when (e.SocketErrorCode is SocketError.AccessDenied)
        {
            throw new DeviceException(DeviceError.PermissionDenied, $"interface '{name}': raw sockets need root or CAP_NET_RAW ({e.Message})", e);
        }
        try
        {
            beforeBind?.Invoke(socket);
            socket.Bind(new LinkEndPoint(index));
            Span<byte> mreq = stackalloc byte[16];
            mreq.Clear();
            BinaryPrimitives.WriteInt32LittleEndian(mreq, index);
            BinaryPrimitives.WriteUInt16LittleEndian(mreq[4..], PacketMrPromisc);
            socket.SetRawSocketOption(SolPacket, PacketAddMembership, mreq);
            Span<byte> one = stackalloc byte[4];
            BinaryPrimitives.WriteInt32LittleEndian(one, 1);
            socket.SetRawSocketOption(SolPacket, PacketIgnoreOutgoing, one);
            return new PacketSocket(socket, name, index);
        }
        catch (SocketException e)
        {
            socket.Dispose();
            throw new DeviceException(DeviceError.Other, $"interface '{name}': {e.Message}", e);
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }

    /// <summary>How long <see cref="Receive"/> waits before it returns 0 (so a reader can check for a stop).</summary>
    public TimeSpan ReceiveTimeout
    {
        get => TimeSpan.FromMilliseconds(_socket.ReceiveTimeout);
        set => _socket.ReceiveTimeout = (int)value.TotalMilliseconds;
    }

    /// <summary>
    /// Waits for the next frame; its full length (more than <paramref name="buffer"/> holds when it was cut short), or 0
    /// when none came within <see cref="ReceiveTimeout"/>.
    /// </summary>
    public int Receive(Span<byte> buffer)
    {
        // MSG_TRUNC: the kernel returns the frame's real length, so a frame longer than the buffer is seen as such.
        int n = _socket.Receive(buffer, SocketFlags.Truncated, out SocketError error);
        return error switch
        {
            SocketError.Success => n,
            SocketError.TimedOut or SocketError.WouldBlock or SocketError.Interrupted => 0,
            _ => throw new SocketException((int)error),
        };
    }

    /// <summary>Sends one frame (no FCS); false when the kernel had no room for it (counted by the caller as a drop).</summary>
    public bool Send(ReadOnlySpan<byte> frame)
    {
        int n = _socket.Send(frame, SocketFlags.None, out SocketError error);
        return error == SocketError.Success && n == frame.Length;
    }

    /// <summary>Frames the kernel dropped on this socket for want of room since the last call (PACKET_STATISTICS, which it then resets).</summary>
    public long TakeKernelDrops() => PacketRing.KernelDrops(_socket);

    /// <summary>The socket itself, for the batch readers of the same assembly.</summary>
    internal Socket Socket => _socket;

    public void Dispose() => _socket.Dispose();

    /// <summary>sockaddr_ll for bind: family, protocol ETH_P_ALL, the interface index.</summary>
    private sealed class LinkEndPoint(int index) : EndPoint
    {
        public override AddressFamily AddressFamily => AddressFamily.Packet;

        public override SocketAddress Serialize()
        {
            var a = new SocketAddress(AddressFamily.Packet, 20);
            a[2] = 0x00;
            a[3] = (byte)EthPAll;
            a[4] = (byte)index;
            a[5] = (byte)(index >> 8);
            a[6] = (byte)(index >> 16);
            a[7] = (byte)(index >> 24);
            return a;
        }
    }
}
