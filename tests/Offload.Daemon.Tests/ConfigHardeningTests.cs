using System.Text.Json.Nodes;

namespace Offload.Daemon.Tests;

/// <summary>Inputs the validator used to let through or turn into a crash or a .NET type name.</summary>
public class ConfigHardeningTests
{
    private static JsonNode Example() => JsonNode.Parse(File.ReadAllText(DaemonRig.ExamplePath), documentOptions: new System.Text.Json.JsonDocumentOptions
    {
        CommentHandling = System.Text.Json.JsonCommentHandling.Skip,
    })!;

    private static GatewayConfigException Refused(JsonNode json) =>
        Assert.Throws<GatewayConfigException>(() => GatewayConfig.Parse(json.ToJsonString(), "test.json"))!;

    private static IEnumerable<TestCaseData> NullEntries()
    {
        yield return new TestCaseData((Action<JsonNode>)(j => j["groups"] = new JsonArray((JsonNode?)null)), "groups[0]").SetName("a null group");
        yield return new TestCaseData((Action<JsonNode>)(j => j["services"] = new JsonArray((JsonNode?)null)), "services[0]").SetName("a null service");
        yield return new TestCaseData((Action<JsonNode>)(j => j["services"]![0]!["backends"] = new JsonArray((JsonNode?)null)), "services[0].backends[0]").SetName("a null backend");
        yield return new TestCaseData((Action<JsonNode>)(j => j["routes"] = new JsonArray((JsonNode?)null)), "routes[0]").SetName("a null route");
        yield return new TestCaseData((Action<JsonNode>)(j => j["sync"]!["peers"] = new JsonArray((JsonNode?)null)), "sync.peers[0]").SetName("a null sync peer");
        yield return new TestCaseData((Action<JsonNode>)(j => j["groups"]![0]!["track"] = new JsonArray((JsonNode?)null)), "groups[0].track[0]").SetName("a null group track");
    }

    [TestCaseSource(nameof(NullEntries))]
    public void A_null_entry_in_a_list_is_a_problem_named_by_its_path(Action<JsonNode> edit, string path)
    {
        var json = Example();
        edit(json);
        var e = Refused(json);
        Assert.That(e.Problems, Has.Some.StartWith($"{path}: "), string.Join("\n", e.Problems));
    }

    [Test]
    public void Two_groups_with_the_same_virtual_ip_are_refused()
    {
        var json = Example();
        var second = json["groups"]![0]!.DeepClone();
        second["number"] = 2;
        second["track"] = null;
        json["groups"]!.AsArray().Add(second);
        Assert.That(Refused(json).Problems, Has.Some.StartWith("groups[1].vip: ").And.Some.Contains("10.0.0.1").And.Some.Contains("groups[0]"));
    }

    [Test]
    public void Port_macs_that_are_the_same_are_refused()
    {
        var json = Example();
        json["gateway"]!["port1Mac"] = json["gateway"]!["port0Mac"]!.GetValue<string>();
        Assert.That(Refused(json).Problems, Has.Some.StartWith("gateway.port1Mac: "));
    }

    [Test]
    public void A_group_vip_that_is_the_gateways_own_address_is_refused()
    {
        var json = Example();
        json["groups"]![0]!["vip"] = "10.0.0.11";
        Assert.That(Refused(json).Problems, Has.Some.StartWith("groups[0].vip: ").And.Some.Contains("gateway.ip"));
    }

    [Test]
    public void A_config_with_nothing_to_do_is_refused()
    {
        var json = Example();
        json.AsObject().Remove("groups");
        json.AsObject().Remove("services");
        json.AsObject().Remove("routes");
        json.AsObject().Remove("sync");
        Assert.That(Refused(json).Problems, Has.Some.Contains("nothing to do"));
    }

    [Test]
    public void More_than_four_forwarders_is_one_warning_not_an_error()
    {
        var json = Example();
        json["groups"]![0]!["maxForwarders"] = 8;
        var c = GatewayConfig.Parse(json.ToJsonString(), "test.json");
        Assert.That(c.Warnings, Has.Count.EqualTo(1));
        Assert.That(c.Warnings[0], Does.StartWith("groups[0].maxForwarders: ").And.Contain("Cisco"));
        Assert.That(GatewayConfig.Load(DaemonRig.ExamplePath).Warnings, Is.Empty);
    }

    [TestCase("priority", "\"high\"", "a whole number")]
    [TestCase("priority", "99999999999", "a whole number")]
    [TestCase("preempt", "\"yes\"", "true or false")]
    [TestCase("vip", "1", "a string")]
    [TestCase("track", "{}", "a list")]
    [TestCase("auth", "[]", "an object")]
    public void A_value_of_the_wrong_type_is_described_in_plain_words(string member, string value, string expected)
    {
        var json = Example();
        json["groups"]![0]![member] = JsonNode.Parse(value);
        string text = json.ToJsonString();
        var e = Assert.Throws<GatewayConfigException>(() => GatewayConfig.Parse(text, "test.json"))!;
        string problem = e.Problems.Single();
        Assert.That(problem, Does.StartWith($"groups[0].{member}: ").And.Contain(expected), problem);
        Assert.That(problem, Does.Not.Contain("System.").And.Not.Contain(".NET").And.Not.Contain("Nullable"), problem);
    }

