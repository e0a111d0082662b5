using System.Buffers.Binary;
using System.Net.Sockets;
using System.Runtime.InteropServices;

namespace Offload.Device.Ports;

/// <summary>What a batch reader saw: frames handed over, and what the kernel dropped for want of room.</summary>
public readonly record struct PacketReadStats(long Frames, long KernelDrops, long SystemCalls);

/// <summary>
/// The receive side of an AF_PACKET socket read through a TPACKET_V3 ring: the kernel writes frames into blocks of a
/// memory region both share, and hands a block over when it is full or its retire time passed; the reader walks the
/// block in place and gives it back. One <c>poll</c> per block instead of one system call per frame, and no copy
/// out of the kernel. Promiscuous and blind to our own transmissions, as <see cref="PacketSocket"/> is.
/// </summary>
/// <remarks>
/// Layouts from linux/if_packet.h (tpacket_req3, tpacket_block_desc, tpacket3_hdr), the same on every 64-bit Linux.
/// Not thread-safe: one reader.
/// </remarks>
public sealed unsafe partial class PacketRing : IDisposable
{
    private const int SolPacket = 263;
    private const int PacketRxRing = 5;
    private const int PacketStatistics = 6;
    private const int PacketVersion = 10;
    private const int TpacketV3 = 2;
    private const uint TpStatusUser = 1;
    private const short PollIn = 0x001;
    private const short PollErr = 0x008;

    private readonly PacketSocket _socket;
    private readonly byte* _map;
    private readonly nuint _mapLength;
    private readonly int _blockSize;
    private readonly int _blocks;
    private int _block;
    private long _frames;
    private long _drops;
    private long _calls;
    private bool _disposed;

    private PacketRing(PacketSocket socket, byte* map, nuint length, int blockSize, int blocks)
    {
        _socket = socket;
        _map = map;
        _mapLength = length;
        _blockSize = blockSize;
        _blocks = blocks;
    }

    public string Interface => _socket.Interface;

    /// <summary>Opens <paramref name="name"/> with a ring of <paramref name="blocks"/> blocks of <paramref name="blockSize"/> bytes.</summary>
    /// <param name="retire">How long the kernel keeps a block that is not full before it hands it over anyway.</param>
    /// <exception cref="DeviceException">No such interface, not allowed, or the kernel refused the ring.</exception>
    public static PacketRing Open(string name, int blockSize = 1 << 20, int blocks = 8, TimeSpan? retire = null)
    {
        if (!Environment.Is64BitProcess)
            throw new PlatformNotSupportedException("the ring's layouts are those of 64-bit Linux");
        if (blockSize < 4096 || (blockSize & (blockSize - 1)) != 0)
            throw new ArgumentOutOfRangeException(nameof(blockSize), blockSize, "a power of two of at least a page");
        ArgumentOutOfRangeException.ThrowIfLessThan(blocks, 1);
        int retireMs = (int)Math.Clamp((retire ?? TimeSpan.FromMilliseconds(1)).TotalMilliseconds, 1, 1000);
        var socket = PacketSocket.Open(name, s =>
        {
            Span<byte> v = stackalloc byte[4];
            BinaryPrimitives.WriteInt32LittleEndian(v, TpacketV3);
            s.SetRawSocketOption(SolPacket, PacketVersion, v);
            // tpacket_req3: block size and count, frame size and count (V3 packs frames, the two only have to agree),
            // the retire timeout in ms, no private area, no features.
            Span<byte> req = stackalloc byte[28];
            req.Clear();
            BinaryPrimitives.WriteInt32LittleEndian(req, blockSize);
            BinaryPrimitives.WriteInt32LittleEndian(req[4..], blocks);
            BinaryPrimitives.WriteInt32LittleEndian(req[8..], 2048);
            BinaryPrimitives.WriteInt32LittleEndian(req[12..], blockSize / 2048 * blocks);
            BinaryPrimitives.WriteInt32LittleEndian(req[16..], retireMs);
            s.SetRawSocketOption(SolPacket, PacketRxRing, req);
        });
        nuint length = (nuint)blockSize * (nuint)blocks;
        void* map = Mmap(null, length, 3 /* PROT_READ | PROT_WRITE */, 1 /* MAP_SHARED */, Fd(socket.Socket), 0);
        if (map == (void*)-1)
        {
            int errno = Marshal.GetLastPInvokeError();
            socket.Dispose();
            throw new DeviceException(DeviceError.Other, $"interface '{name}': mmap of the {length}-byte TPACKET_V3 ring failed (errno {errno})");
        }
        return new PacketRing(socket, (byte*)map, length, blockSize, blocks);
    }

