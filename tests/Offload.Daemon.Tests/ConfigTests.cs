using System.Net;
using System.Text.Json.Nodes;
using Offload.Balancer.Classification;
using Offload.Device;
using Offload.Group;
using Offload.Protocol;
using Offload.Protocol.Glbp;

namespace Offload.Daemon.Tests;

public class ConfigTests
{
    private static JsonNode Example() => JsonNode.Parse(File.ReadAllText(DaemonRig.ExamplePath), documentOptions: new System.Text.Json.JsonDocumentOptions
    {
        CommentHandling = System.Text.Json.JsonCommentHandling.Skip,
    })!;

    private static GatewayConfigException Refused(JsonNode json) =>
        Assert.Throws<GatewayConfigException>(() => GatewayConfig.Parse(json.ToJsonString(), "test.json"))!;

    [Test]
    public void The_example_file_loads_into_the_control_planes_types()
    {
        var c = GatewayConfig.Load(DaemonRig.ExamplePath);
        Assert.Multiple(() =>
        {
            Assert.That(c.Name, Is.EqualTo("gw-a"));
            Assert.That(c.LocalIp, Is.EqualTo(Ipv4Address.Parse("10.0.0.11")));
            Assert.That(c.Port1Mac, Is.EqualTo(MacAddress.Parse("02:0f:00:00:01:01")));
            var g = c.Groups.Single();
            Assert.That((g.Group, g.VirtualIp, g.Priority, g.Preempt), Is.EqualTo(((ushort)1, Ipv4Address.Parse("10.0.0.1"), (byte)110, true)));
            Assert.That((g.HelloTime, g.HoldTime), Is.EqualTo((TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(3))));
            Assert.That(g.LocalIp, Is.EqualTo(c.LocalIp), "the group speaks from the gateway's address");
            Assert.That(g.LocalMac, Is.EqualTo(c.Port0Mac.Value));
            Assert.That(g.Authentication.Mode, Is.EqualTo(GlbpAuthMode.Md5KeyString));
            var s = c.Services.Single();
            Assert.That(s.Config.Key, Is.EqualTo(new ServiceKey(Ipv4Address.Parse("192.0.2.10"), IpProtocol.Tcp, 80)));
            Assert.That(s.Config.Mode, Is.EqualTo(ForwardingMode.Nat));
            Assert.That(s.Backends.Select(b => (b.Config.Id, b.Config.NextHopIndex, b.Config.Weight)),
                Is.EqualTo(new[] { ("b1", (byte)1, 1), ("b2", (byte)2, 1), ("b3", (byte)3, 2) }));
            Assert.That(c.Routes.Single().Length, Is.Zero, "a default route");
            Assert.That(c.Sync!.Peers.Single().Ip, Is.EqualTo(Ipv4Address.Parse("10.0.0.12")));
            Assert.That(c.ApiListen, Is.EqualTo(new IPEndPoint(IPAddress.Loopback, 9480)));
        });
    }

    [Test]
    public void Every_problem_is_reported_with_its_json_path_and_nothing_is_built()
    {
        var json = Example();
        json["groups"]![0]!["vip"] = "10.0.0.300";
        json["groups"]![0]!["holdMs"] = 500;
        json["groups"]![0]!["loadBalancing"] = "random";
        json["services"]![0]!["backends"]![1]!["mac"] = "02:00:00:00:01";
        json["services"]![0]!["backends"]![2]!["nextHop"] = 1;
        json["sync"]!["peers"]![0]!["ip"] = "10.0.0.11";
        json["api"]!["listen"] = "0.0.0.0:9480";
        var e = Refused(json);
        Assert.That(e.Problems, Is.EquivalentTo(new[]
        {
            "groups[0].vip: '10.0.0.300' is not an IPv4 address",
            "groups[0].holdMs: 500 must be greater than helloMs (1000)",
            "groups[0].loadBalancing: 'random' is not one of round-robin, weighted, host-dependent, load-based",
            "services[0].backends[1].mac: '02:00:00:00:01' is not a MAC address",
            "services[0].backends[2].nextHop: next hop 1 is already 198.51.100.1 on port 1 (services[0].backends[0])",
            "sync.peers[0].ip: '10.0.0.11' is this gateway's own address",
            "api.listen: '0.0.0.0:9480' is not a loopback address: the local API serves 127.0.0.1, [::1] or a Unix socket only",
        }));
        Assert.That(e.Message, Does.StartWith("test.json: 7 problem(s)"));
    }

