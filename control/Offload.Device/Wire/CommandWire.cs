using System.Buffers.Binary;

namespace Offload.Device.Wire;

/// <summary>A command's operation on the register bus.</summary>
public enum WireOp : byte
{
    /// <summary>Writes count words to address, address + 4, … (a table).</summary>
    Write = 1,

    /// <summary>Reads count words from address, address + 4, ….</summary>
    Read = 2,

    /// <summary>Writes count words to the same address (a FIFO port such as HOST_TX_DATA or SLOT_DATA).</summary>
    WriteFixed = 3,

    /// <summary>Reads count words from the same address (HOST_RX_DATA).</summary>
    ReadFixed = 4,
}

/// <summary>What a response says of its request.</summary>
public enum WireStatus : byte
{
    Ok = 0,

    /// <summary>The request broke the framing; nothing in it ran.</summary>
    Malformed = 1,

    /// <summary>The request's version is not one the device speaks; nothing ran.</summary>
    UnsupportedVersion = 2,

    /// <summary>The request's sequence number is not the one after the last; nothing ran.</summary>
    SequenceGap = 3,

    /// <summary>A register access got no acknowledgement; the batch stopped there (<c>completed</c> ops ran).</summary>
    NoAck = 4,

    /// <summary>The request asks for more than one exchange may carry; nothing ran.</summary>
    TooLarge = 5,

    /// <summary>The device behind the server refused the batch (absent, an address it lacks); how much ran is not known.</summary>
    DeviceFailed = 6,
}

/// <summary>
/// The one command framing of every transport that is not in-process (TCP today, the USB-to-SPI bridge next):
/// a request carries a sequence number and a run of commands (op, count, address, data), a response echoes the
/// sequence number with a status and the words read. All fields big-endian. Layout in docs/dataplane.md,
/// "Command framing".
/// </summary>
/// <remarks>
/// A batch of <see cref="CsrOp"/> becomes as few commands as it can: consecutive accesses of one kind to
/// consecutive addresses become one <see cref="WireOp.Write"/>/<see cref="WireOp.Read"/>, to one address one
/// <see cref="WireOp.WriteFixed"/>/<see cref="WireOp.ReadFixed"/>, so a host frame or a slot table is one command.
/// Every size is bounded, so a reader never takes more than <see cref="MaxMessage"/> bytes on a peer's word.
/// </remarks>
public static class CommandWire
{
    public const ushort RequestMagic = 0x4F43; // "OC"
    public const ushort ResponseMagic = 0x4F52; // "OR"
    public const byte Version = 1;
    public const int RequestHeaderLength = 12;
    public const int CommandHeaderLength = 8;
    public const int ResponseHeaderLength = 16;

    /// <summary>Largest request or response, bytes (what a reader accepts at most).</summary>
    public const int MaxMessage = 1 << 20;

    /// <summary>Register accesses one request may ask for (bounds the response to 256 KiB of read data).</summary>
    public const int MaxOps = 65536;

    /// <summary>Largest request an encoder writes: leaves room under <see cref="MaxMessage"/> for any response.</summary>
    public const int MaxRequest = 512 * 1024;

    /// <summary>
    /// Writes as many of <paramref name="ops"/> as fit (at most <see cref="MaxOps"/>, at most
    /// <paramref name="buffer"/>'s length) as one request.
    /// </summary>
    /// <returns>The request's length in bytes; <paramref name="consumed"/> says how many ops it carries.</returns>
    public static int EncodeRequest(ReadOnlySpan<CsrOp> ops, uint sequence, Span<byte> buffer, out int consumed)
    {
        if (buffer.Length < RequestHeaderLength + CommandHeaderLength + 4)
            throw new ArgumentException("the buffer cannot hold one command", nameof(buffer));
        int pos = RequestHeaderLength;
        int commands = 0;
        int i = 0;
        int limit = Math.Min(ops.Length, MaxOps);
        while (i < limit && commands < ushort.MaxValue)
        {
            var first = ops[i];
            bool read = first.Kind == CsrOpKind.Read;
            // The run's shape comes from its second op: same address (a FIFO port) or the next one (a table).
            bool isFixed = i + 1 < limit && ops[i + 1].Kind == first.Kind && ops[i + 1].Address == first.Address;
            uint step = isFixed ? 0u : 4u;
            int n = 1;
            while (i + n < limit && n < ushort.MaxValue && ops[i + n].Kind == first.Kind
                && ops[i + n].Address == first.Address + (step * (uint)n))
                n++;
            int room = buffer.Length - pos - CommandHeaderLength;
            if (!read)
                n = Math.Min(n, room / 4);
            if (n <= 0 || room < 0)
                break;
            var op = read ? (isFixed ? WireOp.ReadFixed : WireOp.Read) : (isFixed ? WireOp.WriteFixed : WireOp.Write);
            buffer[pos] = (byte)op;
            buffer[pos + 1] = 0;
            BinaryPrimitives.WriteUInt16BigEndian(buffer[(pos + 2)..], (ushort)n);
            BinaryPrimitives.WriteUInt32BigEndian(buffer[(pos + 4)..], first.Address);
            pos += CommandHeaderLength;
            if (!read)
            {
                for (int k = 0; k < n; k++, pos += 4)
                    BinaryPrimitives.WriteUInt32BigEndian(buffer[pos..], ops[i + k].Value);
            }
            i += n;
            commands++;
        }
        BinaryPrimitives.WriteUInt16BigEndian(buffer, RequestMagic);
        buffer[2] = Version;
        buffer[3] = 0;
        BinaryPrimitives.WriteUInt32BigEndian(buffer[4..], sequence);
        BinaryPrimitives.WriteUInt16BigEndian(buffer[8..], (ushort)commands);
        BinaryPrimitives.WriteUInt16BigEndian(buffer[10..], 0);
        consumed = i;
        return pos;
    }

