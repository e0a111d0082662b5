namespace Offload.Router.Tests;

public sealed class ConfigTests
{
    private const string Good = """
        {
          "router": { "name": "r", "affinityKey": "sixteen or more chars" },
          "pools": [ { "id": "web", "affinityCookie": "ofl", "backends": [ { "id": "a", "address": "10.0.0.1", "port": 80, "weight": 2 } ],
                       "check": { "path": "/health", "expect": "200-299" } } ],
          "routes": [ { "id": "all", "pool": "web", "path": "/api", "timeoutMs": 1000, "retries": 2 } ]
        }
        """;

    [Test]
    public void A_pool_that_names_no_policy_balances_on_the_agents_figures_when_every_backend_has_an_agent()
    {
        const string Agent = "\"agent\": { \"key\": \"k\" }";
        var c = RouterConfig.Parse($$"""
            {
              "router": { "name": "r", "agentListen": "127.0.0.1:0" },
              "pools": [
                { "id": "all", "backends": [ { "id": "a", "address": "10.0.0.1", "port": 80, {{Agent}} }, { "id": "b", "address": "10.0.0.2", "port": 80, {{Agent}} } ] },
                { "id": "some", "backends": [ { "id": "c", "address": "10.0.0.3", "port": 80, {{Agent}} }, { "id": "d", "address": "10.0.0.4", "port": 80 } ] },
                { "id": "said", "loadBalancing": "least-loaded", "backends": [ { "id": "e", "address": "10.0.0.5", "port": 80, {{Agent}} } ] }
              ],
              "routes": [ { "id": "x", "pool": "all" } ]
            }
            """);
        Assert.That(c.Pools.Select(p => p.Balancing), Is.EqualTo(new[] { PoolBalancing.PowerOfTwoLoad, PoolBalancing.Weighted, PoolBalancing.LeastLoaded }));
    }

    [Test]
    public void A_good_file_becomes_pools_and_routes_with_defaults()
    {
        var c = RouterConfig.Parse(Good);
        Assert.Multiple(() =>
        {
            Assert.That(c.Listen.ToString(), Is.EqualTo("127.0.0.1:8080"));
            Assert.That(c.AdminListen.ToString(), Is.EqualTo("127.0.0.1:9490"));
            Assert.That(c.Routes.Single().Path, Is.EqualTo("/api/{**offload-rest}"));
            Assert.That(c.Routes.Single().Retries, Is.EqualTo(2));
            Assert.That(c.Pools.Single().Check!.Rise, Is.EqualTo(2));
            Assert.That(c.Pools.Single().Backends.Single().Weight, Is.EqualTo(2));
        });
    }

    [TestCase("""{ "router": { "name": "r" }, "pools": [ { "id": "web", "backends": [ { "id": "a", "address": "10.0.0.1", "port": 80 } ] } ], "routes": [ { "id": "x", "pool": "nope" } ] }""",
        "routes[0].pool: 'nope' is not one of the pools")]
    [TestCase("""{ "router": { "name": "r" }, "pools": [ { "id": "web", "affinityCookie": "c", "backends": [ { "id": "a", "address": "10.0.0.1", "port": 80 } ] } ], "routes": [ { "id": "x", "pool": "web" } ] }""",
        "router.affinityKey: missing")]
    [TestCase("""{ "router": { "name": "r", "adminListen": "0.0.0.0:9490" }, "pools": [ { "id": "web", "backends": [ { "id": "a", "address": "10.0.0.1", "port": 80 } ] } ], "routes": [ { "id": "x", "pool": "web" } ] }""",
        "router.adminListen: '0.0.0.0:9490' is not a loopback address")]
    [TestCase("""{ "router": { "name": "r" }, "pools": [ { "id": "web", "backends": [ { "id": "a", "address": "10.0.0.1", "port": 80 } ] } ], "routes": [ { "id": "x", "pool": "web", "path": "/a/{" } ] }""",
        "routes[0].path: '/a/{' is not a route template")]
    [TestCase("""{ "router": { "name": "r" }, "pools": [ { "id": "web", "backends": [ { "id": "a", "address": "10.0.0.1", "port": 80 } ] } ], "routes": [ { "id": "x", "pool": "web", "retries": 9 } ] }""",
        "routes[0].retries: 9 is outside 0..3")]
    [TestCase("""{ "router": { "name": "r" }, "pools": [ { "id": "web", "backends": [ { "id": "a", "adress": "10.0.0.1", "port": 80 } ] } ], "routes": [] }""",
        "adress: 'adress' is not a setting here")]
    [TestCase("""{ "router": { "name": "r" }, "pools": [ { "id": "web", "backends": [ { "id": "a", "address": "10.0.0.1", "port": 80 }, { "id": "a", "address": "10.0.0.2", "port": 80 } ] } ], "routes": [ { "id": "x", "pool": "web", "methods": ["get"] } ] }""",
        "pools[0].backends[1].id: 'a' is used twice")]
    public void A_bad_file_is_refused_with_the_json_path_of_the_problem(string json, string expected)
    {
        var e = Assert.Throws<RouterConfigException>(() => RouterConfig.Parse(json, "router.json"))!;
        Assert.That(e.Message, Does.StartWith("router.json: ").And.Contain(expected));
    }
}
