using Offload.Balancer.Classification;
using Offload.Balancer.Routing;
using Offload.Device;

namespace Offload.Balancer.Tests;

/// <summary>Longest-prefix match of the static route table, and what adding a route writes.</summary>
[Category("Model")]
public class RouteTableTests
{
    private static readonly MacAddress Port0Mac = MacAddress.Parse("02:0f:00:00:00:01");
    private static readonly MacAddress Port1Mac = MacAddress.Parse("02:0f:00:00:01:01");

    private ModelDevice _device = null!;
    private ServiceTable _services = null!;

    [SetUp]
    public void Start()
    {
        _device = ModelDevice.Create(64);
        _services = new ServiceTable(new Dataplane(_device), [Port0Mac, Port1Mac], TimeProvider.System);
    }

    [TearDown]
    public void Stop() => _device.Dispose();

    private static uint Ip(string s) => Protocol.Ipv4Address.Parse(s);

    private static Route R(string prefix, int length, byte nh) => new(Ip(prefix), length, nh, new MacAddress(0x0200_0000_2000UL + nh));

    [Test]
    public void The_longest_matching_prefix_wins_whatever_the_order_routes_were_added_in()
    {
        var routes = new[] { R("0.0.0.0", 0, 10), R("10.0.0.0", 8, 11), R("10.1.0.0", 16, 12), R("10.1.2.0", 24, 13), R("10.1.2.3", 32, 14) };
        foreach (var order in new[] { routes, routes.Reverse().ToArray(), [routes[2], routes[0], routes[4], routes[1], routes[3]] })
        {
            var table = _services.Routes;
            foreach (var r in table.Routes.ToList())
                table.Remove(r.Prefix, r.Length);
            foreach (var r in order)
                table.Add(r);
            Assert.That(Lookup(table, "10.1.2.3"), Is.EqualTo(14));
            Assert.That(Lookup(table, "10.1.2.4"), Is.EqualTo(13));
            Assert.That(Lookup(table, "10.1.3.4"), Is.EqualTo(12));
            Assert.That(Lookup(table, "10.2.0.1"), Is.EqualTo(11));
            Assert.That(Lookup(table, "11.0.0.1"), Is.EqualTo(10), "everything else takes the default route");
            Assert.That(Lookup(table, "255.255.255.255"), Is.EqualTo(10));
        }
    }

    [Test]
    public void Without_a_default_route_unmatched_destinations_have_no_route()
    {
        var table = _services.Routes;
        table.Add(R("192.168.0.0", 16, 20));
        Assert.That(table.TryLookup(Ip("192.169.0.1"), out _), Is.False);
        Assert.That(table.TryLookup(Ip("192.168.255.255"), out var r), Is.True);
        Assert.That(r.NextHopIndex, Is.EqualTo(20));
    }

    [Test]
    public void Prefix_boundaries_are_exact_for_every_length()
    {
        var table = _services.Routes;
        uint address = Ip("172.16.200.77");
        for (int len = 1; len <= 32; len++)
        {
            uint mask = RouteTable.MaskOf(len);
            table.Add(new Route(address & mask, len, 30, new MacAddress(0x0200_0000_3000UL)));
            uint inside = (address & mask) | (~mask & 0x5555_5555u);
            // Flipping the last prefix bit leaves this route; only shorter ones may still match.
            uint outside = address ^ (1u << (32 - len));
            Assert.That(table.TryLookup(inside, out var hit), Is.True);
            Assert.That(hit.Length, Is.EqualTo(len), $"/{len}: {inside:X8} is inside");
            Assert.That(table.TryLookup(outside, out var other) ? other.Length : -1, Is.LessThan(len), $"/{len}: {outside:X8} is outside");
        }
        Assert.That(table.Count, Is.EqualTo(32));
    }

    [Test]
    public void Replacing_and_removing_routes_keeps_the_rest_in_place()
    {
        var table = _services.Routes;
        table.Add(R("10.0.0.0", 8, 11));
        table.Add(R("10.1.0.0", 16, 12));
        table.Add(new Route(Ip("10.0.0.0"), 8, 15, new MacAddress(0x0200_0000_2015UL)));
        Assert.That(table.Count, Is.EqualTo(2), "same prefix and length replaces");
        Assert.That(Lookup(table, "10.9.9.9"), Is.EqualTo(15));
        Assert.That(table.Remove(Ip("10.1.0.0"), 16), Is.True);
        Assert.That(table.Remove(Ip("10.1.0.0"), 16), Is.False);
        Assert.That(Lookup(table, "10.1.2.3"), Is.EqualTo(15));
        Assert.That(table.Remove(Ip("10.0.0.0"), 8), Is.True);
        Assert.That(table.TryLookup(Ip("10.1.2.3"), out _), Is.False);
        Assert.That(table.Count, Is.Zero);
    }

    [Test]
    public void Adding_a_route_writes_its_next_hop_with_the_egress_port_mac_as_source()
    {
        _services.Routes.Add(new Route(Ip("0.0.0.0"), 0, 40, MacAddress.Parse("02:00:00:00:aa:01"), EgressPort: 0));
        Assert.That(_services.NextHops.Get(40), Is.EqualTo(new NextHop(0, MacAddress.Parse("02:00:00:00:aa:01"), Port0Mac)));
    }

    [TestCase("10.0.0.1", 8, TestName = "Host bits past the length are rejected")]
    [TestCase("10.0.0.0", 33, TestName = "A length over 32 is rejected")]
    [TestCase("10.0.0.0", -1, TestName = "A negative length is rejected")]
    public void Bad_routes_are_rejected_with_the_reason(string prefix, int length)
    {
        var e = Assert.Throws<ArgumentException>(() => _services.Routes.Add(new Route(Ip(prefix), length, 1, new MacAddress(2))));
        Assert.That(e!.Message, Does.Contain(length is < 0 or > 32 ? "0..32" : "past its length"));
        Assert.That(_services.Routes.Count, Is.Zero);
    }

    [Test]
    public void Lookups_of_random_addresses_agree_with_a_linear_scan()
    {
        var rng = new Random(5);
        var table = _services.Routes;
        var all = new List<Route>();
        for (int i = 0; i < 300; i++)
        {
            int len = rng.Next(0, 33);
            uint prefix = ((uint)rng.Next() << 1) & RouteTable.MaskOf(len);
            var r = new Route(prefix, len, (byte)(i % 100), new MacAddress(2));
            table.Add(r);
            all.RemoveAll(x => x.Prefix == prefix && x.Length == len);
            all.Add(r);
        }
        for (int k = 0; k < 5000; k++)
        {
            // Half the probes start from a known prefix so that long routes are actually exercised.
            uint dst = k % 2 == 0 ? all[rng.Next(all.Count)].Prefix | ((uint)rng.Next() & 0xFF) : (uint)rng.Next() << 1;
            var expected = all.Where(r => (dst & r.Mask) == r.Prefix).MaxBy(r => r.Length);
            bool found = table.TryLookup(dst, out var got);
            Assert.That(found, Is.EqualTo(expected is not null));
            if (found)
                Assert.That((got.Prefix, got.Length), Is.EqualTo((expected!.Prefix, expected.Length)), $"dst {dst:X8}");
        }
    }

    private static int Lookup(RouteTable table, string address) => table.TryLookup(Ip(address), out var r) ? r.NextHopIndex : -1;
}