    /// <summary>
    /// Hands every frame of the next ready block to <paramref name="onFrame"/> (its bytes as the ring holds them, valid
    /// only during the call, and its length on the wire), then gives the block back. Waits up to
    /// <paramref name="timeout"/> for a block; returns the frames handed over (0 when none came).
    /// </summary>
    public int Read(FrameHandler onFrame, TimeSpan timeout)
    {
        ArgumentNullException.ThrowIfNull(onFrame);
        ObjectDisposedException.ThrowIf(_disposed, this);
        byte* block = _map + ((nint)_block * _blockSize);
        ref uint status = ref *(uint*)(block + 8);
        if ((Volatile.Read(ref status) & TpStatusUser) == 0)
        {
            PollFd fd = new() { Fd = Fd(_socket.Socket), Events = PollIn | PollErr };
            _calls++;
            Poll(&fd, 1, (int)timeout.TotalMilliseconds);
            if ((Volatile.Read(ref status) & TpStatusUser) == 0)
                return 0;
        }
        int count = (int)*(uint*)(block + 12);
        byte* packet = block + *(uint*)(block + 16);
        for (int i = 0; i < count; i++)
        {
            uint next = *(uint*)packet;
            uint snap = *(uint*)(packet + 12);
            uint wire = *(uint*)(packet + 16);
            ushort mac = *(ushort*)(packet + 24);
            onFrame(new ReadOnlySpan<byte>(packet + mac, (int)snap), (int)wire);
            packet += next;
        }
        // Back to the kernel only after the last read of its contents.
        Volatile.Write(ref status, 0);
        _block = (_block + 1) % _blocks;
        _frames += count;
        return count;
    }

    /// <summary>Frames read, the kernel's drops since the last call (PACKET_STATISTICS, which it then resets) added up, and system calls made.</summary>
    public PacketReadStats Stats()
    {
        _drops += KernelDrops(_socket.Socket);
        _calls++;
        return new PacketReadStats(_frames, _drops, _calls);
    }

    public void Dispose()
    {
        if (_disposed)
            return;
        _disposed = true;
        Munmap(_map, _mapLength);
        _socket.Dispose();
    }

    internal static int Fd(Socket socket) => (int)socket.SafeHandle.DangerousGetHandle();

    // tpacket_stats(_v3): packets, drops (and, for V3, queue freezes); reading resets them.
    internal static long KernelDrops(Socket socket)
    {
        Span<byte> stats = stackalloc byte[12];
        int n = socket.GetRawSocketOption(SolPacket, PacketStatistics, stats);
        return n >= 8 ? BinaryPrimitives.ReadUInt32LittleEndian(stats[4..]) : 0;
    }

    /// <summary>Takes one frame in place: its captured bytes and its length on the wire.</summary>
    public delegate void FrameHandler(ReadOnlySpan<byte> frame, int wireLength);

    [StructLayout(LayoutKind.Sequential)]
    internal struct PollFd
    {
        public int Fd;
        public short Events;
        public short Revents;
    }

    [LibraryImport("libc", EntryPoint = "mmap", SetLastError = true)]
    private static partial void* Mmap(void* address, nuint length, int protection, int flags, int fd, nint offset);

    [LibraryImport("libc", EntryPoint = "munmap")]
    private static partial int Munmap(void* address, nuint length);

    [LibraryImport("libc", EntryPoint = "poll")]
    internal static partial int Poll(PollFd* fds, nuint count, int timeoutMs);
}

/// <summary>
/// The receive side of an AF_PACKET socket read with <c>recvmmsg</c>: up to <see cref="BatchSize"/> frames per system
/// call into buffers allocated once, after a <c>poll</c> when none is waiting.
/// </summary>
/// <remarks>Layouts of struct mmsghdr/msghdr/iovec on 64-bit Linux. Not thread-safe: one reader.</remarks>
public sealed unsafe partial class PacketBatch : IDisposable
{
    private const int MsgDontWait = 0x40;
    private const int MsgTrunc = 0x20;
    private const int MmsgHdrBytes = 64;
    private const int IovecBytes = 16;
    private const short PollIn = 0x001;

