using System.Globalization;
using Offload.Balancer.Scheduling;
using Offload.Device;

namespace Offload.Balancer.Tests;

internal static class Pools
{
    public static string Id(int i) => string.Create(CultureInfo.InvariantCulture, $"10.1.{i / 250}.{i % 250 + 1}:80");

    public static PoolSnapshot Equal(int n) => new(Enumerable.Range(0, n).Select(i => new Backend(Id(i))));

    public static PoolSnapshot Weighted(params int[] weights) =>
        new(weights.Select((w, i) => new Backend(Id(i), w)));

    /// <summary>Distinct, well-spread flows from one deterministic generator.</summary>
    public static FlowKey[] Flows(int count, int seed = 1)
    {
        var rng = new Random(seed);
        var keys = new FlowKey[count];
        for (int i = 0; i < count; i++)
        {
            keys[i] = new FlowKey(0, (uint)rng.Next() ^ ((uint)rng.Next() << 16), 0xC0A8_0064, 6,
                (ushort)rng.Next(1024, 65536), 80);
        }
        return keys;
    }
}