    [Test]
    public void An_unknown_member_is_named_without_dotnet_types()
    {
        var json = Example();
        json["gateway"]!["colour"] = "blue";
        string problem = Refused(json).Problems.Single();
        Assert.That(problem, Does.StartWith("gateway.colour: ").And.Contain("'colour'"), problem);
        Assert.That(problem, Does.Not.Contain(".NET").And.Not.Contain("GatewaySection").And.Not.Contain("Offload."), problem);
    }

    [Test]
    public void Broken_json_says_where_in_plain_words()
    {
        var e = Assert.Throws<GatewayConfigException>(() => GatewayConfig.Parse("{\n  \"gateway\": { \"name\": gw }\n}", "test.json"))!;
        string problem = e.Problems.Single();
        Assert.That(problem, Does.Contain("line 2"), problem);
        Assert.That(problem, Does.Not.Contain("LineNumber").And.Not.Contain("BytePositionInLine"), problem);
    }

    [Test]
    public void The_api_may_listen_on_ipv6_loopback_but_nowhere_else_in_ipv6()
    {
        var json = Example();
        json["api"]!["listen"] = "[::1]:9480";
        Assert.That(GatewayConfig.Parse(json.ToJsonString()).ApiListen, Is.EqualTo(System.Net.IPEndPoint.Parse("[::1]:9480")));
        json["api"]!["listen"] = "[2001:db8::1]:9480";
        Assert.That(Refused(json).Problems.Single(), Does.StartWith("api.listen: ").And.Contain("not a loopback address"));
    }

    [Test]
    public void Dataplane_ports_bind_interfaces_with_their_mtu()
    {
        var json = Example();
        json["dataplane"] = JsonNode.Parse("""{ "ports": [ { "port": 0, "interface": "veth-seg" }, { "port": 1, "interface": "eth1", "mtu": 9000 } ] }""");
        var c = GatewayConfig.Parse(json.ToJsonString(), "test.json");
        Assert.That(c.Ports, Is.EqualTo(new[] { new DataplanePort(0, "veth-seg", 1500), new DataplanePort(1, "eth1", 9000) }));
        Assert.That(GatewayConfig.Parse(Example().ToJsonString(), "test.json").Ports, Is.Empty);
    }

    [TestCase("""[ { "port": 2, "interface": "eth0" } ]""", "dataplane.ports[0].port: ")]
    [TestCase("""[ { "port": 0 } ]""", "dataplane.ports[0].interface: missing")]
    [TestCase("""[ { "port": 0, "interface": "a/b" } ]""", "dataplane.ports[0].interface: 'a/b' is not a Linux interface name")]
    [TestCase("""[ { "port": 0, "interface": "sixteen-chars-xx" } ]""", "dataplane.ports[0].interface: ")]
    [TestCase("""[ { "port": 0, "interface": "eth0", "mtu": 67 } ]""", "dataplane.ports[0].mtu: ")]
    [TestCase("""[ { "port": 0, "interface": "eth0" }, { "port": 0, "interface": "eth1" } ]""", "dataplane.ports[1].port: port 0 is bound twice")]
    [TestCase("""[ { "port": 0, "interface": "eth0" }, { "port": 1, "interface": "eth0" } ]""", "dataplane.ports[1].interface: eth0 is already bound to port 0")]
    [TestCase("""[ null ]""", "dataplane.ports[0]: ")]
    public void Bad_dataplane_ports_are_named(string ports, string problem)
    {
        var json = Example();
        json["dataplane"] = new JsonObject { ["ports"] = JsonNode.Parse(ports) };
        Assert.That(Refused(json).Problems, Has.Some.StartWith(problem), string.Join("\n", Refused(json).Problems));
    }

    [Test]
    public void Hellos_under_Ciscos_50_ms_are_allowed_down_to_10_with_a_warning()
    {
        var json = Example();
        json["groups"]![0]!["helloMs"] = 10;
        json["groups"]![0]!["holdMs"] = 30;
        var c = GatewayConfig.Parse(json.ToJsonString(), "test.json");
        Assert.That(c.Groups[0].HelloTime, Is.EqualTo(TimeSpan.FromMilliseconds(10)));
        Assert.That(c.Warnings, Has.One.StartWith("groups[0].helloMs: 10 ms is below Cisco's 50 ms"));
        json["groups"]![0]!["helloMs"] = 9;
        Assert.That(Refused(json).Problems, Has.One.StartWith("groups[0].helloMs: "));
    }
}
