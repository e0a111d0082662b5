using Offload.Protocol;
using Offload.Protocol.Glbp;

namespace Offload.Group.Tests;

/// <summary>GLBP messages for the observer tests, built with the codec's writer the way a router sends them.</summary>
internal static class ObserverMessages
{
    public const ushort GroupNumber = 1;
    public const uint Vip = 0x0A00_00FE; // 10.0.0.254
    public const uint R1 = 0x0A00_0001;
    public const uint R2 = 0x0A00_0002;
    public const uint R3 = 0x0A00_0003;
    public const long Second = 1_000_000_000;

    /// <summary>A fixed start (2024-01-01 12:00:00 UTC) so times in the log are readable.</summary>
    public const long T0 = 1_704_110_400L * Second;

    public static ulong Mac(uint ip) => 0x0011_2233_0000UL | (ip & 0xFF);

    public static GlbpForwarder Fwd(byte number, GlbpVfState state, byte weight = 100, byte priority = 167) =>
        new(number, state, priority, weight, GlbpVirtualMac.Create(GroupNumber, number));

    public static byte[] Hello(uint router, GlbpVgState state, byte priority, params GlbpForwarder[] forwarders) =>
        Hello(router, state, priority, new GlbpHello(state, priority, 3000, 10_000, 600, 14_400, Vip), forwarders);

    public static byte[] Hello(uint router, GlbpVgState state, byte priority, GlbpHello hello, params GlbpForwarder[] forwarders)
    {
        var buffer = new byte[GlbpProtocol.MaxLength];
        var w = new GlbpWriter(buffer, new GlbpHeader(GroupNumber, Mac(router)));
        w.WriteHello(hello with { State = state, Priority = priority });
        foreach (GlbpForwarder f in forwarders)
            w.WriteForwarder(f);
        return w.Written.ToArray();
    }

    public static byte[] Md5Hello(uint router, byte[] key, GlbpVgState state, byte priority)
    {
        var buffer = new byte[GlbpProtocol.MaxLength];
        var w = new GlbpWriter(buffer, new GlbpHeader(GroupNumber, Mac(router)));
        w.WriteAuthMd5KeyString();
        w.WriteHello(new GlbpHello(state, priority, 3000, 10_000, 600, 14_400, Vip));
        byte[] message = w.Written.ToArray();
        GlbpAuthenticator.SignMd5(message, router, key);
        return message;
    }

    public static byte[] TextHello(uint router, byte[] text, GlbpVgState state, byte priority)
    {
        var buffer = new byte[GlbpProtocol.MaxLength];
        var w = new GlbpWriter(buffer, new GlbpHeader(GroupNumber, Mac(router)));
        w.WriteAuthText(text);
        w.WriteHello(new GlbpHello(state, priority, 3000, 10_000, 600, 14_400, Vip));
        return w.Written.ToArray();
    }

    /// <summary>Sends like a router: the IPv4 source is the router, the MAC its own.</summary>
    public static Offload.Group.Observer.GlbpObservation Send(this Offload.Group.Observer.GroupObserver o, double seconds, uint router, byte[] message) =>
        o.Observe(T0 + (long)(seconds * Second), router, Mac(router), message);

    public static string Ip(uint a) => Ipv4Address.Format(a);
}
