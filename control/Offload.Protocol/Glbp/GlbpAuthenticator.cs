using System.Buffers;
using System.Buffers.Binary;
using System.Security.Cryptography;

namespace Offload.Protocol.Glbp;

/// <summary>How a group authenticates its GLBP messages. <see cref="OffloadHmacSha256"/> is Offload's own.</summary>
public enum GlbpAuthMode
{
    None,
    PlainText,
    Md5KeyString,
    Md5KeyChain,

    /// <summary>
    /// Offload's HMAC-SHA256 TLV (type 0xF1), not a Cisco mode: only for groups made of Offload gateways, never
    /// the default. Cisco routers would see it as an unknown TLV and treat the message as unauthenticated.
    /// </summary>
    OffloadHmacSha256,
}

/// <summary>
/// A group's authentication settings: <see cref="Key"/> is the plain-text password or the MD5/HMAC key bytes;
/// <see cref="KeyId"/> is the key-chain key id (MD5) or our HMAC key id (16 bits). Default: no authentication.
/// </summary>
public readonly record struct GlbpAuthSettings(GlbpAuthMode Mode, ReadOnlyMemory<byte> Key, uint KeyId = 0)
{
    public static GlbpAuthSettings Disabled => default;
}

public enum GlbpAuthStatus
{
    Ok,
    /// <summary>The message's scheme differs from ours (including: we expect one, it carries none).</summary>
    ModeMismatch,
    /// <summary>Key-chain or HMAC key id differs from the configured one.</summary>
    KeyIdMismatch,
    TextMismatch,
    DigestMismatch,
}

/// <summary>
/// Signs and checks GLBP messages.
/// <para>
/// MD5 (key-string and key-chain): <see cref="KeyedMd5"/> over the message with the digest taken out and the
/// sender's 16-byte address block put in: bytes [0, digest) (header, then the Auth TLV up to the digest: type,
/// length, auth type, data length and, for key-chain, the key id), then the source IPv4 address followed by 12
/// zero bytes, then every byte after the Auth TLV (Hello, Request/Response and any other TLVs, whole). This is
/// how John the Ripper's glbp2john (written from Cisco IOS captures, key-chain mode) lays the data out; the
/// key-string variant is the same construction without the key id, which is inferred, not seen in a capture.
/// </para>
/// <para>
/// Offload HMAC-SHA256: HMAC-SHA256(key, source IPv4 address ‖ message with the 32 MAC bytes zeroed).
/// </para>
/// </summary>
public static class GlbpAuthenticator
{
    private const int AddressBlockLength = 16;
    private const int StackLimit = 512;

    /// <summary>Computes the MD5 digest of a decoded message whose Auth TLV is an MD5 type.</summary>
    public static void ComputeMd5(GlbpPacket packet, uint sourceIp, ReadOnlySpan<byte> key, Span<byte> digest)
    {
        GlbpAuth auth = packet.Auth;
        int digestOffset = packet.HasAuth ? auth.DigestOffset : -1;
        if (digestOffset < 0)
            throw new InvalidOperationException("the message has no MD5 Auth TLV");
        Span<byte> address = stackalloc byte[AddressBlockLength];
        address.Clear();
        BinaryPrimitives.WriteUInt32BigEndian(address, sourceIp);
        ReadOnlySpan<byte> bytes = packet.Bytes;
        KeyedMd5.Compute(key, bytes[..digestOffset], address, bytes[(auth.Offset + auth.TlvLength)..], digest);
    }

    /// <summary>Fills the digest of a message built with an MD5 Auth TLV (see <see cref="GlbpWriter"/>).</summary>
    public static void SignMd5(Span<byte> message, uint sourceIp, ReadOnlySpan<byte> key)
    {
        GlbpPacket packet = DecodeOwn(message);
        Span<byte> digest = stackalloc byte[KeyedMd5.DigestLength];
        ComputeMd5(packet, sourceIp, key, digest);
        digest.CopyTo(message[packet.Auth.DigestOffset..]);
    }

