using System.Buffers.Binary;

namespace Offload.Protocol.Glbp;

/// <summary>
/// Builds a GLBP message into a caller's span, TLV by TLV, in the order Cisco sends them: authentication first
/// (MD5 digests cover the bytes around it, see <see cref="GlbpAuthenticator"/>), then Hello, then one
/// Request/Response per forwarder. MD5 and HMAC fields are written as zeros; sign the finished message.
/// A too-small span or a bad argument is a programming error and throws, as in <see cref="FrameBuilder"/>.
/// </summary>
public ref struct GlbpWriter
{
    private readonly Span<byte> _buffer;
    private int _length;

    public GlbpWriter(Span<byte> buffer, in GlbpHeader header)
    {
        ArgumentOutOfRangeException.ThrowIfGreaterThan(header.Group, GlbpProtocol.MaxGroup);
        _buffer = buffer;
        Need(GlbpProtocol.HeaderLength);
        header.WriteTo(buffer);
        _length = GlbpProtocol.HeaderLength;
    }

    public readonly int Length => _length;

    public readonly ReadOnlySpan<byte> Written => _buffer[.._length];

    public void WriteAuthNone() => WriteAuth(GlbpAuthType.None, 0);

    /// <summary>Plain-text authentication; Cisco limits the string to 255 bytes, the data-length byte's range.</summary>
    public void WriteAuthText(ReadOnlySpan<byte> text)
    {
        ArgumentOutOfRangeException.ThrowIfGreaterThan(text.Length, 255 - GlbpAuth.FixedLength);
        Span<byte> data = WriteAuth(GlbpAuthType.PlainText, text.Length);
        text.CopyTo(data);
    }

    /// <summary>MD5 key-string authentication: a zero digest to be filled by <see cref="GlbpAuthenticator.SignMd5"/>.</summary>
    public void WriteAuthMd5KeyString() => WriteAuth(GlbpAuthType.Md5KeyString, GlbpAuth.DigestLength);

    /// <summary>MD5 key-chain authentication: the key id, then a zero digest.</summary>
    public void WriteAuthMd5KeyChain(uint keyId)
    {
        Span<byte> data = WriteAuth(GlbpAuthType.Md5KeyChain, 4 + GlbpAuth.DigestLength);
        BinaryPrimitives.WriteUInt32BigEndian(data, keyId);
    }

    /// <summary>Offload's HMAC-SHA256 TLV with a zero MAC, to be filled by <see cref="GlbpAuthenticator.SignOffload"/>.</summary>
    public void WriteOffloadAuth(ushort keyId, uint sequence)
    {
        RequireFirst();
        Span<byte> t = Take(GlbpOffloadAuth.Length);
        t.Clear();
        t[0] = GlbpTlvType.OffloadHmac;
        t[1] = GlbpOffloadAuth.Length;
        t[2] = GlbpOffloadAuth.AlgorithmHmacSha256;
        BinaryPrimitives.WriteUInt16BigEndian(t[4..], keyId);
        BinaryPrimitives.WriteUInt32BigEndian(t[6..], sequence);
    }

    public void WriteHello(in GlbpHello hello) => hello.WriteTo(Take(GlbpHello.Ipv4Length));

    public void WriteForwarder(in GlbpForwarder forwarder) => forwarder.WriteTo(Take(GlbpForwarder.Length));

    /// <summary>Offload's load TLV for one forwarder (ours; Cisco and Wireshark skip it as unknown).</summary>
    public void WriteOffloadLoad(in GlbpOffloadLoad load) => load.WriteTo(Take(GlbpOffloadLoad.Length));

    /// <summary>Offload's owner TLV for one forwarder (ours; Cisco and Wireshark skip it as unknown).</summary>
    public void WriteOffloadOwner(in GlbpOffloadOwner owner) => owner.WriteTo(Take(GlbpOffloadOwner.Length));

    /// <summary>Any TLV by type and value (tests, and TLVs we pass through without understanding).</summary>
    public void WriteTlv(byte type, ReadOnlySpan<byte> value)
    {
        ArgumentOutOfRangeException.ThrowIfGreaterThan(value.Length, 255 - GlbpProtocol.TlvHeaderLength);
        Span<byte> t = Take(GlbpProtocol.TlvHeaderLength + value.Length);
        t[0] = type;
        t[1] = (byte)t.Length;
        value.CopyTo(t[2..]);
    }

    private Span<byte> WriteAuth(GlbpAuthType type, int dataLength)
    {
        RequireFirst();
        Span<byte> t = Take(GlbpAuth.FixedLength + dataLength);
        t.Clear();
        t[0] = GlbpTlvType.Auth;
        t[1] = (byte)t.Length;
        t[2] = (byte)type;
        t[3] = (byte)dataLength;
        return t[GlbpAuth.FixedLength..];
    }

    // The MD5 construction inserts the sender's address right after the Auth TLV, and the one public model of it
    // (John the Ripper's glbp2john, written from Cisco captures) expects that TLV at offset 12, right after the
    // header; putting it anywhere else would produce digests no Cisco router is known to compute.
    private readonly void RequireFirst()
    {
        if (_length != GlbpProtocol.HeaderLength)
            throw new InvalidOperationException("the authentication TLV must be the first TLV");
    }

    private Span<byte> Take(int length)
    {
        Need(_length + length);
        if (_length + length > GlbpProtocol.MaxLength)
            throw new InvalidOperationException($"a GLBP message is limited to {GlbpProtocol.MaxLength} bytes");
        Span<byte> s = _buffer.Slice(_length, length);
        _length += length;
        return s;
    }

    private readonly void Need(int length)
    {
        if (_buffer.Length < length)
            throw new ArgumentException($"the GLBP message needs {length} bytes, the span has {_buffer.Length}");
    }
}
