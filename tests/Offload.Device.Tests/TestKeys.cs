namespace Offload.Device.Tests;

internal static class TestKeys
{
    /// <summary>Distinct random TCP/UDP keys, reproducible from the seed.</summary>
    public static List<FlowKey> Random(int count, int seed)
    {
        var rng = new Random(seed);
        var set = new HashSet<FlowKey>();
        var list = new List<FlowKey>(count);
        while (list.Count < count)
        {
            var k = new FlowKey((byte)rng.Next(2), 0x0A00_0000u | (uint)rng.Next(1 << 24), 0xC0A8_0000u | (uint)rng.Next(1 << 16),
                rng.Next(2) == 0 ? (byte)6 : (byte)17, (ushort)rng.Next(1024, 65536), (ushort)rng.Next(1, 1024));
            if (set.Add(k))
                list.Add(k);
        }
        return list;
    }

    public static FlowAction ActionFor(FlowKey k) =>
        new((byte)(k.SrcPort & 0xFF), TtlDecrement: (k.DstPort & 1) != 0, Nat: (NatMode)(k.SrcPort % 3), NatIp: k.DstIp ^ 0x0101_0101,
            NatPort: (ushort)(k.DstPort + 1));
}