    public static void ComputeOffload(GlbpPacket packet, uint sourceIp, ReadOnlySpan<byte> key, Span<byte> mac)
    {
        if (!packet.HasOffloadAuth)
            throw new InvalidOperationException("the message has no Offload HMAC TLV");
        ReadOnlySpan<byte> bytes = packet.Bytes;
        int macAt = packet.OffloadAuth.Offset + GlbpOffloadAuth.MacOffset;
        int total = 4 + bytes.Length;
        byte[]? rented = null;
        Span<byte> buffer = total <= StackLimit ? stackalloc byte[StackLimit] : (rented = ArrayPool<byte>.Shared.Rent(total));
        try
        {
            Span<byte> input = buffer[..total];
            BinaryPrimitives.WriteUInt32BigEndian(input, sourceIp);
            bytes.CopyTo(input[4..]);
            input.Slice(4 + macAt, GlbpOffloadAuth.MacLength).Clear();
            HMACSHA256.HashData(key, input, mac);
        }
        finally
        {
            if (rented is not null)
                ArrayPool<byte>.Shared.Return(rented);
        }
    }

    /// <summary>Fills the MAC of a message built with <see cref="GlbpWriter.WriteOffloadAuth"/>.</summary>
    public static void SignOffload(Span<byte> message, uint sourceIp, ReadOnlySpan<byte> key)
    {
        GlbpPacket packet = DecodeOwn(message);
        Span<byte> mac = stackalloc byte[GlbpOffloadAuth.MacLength];
        ComputeOffload(packet, sourceIp, key, mac);
        mac.CopyTo(message[(packet.OffloadAuth.Offset + GlbpOffloadAuth.MacOffset)..]);
    }

    /// <summary>
    /// Checks a decoded message against a group's settings, as Cisco does: the scheme must match, then the
    /// text or digest. Comparisons run in constant time. Replay checks on the HMAC sequence are the caller's.
    /// </summary>
    public static GlbpAuthStatus Verify(GlbpPacket packet, uint sourceIp, in GlbpAuthSettings settings)
    {
        GlbpAuthType? cisco = packet.HasAuth ? packet.Auth.Type : null;
        ReadOnlySpan<byte> key = settings.Key.Span;
        switch (settings.Mode)
        {
            case GlbpAuthMode.None:
                return packet.HasOffloadAuth || (cisco is not null && cisco != GlbpAuthType.None) ? GlbpAuthStatus.ModeMismatch : GlbpAuthStatus.Ok;
            case GlbpAuthMode.PlainText:
                if (cisco != GlbpAuthType.PlainText || packet.HasOffloadAuth)
                    return GlbpAuthStatus.ModeMismatch;
                return CryptographicOperations.FixedTimeEquals(packet.Auth.Text, key) ? GlbpAuthStatus.Ok : GlbpAuthStatus.TextMismatch;
            case GlbpAuthMode.Md5KeyString:
            case GlbpAuthMode.Md5KeyChain:
                {
                    var want = settings.Mode == GlbpAuthMode.Md5KeyString ? GlbpAuthType.Md5KeyString : GlbpAuthType.Md5KeyChain;
                    if (cisco != want || packet.HasOffloadAuth)
                        return GlbpAuthStatus.ModeMismatch;
                    if (want == GlbpAuthType.Md5KeyChain && packet.Auth.KeyId != settings.KeyId)
                        return GlbpAuthStatus.KeyIdMismatch;
                    Span<byte> digest = stackalloc byte[KeyedMd5.DigestLength];
                    ComputeMd5(packet, sourceIp, key, digest);
                    return CryptographicOperations.FixedTimeEquals(digest, packet.Auth.Digest) ? GlbpAuthStatus.Ok : GlbpAuthStatus.DigestMismatch;
                }
            case GlbpAuthMode.OffloadHmacSha256:
                {
                    if (!packet.HasOffloadAuth || cisco is not null)
                        return GlbpAuthStatus.ModeMismatch;
                    if (packet.OffloadAuth.KeyId != settings.KeyId)
                        return GlbpAuthStatus.KeyIdMismatch;
                    Span<byte> mac = stackalloc byte[GlbpOffloadAuth.MacLength];
                    ComputeOffload(packet, sourceIp, key, mac);
                    return CryptographicOperations.FixedTimeEquals(mac, packet.OffloadAuth.Mac) ? GlbpAuthStatus.Ok : GlbpAuthStatus.DigestMismatch;
                }
            default:
                return GlbpAuthStatus.ModeMismatch;
        }
    }

    private static GlbpPacket DecodeOwn(ReadOnlySpan<byte> message)
    {
        GlbpResult result = GlbpPacket.TryDecode(message, out GlbpPacket packet);
        if (!result.IsOk)
            throw new ArgumentException("cannot sign a malformed GLBP message: " + result.Message, nameof(message));
        return packet;
    }
}