    private readonly PacketSocket _socket;
    private readonly byte* _headers;
    private readonly byte* _iovecs;
    private readonly byte* _buffers;
    private readonly int _frameBytes;
    private long _frames;
    private long _drops;
    private long _calls;
    private bool _disposed;

    private PacketBatch(PacketSocket socket, int batch, int frameBytes)
    {
        _socket = socket;
        BatchSize = batch;
        _frameBytes = frameBytes;
        _headers = (byte*)NativeMemory.AllocZeroed((nuint)(batch * MmsgHdrBytes));
        _iovecs = (byte*)NativeMemory.AllocZeroed((nuint)(batch * IovecBytes));
        _buffers = (byte*)NativeMemory.Alloc((nuint)batch * (nuint)frameBytes);
        for (int i = 0; i < batch; i++)
        {
            byte* iov = _iovecs + (i * IovecBytes);
            *(byte**)iov = _buffers + ((nint)i * frameBytes);
            *(nuint*)(iov + 8) = (nuint)frameBytes;
            byte* h = _headers + (i * MmsgHdrBytes);
            *(byte**)(h + 16) = iov;    // msg_iov
            *(nuint*)(h + 24) = 1;      // msg_iovlen
        }
    }

    public int BatchSize { get; }

    public string Interface => _socket.Interface;

    /// <summary>Opens <paramref name="name"/> for batches of <paramref name="batch"/> frames of up to <paramref name="frameBytes"/> bytes.</summary>
    public static PacketBatch Open(string name, int batch = 64, int frameBytes = 2048)
    {
        if (!Environment.Is64BitProcess)
            throw new PlatformNotSupportedException("the batch's layouts are those of 64-bit Linux");
        ArgumentOutOfRangeException.ThrowIfLessThan(batch, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(batch, 1024);
        ArgumentOutOfRangeException.ThrowIfLessThan(frameBytes, 64);
        return new PacketBatch(PacketSocket.Open(name), batch, frameBytes);
    }

    /// <summary>
    /// Hands the frames waiting (up to <see cref="BatchSize"/>) to <paramref name="onFrame"/>, each valid only during
    /// the call with its length on the wire; waits up to <paramref name="timeout"/> when none is. Returns how many.
    /// </summary>
    public int Read(PacketRing.FrameHandler onFrame, TimeSpan timeout)
    {
        ArgumentNullException.ThrowIfNull(onFrame);
        ObjectDisposedException.ThrowIf(_disposed, this);
        int fd = PacketRing.Fd(_socket.Socket);
        _calls++;
        int n = RecvMmsg(fd, _headers, (uint)BatchSize, MsgDontWait | MsgTrunc, null);
        if (n <= 0)
        {
            PacketRing.PollFd p = new() { Fd = fd, Events = PollIn };
            _calls += 2;
            if (PacketRing.Poll(&p, 1, (int)timeout.TotalMilliseconds) <= 0)
                return 0;
            n = RecvMmsg(fd, _headers, (uint)BatchSize, MsgDontWait | MsgTrunc, null);
            if (n <= 0)
                return 0;
        }
        for (int i = 0; i < n; i++)
        {
            int wire = (int)*(uint*)(_headers + (i * MmsgHdrBytes) + 56);   // msg_len: the real length under MSG_TRUNC
            onFrame(new ReadOnlySpan<byte>(_buffers + ((nint)i * _frameBytes), Math.Min(wire, _frameBytes)), wire);
        }
        _frames += n;
        return n;
    }

    /// <summary>Frames read, the kernel's drops added up, and system calls made.</summary>
    public PacketReadStats Stats()
    {
        _drops += PacketRing.KernelDrops(_socket.Socket);
        _calls++;
        return new PacketReadStats(_frames, _drops, _calls);
    }

    public void Dispose()
    {
        if (_disposed)
            return;
        _disposed = true;
        _socket.Dispose();
        NativeMemory.Free(_headers);
        NativeMemory.Free(_iovecs);
        NativeMemory.Free(_buffers);
    }

    [LibraryImport("libc", EntryPoint = "recvmmsg")]
    private static partial int RecvMmsg(int fd, byte* messages, uint count, int flags, void* timeout);
}
