using System.Globalization;
using Offload.Protocol;
using Offload.Protocol.Glbp;

namespace Offload.Group.Observer;

/// <summary>How the observer and `offload glbp watch` spell things: the way `show glbp` on a Cisco router does.</summary>
public static class GlbpText
{
    /// <summary>Cisco's dotted MAC notation, 0007.b400.0101, so output can be compared with a router's.</summary>
    public static string Mac(ulong mac) =>
        string.Create(CultureInfo.InvariantCulture, $"{(mac >> 32) & 0xFFFF:x4}.{(mac >> 16) & 0xFFFF:x4}.{mac & 0xFFFF:x4}");

    public static string Ip(uint address) => Ipv4Address.Format(address);

    /// <summary>UTC time of day with milliseconds, as in a syslog line.</summary>
    public static string Time(long nanoseconds) =>
        DateTimeOffset.UnixEpoch.AddTicks(nanoseconds / 100).ToString("HH:mm:ss.fff", CultureInfo.InvariantCulture);

    /// <summary>Milliseconds as seconds ("3", "0.25"), the unit `show glbp` uses for every timer.</summary>
    public static string Seconds(long milliseconds) => (milliseconds / 1000.0).ToString("0.###", CultureInfo.InvariantCulture);

    public static string State(GlbpVgState? state) => state switch
    {
        null => "Init",
        GlbpVgState.Listen => "Listen",
        GlbpVgState.Speak => "Speak",
        GlbpVgState.Standby => "Standby",
        GlbpVgState.Active => "Active",
        // Values outside Wireshark's table are shown raw rather than guessed.
        GlbpVgState s => string.Create(CultureInfo.InvariantCulture, $"0x{(byte)s:x2}"),
    };

    public static string State(GlbpVfState? state) => state switch
    {
        null => "none",
        GlbpVfState.Listen => "Listen",
        GlbpVfState.Active => "Active",
        GlbpVfState s => string.Create(CultureInfo.InvariantCulture, $"0x{(byte)s:x2}"),
    };

    public static string Auth(GlbpAuthMode mode) => mode switch
    {
        GlbpAuthMode.None => "none",
        GlbpAuthMode.PlainText => "text",
        GlbpAuthMode.Md5KeyString => "md5 key-string",
        GlbpAuthMode.Md5KeyChain => "md5 key-chain",
        GlbpAuthMode.OffloadHmacSha256 => "offload hmac-sha256",
        _ => mode.ToString(),
    };

    public static string Timers(GlbpTimers t) =>
        $"hello {Seconds(t.HelloMs)} s, hold {Seconds(t.HoldMs)} s, redirect {t.RedirectSeconds} s, timeout {t.TimeoutSeconds} s";
}