    [Test]
    public void Backends_and_routes_may_name_their_next_hop_by_address_alone()
    {
        var json = Example();
        json["gateway"]!["port1Ip"] = "198.51.100.254";
        foreach (var b in json["services"]![0]!["backends"]!.AsArray())
        {
            b!.AsObject().Remove("mac");
            b.AsObject().Remove("nextHop");
        }
        // b3 keeps a MAC of its own (an override), and the route reaches the internet through b1's address.
        json["services"]![0]!["backends"]![2]!["mac"] = "02:00:00:00:01:03";
        json["routes"] = new JsonArray(new JsonObject { ["prefix"] = "0.0.0.0/0", ["via"] = "198.51.100.1", ["nextHop"] = 7 });
        var c = GatewayConfig.Parse(json.ToJsonString());
        Assert.That(c.Port1Ip, Is.EqualTo(Ipv4Address.Parse("198.51.100.254")));
        Assert.That(c.NextHops, Is.EqualTo(new[]
        {
            new NextHopSpec(new Gateway.NeighbourKey(1, Ipv4Address.Parse("198.51.100.1")), null, 7),
            new NextHopSpec(new Gateway.NeighbourKey(1, Ipv4Address.Parse("198.51.100.2")), null, null),
            new NextHopSpec(new Gateway.NeighbourKey(1, Ipv4Address.Parse("198.51.100.3")), MacAddress.Parse("02:00:00:00:01:03"), null),
        }));
        Assert.That(c.Routes.Single().Via, Is.EqualTo(Ipv4Address.Parse("198.51.100.1")));
        Assert.That(c.Services[0].Backends.Select(b => b.Config.Mac), Is.EqualTo(new[] { default, default, MacAddress.Parse("02:00:00:00:01:03") }));
    }

    [Test]
    public void Everything_naming_one_next_hop_must_agree_on_what_it_fixes()
    {
        var json = Example();
        json["services"]![0]!["backends"]![1]!["address"] = "198.51.100.1";
        json["routes"] = new JsonArray(
            new JsonObject { ["prefix"] = "0.0.0.0/0", ["via"] = "198.51.100.9", ["nextHop"] = 3 },
            new JsonObject { ["prefix"] = "10.9.0.0/16" },
            new JsonObject { ["prefix"] = "10.8.0.0/16", ["via"] = "198.51.100.200", ["mac"] = "01:00:5e:00:00:01" });
        json["gateway"]!["port1Ip"] = "10.0.0.1";
        var e = Refused(json);
        Assert.That(e.Problems, Is.EquivalentTo(new[]
        {
            "services[0].backends[1].mac: 198.51.100.1 on port 1 is 02:00:00:00:01:01 in services[0].backends[0]",
            "services[0].backends[1].nextHop: 198.51.100.1 on port 1 is next hop 1 in services[0].backends[0]",
            "routes[0].nextHop: next hop 3 is already 198.51.100.3 on port 1 (services[0].backends[2])",
            "routes[1].via: missing: the next hop's address (or its mac and nextHop)",
            "routes[2].mac: '01:00:5e:00:00:01' must be a unicast MAC address",
            "gateway.port1Ip: 10.0.0.1 is the virtual IP of group 1",
        }));
    }

    [TestCase("drain", Balancer.Health.DownPolicy.Drain)]
    [TestCase("keep-flows", Balancer.Health.DownPolicy.KeepFlows)]
    [TestCase("remove-flows", Balancer.Health.DownPolicy.RemoveFlows)]
    public void The_down_policy_is_named_in_the_health_section(string name, Balancer.Health.DownPolicy policy)
    {
        var json = Example();
        json["health"] = new JsonObject { ["onBackendDown"] = name };
        Assert.That(GatewayConfig.Parse(json.ToJsonString()).OnBackendDown, Is.EqualTo(policy));
        json["health"]!["onBackendDown"] = "reset";
        Assert.That(Refused(json).Problems.Single(), Is.EqualTo("health.onBackendDown: 'reset' is not one of drain, keep-flows, remove-flows"));
    }

