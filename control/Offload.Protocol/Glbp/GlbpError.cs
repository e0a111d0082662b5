namespace Offload.Protocol.Glbp;

/// <summary>Why a GLBP message was rejected. Every malformed input maps to exactly one of these.</summary>
public enum GlbpError
{
    None = 0,
    /// <summary>Fewer than 12 bytes: no room for the header.</summary>
    TooShort,
    /// <summary>Larger than <see cref="GlbpProtocol.MaxLength"/>.</summary>
    TooLong,
    /// <summary>Version byte other than 1.</summary>
    UnsupportedVersion,
    /// <summary>Group number above 1023 (the vMAC has 10 bits for it).</summary>
    GroupOutOfRange,
    /// <summary>One byte left after the last TLV: a TLV header needs two.</summary>
    TlvHeaderTruncated,
    /// <summary>TLV length below 2 (the length counts the type and length bytes), which would never advance.</summary>
    TlvLengthTooSmall,
    /// <summary>TLV length of exactly 2: a TLV with no value (Wireshark flags it "zero or negative length").</summary>
    EmptyTlv,
    /// <summary>TLV length runs past the end of the message.</summary>
    TlvPastEnd,
    /// <summary>Hello TLV shorter than its fixed 24 bytes.</summary>
    HelloTooShort,
    /// <summary>Hello address length does not fit the address type (4 for IPv4, 16 for IPv6) or the TLV.</summary>
    BadAddressLength,
    /// <summary>Request/Response TLV shorter than 20 bytes.</summary>
    RequestResponseTooShort,
    /// <summary>Auth TLV shorter than its 4-byte fixed part.</summary>
    AuthTooShort,
    /// <summary>Auth data length runs past the Auth TLV.</summary>
    AuthLengthPastTlv,
    /// <summary>MD5 auth data of the wrong size (16 for key-string, 4 + 16 for key-chain) or non-empty "none".</summary>
    BadAuthLength,
    /// <summary>More than one Hello TLV.</summary>
    DuplicateHello,
    /// <summary>More than one authentication TLV (Cisco's or ours).</summary>
    DuplicateAuth,
    /// <summary>Offload HMAC TLV of the wrong length or with an unknown algorithm.</summary>
    BadOffloadAuth,
    /// <summary>Offload load TLV of the wrong length or for forwarder 0.</summary>
    BadOffloadLoad,
    /// <summary>Offload owner TLV of the wrong length or for forwarder 0.</summary>
    BadOffloadOwner,
}

/// <summary>
/// Outcome of decoding: the reason and the byte offset (within the GLBP message) where it was found.
/// <see cref="Message"/> builds text only when asked, so the per-packet path does not allocate.
/// </summary>
public readonly record struct GlbpResult(GlbpError Error, int Offset)
{
    public static GlbpResult Ok => default;

    public bool IsOk => Error == GlbpError.None;

    public string Message => Error == GlbpError.None ? "ok" : $"{Describe(Error)} (at byte {Offset})";

    public static string Describe(GlbpError error) => error switch
    {
        GlbpError.None => "ok",
        GlbpError.TooShort => "message shorter than the 12-byte GLBP header",
        GlbpError.TooLong => "message longer than fits one Ethernet frame",
        GlbpError.UnsupportedVersion => "GLBP version is not 1",
        GlbpError.GroupOutOfRange => "group number above 1023",
        GlbpError.TlvHeaderTruncated => "a single byte left where a TLV header needs two",
        GlbpError.TlvLengthTooSmall => "TLV length below 2",
        GlbpError.EmptyTlv => "TLV with no value (length 2)",
        GlbpError.TlvPastEnd => "TLV length runs past the end of the message",
        GlbpError.HelloTooShort => "Hello TLV shorter than 24 bytes",
        GlbpError.BadAddressLength => "Hello address length does not match its type or the TLV",
        GlbpError.RequestResponseTooShort => "Request/Response TLV shorter than 20 bytes",
        GlbpError.AuthTooShort => "Auth TLV shorter than 4 bytes",
        GlbpError.AuthLengthPastTlv => "Auth data runs past the Auth TLV",
        GlbpError.BadAuthLength => "Auth data has the wrong length for its type",
        GlbpError.DuplicateHello => "more than one Hello TLV",
        GlbpError.DuplicateAuth => "more than one authentication TLV",
        GlbpError.BadOffloadAuth => "Offload HMAC TLV malformed",
        GlbpError.BadOffloadLoad => "Offload load TLV malformed (length must be 12, forwarder 1-255)",
        GlbpError.BadOffloadOwner => "Offload owner TLV malformed (length must be 10, forwarder 1-255)",
        _ => "unknown error",
    };

    public override string ToString() => Message;
}