    /// <summary>
    /// Reads a request into register accesses. Nothing is taken on trust: every length is checked against the
    /// message before it is used.
    /// </summary>
    /// <param name="request">The whole request.</param>
    /// <param name="ops">Receives the accesses; must hold <see cref="MaxOps"/>.</param>
    /// <param name="sequence">The request's sequence number (valid whenever the header was).</param>
    /// <param name="count">How many accesses were written to <paramref name="ops"/>.</param>
    /// <param name="error">Why the request was refused.</param>
    public static WireStatus DecodeRequest(ReadOnlySpan<byte> request, Span<CsrOp> ops, out uint sequence, out int count, out string error)
    {
        sequence = 0;
        count = 0;
        error = "";
        if (request.Length < RequestHeaderLength)
        {
            error = $"a request is at least {RequestHeaderLength} bytes, got {request.Length}";
            return WireStatus.Malformed;
        }
        if (BinaryPrimitives.ReadUInt16BigEndian(request) != RequestMagic)
        {
            error = $"bad magic 0x{BinaryPrimitives.ReadUInt16BigEndian(request):X4}";
            return WireStatus.Malformed;
        }
        sequence = BinaryPrimitives.ReadUInt32BigEndian(request[4..]);
        if (request[2] != Version)
        {
            error = $"version {request[2]}, this end speaks {Version}";
            return WireStatus.UnsupportedVersion;
        }
        int commands = BinaryPrimitives.ReadUInt16BigEndian(request[8..]);
        int pos = RequestHeaderLength;
        for (int c = 0; c < commands; c++)
        {
            if (request.Length - pos < CommandHeaderLength)
            {
                error = $"command {c} at byte {pos}: the request ends inside its header";
                return WireStatus.Malformed;
            }
            var op = (WireOp)request[pos];
            int n = BinaryPrimitives.ReadUInt16BigEndian(request[(pos + 2)..]);
            uint address = BinaryPrimitives.ReadUInt32BigEndian(request[(pos + 4)..]);
            if (op is < WireOp.Write or > WireOp.ReadFixed || request[pos + 1] != 0 || n == 0)
            {
                error = $"command {c} at byte {pos}: op {(byte)op}, count {n} is not a command";
                return WireStatus.Malformed;
            }
            if (count + n > ops.Length || count + n > MaxOps)
            {
                error = $"command {c}: more than {MaxOps} register accesses in one request";
                return WireStatus.TooLarge;
            }
            pos += CommandHeaderLength;
            bool write = op is WireOp.Write or WireOp.WriteFixed;
            uint step = op is WireOp.Write or WireOp.Read ? 4u : 0u;
            if (write && request.Length - pos < 4 * n)
            {
                error = $"command {c}: {n} words to write, the request ends after {(request.Length - pos) / 4}";
                return WireStatus.Malformed;
            }
            for (int k = 0; k < n; k++)
            {
                uint a = address + (step * (uint)k);
                if (write)
                {
                    ops[count++] = CsrOp.Write(a, BinaryPrimitives.ReadUInt32BigEndian(request[pos..]));
                    pos += 4;
                }
                else
                {
                    ops[count++] = CsrOp.Read(a);
                }
            }
        }
        if (pos != request.Length)
        {
            error = $"{request.Length - pos} byte(s) after the last of {commands} command(s)";
            count = 0;
            return WireStatus.Malformed;
        }
        return WireStatus.Ok;
    }