    [Test]
    public void A_value_of_the_wrong_json_type_names_its_path()
    {
        var json = Example();
        json["groups"]![0]!["priority"] = "high";
        var e = Refused(json);
        Assert.That(e.Problems.Single(), Does.StartWith("groups[0].priority: "));
    }

    [Test]
    public void A_misspelt_member_is_refused_rather_than_ignored()
    {
        var json = Example();
        json["groups"]![0]!["prioirty"] = 120;
        var e = Refused(json);
        Assert.That(e.Problems.Single(), Does.Contain("prioirty"));
    }

    [Test]
    public void Missing_required_sections_are_each_named()
    {
        var e = Assert.Throws<GatewayConfigException>(() => GatewayConfig.Parse("""{ "services": [ { "vip": "192.0.2.1", "protocol": "sctp", "port": 80 } ] }"""))!;
        Assert.That(e.Problems, Is.SupersetOf(new[]
        {
            "gateway: missing: the gateway's name, ip and port MACs are required",
            "gateway.ip: missing: an IPv4 address",
            "services[0].protocol: 'sctp' is not tcp or udp",
            "services[0].backends: missing: a service needs at least one backend",
        }));
    }

    [Test]
    public void A_file_that_cannot_be_read_is_refused_with_its_path()
    {
        string path = Path.Combine(Path.GetTempPath(), $"offload-missing-{Guid.NewGuid():N}.json");
        var e = Assert.Throws<GatewayConfigException>(() => GatewayConfig.Load(path))!;
        Assert.That(e.Message, Does.Contain(path).And.Contain("cannot read the configuration file"));
    }

    [Test]
    public void Health_checks_and_agents_are_validated_per_backend()
    {
        var json = Example();
        var b = json["services"]![0]!["backends"]![0]!;
        b["check"] = new JsonObject { ["type"] = "http", ["intervalMs"] = 500, ["timeoutMs"] = 800, ["path"] = "health" };
        b["agent"] = new JsonObject { ["address"] = "198.51.100.1:5555" };
        var e = Refused(json);
        Assert.That(e.Problems, Is.EquivalentTo(new[]
        {
            "services[0].backends[0].check.timeoutMs: 800 is longer than intervalMs (500)",
            "services[0].backends[0].check.path: 'health' must start with /",
            "services[0].backends[0].agent.key: missing: the agent's HMAC key",
            "health.agentListen: missing: backends name agents, so the gateway needs an address to hear their reports on",
        }));

        b["check"] = new JsonObject { ["type"] = "tcp", ["intervalMs"] = 1000, ["timeoutMs"] = 200, ["rise"] = 1, ["fall"] = 2 };
        b["agent"] = new JsonObject { ["address"] = "198.51.100.1:5555", ["key"] = "k" };
        json["health"] = new JsonObject { ["agentListen"] = "127.0.0.1:0" };
        var c = GatewayConfig.Parse(json.ToJsonString());
        var spec = c.Services[0].Backends[0];
        Assert.That(spec.Check!.Target, Is.EqualTo(IPEndPoint.Parse("198.51.100.1:8080")), "the backend's own address and port by default");
        Assert.That((spec.Check.Http, spec.Check.Rise, spec.Check.Fall), Is.EqualTo((false, 1, 2)));
        Assert.That(spec.Agent!.Id, Is.EqualTo("b1"));
    }

    [Test]
    public void Group_options_that_glbp_refuses_never_reach_a_group()
    {
        var json = Example();
        json["groups"]![0]!["redirectSeconds"] = 100;
        json["groups"]![0]!["timeoutSeconds"] = 50;
        json["groups"]![0]!["auth"] = new JsonObject { ["type"] = "text", ["key"] = "much-too-long" };
        var e = Refused(json);
        Assert.That(e.Problems, Is.EquivalentTo(new[]
        {
            "groups[0].timeoutSeconds: 50 must be greater than redirectSeconds (100)",
            "groups[0].auth.key: a text authentication string is at most 8 bytes (Cisco's limit)",
        }));
        Assert.That(GatewayConfig.Load(DaemonRig.ExamplePath).Groups[0].MaxForwarders, Is.EqualTo(GlbpGroupOptions.CiscoMaxForwarders));
    }
}
