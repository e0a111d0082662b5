using Offload.Protocol;
using Offload.Protocol.Glbp;

namespace Offload.Protocol.Tests;

/// <summary>Messages shared by the tests, modelled on the IOS debug lines quoted in Wireshark's dissector.</summary>
public static class GlbpSamples
{
    public const ushort Group = 1021;
    public static readonly ulong OwnerMac = 0xC200_7CB8_0000;
    public static readonly uint SourceIp = Ipv4Address.Parse("10.20.20.2");
    public static readonly uint VirtualIp = Ipv4Address.Parse("10.20.20.100");

    public static GlbpHeader Header => new(Group, OwnerMac);

    // "Grp 1021 Hello out VG Active pri 100 vIP 10.20.20.100 hello 3000, hold 10000"
    public static GlbpHello Hello => new(GlbpVgState.Active, 100, 3000, 10000, 600, 14400, VirtualIp);

    // "VF 1 Active pri 167 vMAC 0007.b403.fd01"
    public static GlbpForwarder Forwarder(byte number, GlbpVfState state = GlbpVfState.Active, byte priority = 167, byte weight = 100) =>
        new(number, state, priority, weight, GlbpVirtualMac.Create(Group, number));

    public static byte[] Build(WriterStep auth, int forwarders = 2, bool hello = true, GlbpHeader? header = null)
    {
        var buffer = new byte[GlbpProtocol.MaxLength];
        var w = new GlbpWriter(buffer, header ?? Header);
        auth(ref w);
        if (hello)
            w.WriteHello(Hello);
        for (int i = 1; i <= forwarders; i++)
            w.WriteForwarder(Forwarder((byte)i, i == 1 ? GlbpVfState.Active : GlbpVfState.Listen));
        return w.Written.ToArray();
    }

    public delegate void WriterStep(ref GlbpWriter writer);

    public static void NoAuth(ref GlbpWriter writer)
    {
    }

    public static byte[] Hex(string hex) => Convert.FromHexString(hex.Replace(" ", "", StringComparison.Ordinal));
}