    /// <summary>Writes a response: header, then the words the reads of <paramref name="ops"/> returned, in order.</summary>
    public static int EncodeResponse(WireStatus status, uint sequence, ReadOnlySpan<CsrOp> ops, ReadOnlySpan<uint> results, int completed, Span<byte> buffer)
    {
        int pos = ResponseHeaderLength;
        int words = 0;
        if (status is WireStatus.Ok)
        {
            for (int i = 0; i < ops.Length; i++)
            {
                if (ops[i].Kind != CsrOpKind.Read)
                    continue;
                BinaryPrimitives.WriteUInt32BigEndian(buffer[pos..], results[i]);
                pos += 4;
                words++;
            }
        }
        BinaryPrimitives.WriteUInt16BigEndian(buffer, ResponseMagic);
        buffer[2] = Version;
        buffer[3] = (byte)status;
        BinaryPrimitives.WriteUInt32BigEndian(buffer[4..], sequence);
        BinaryPrimitives.WriteUInt32BigEndian(buffer[8..], (uint)completed);
        BinaryPrimitives.WriteUInt32BigEndian(buffer[12..], (uint)words);
        return pos;
    }

    /// <summary>
    /// Checks a response against the request it answers and copies what it read into <paramref name="results"/>
    /// (index by op, 0 for writes; empty when the caller wants nothing back).
    /// </summary>
    /// <exception cref="DeviceException">The response is malformed, answers another request, or reports a failure.</exception>
    public static void DecodeResponse(ReadOnlySpan<byte> response, uint sequence, ReadOnlySpan<CsrOp> ops, Span<uint> results, string peer)
    {
        if (response.Length < ResponseHeaderLength || BinaryPrimitives.ReadUInt16BigEndian(response) != ResponseMagic || response[2] != Version)
            throw new DeviceException(DeviceError.Protocol, $"{peer}: the answer is not a version-{Version} command response ({response.Length} bytes)");
        uint got = BinaryPrimitives.ReadUInt32BigEndian(response[4..]);
        var status = (WireStatus)response[3];
        if (got != sequence)
            throw new DeviceException(DeviceError.SequenceGap, $"{peer}: sequence gap: sent request {sequence}, the answer is to {got}");
        if (status != WireStatus.Ok)
        {
            var kind = status switch
            {
                WireStatus.NoAck => DeviceError.Timeout,
                WireStatus.SequenceGap => DeviceError.SequenceGap,
                WireStatus.DeviceFailed => DeviceError.Other,
                _ => DeviceError.Protocol,
            };
            uint done = BinaryPrimitives.ReadUInt32BigEndian(response[8..]);
            throw new DeviceException(kind, $"{peer}: request {sequence} failed: {Describe(status)} ({done} of {ops.Length} access(es) ran)");
        }
        int words = (int)Math.Min(BinaryPrimitives.ReadUInt32BigEndian(response[12..]), int.MaxValue);
        int reads = 0;
        foreach (var op in ops)
        {
            if (op.Kind == CsrOpKind.Read)
                reads++;
        }
        if (words != reads || response.Length != ResponseHeaderLength + (4 * words))
            throw new DeviceException(DeviceError.Protocol, $"{peer}: request {sequence} read {reads} word(s), the answer carries {words} in {response.Length} bytes");
        if (results.IsEmpty)
            return;
        int w = ResponseHeaderLength;
        for (int i = 0; i < ops.Length; i++)
        {
            if (ops[i].Kind == CsrOpKind.Read)
            {
                results[i] = BinaryPrimitives.ReadUInt32BigEndian(response[w..]);
                w += 4;
            }
            else
            {
                results[i] = 0;
            }
        }
    }

    public static string Describe(WireStatus status) => status switch
    {
        WireStatus.Ok => "ok",
        WireStatus.Malformed => "the device found the request malformed",
        WireStatus.UnsupportedVersion => "the device speaks another framing version",
        WireStatus.SequenceGap => "the device expected another sequence number (a request was lost)",
        WireStatus.NoAck => "a register access got no acknowledgement",
        WireStatus.TooLarge => "the request was larger than the device takes",
        WireStatus.DeviceFailed => "the device behind the server failed",
        _ => $"status {(byte)status}",
    };
}
