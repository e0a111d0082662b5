using System.Net;
using System.Text;
using Offload.Protocol.Agent;

namespace Offload.Router.Tests;

/// <summary>The real <c>offload agent</c> reporter on loopback, telling the router the load it is given.</summary>
[Parallelizable(ParallelScope.Self)]
public sealed class AgentTests
{
    private const string Key = "agent key of the test";

    /// <summary>The host load an agent reports: set by the test instead of read from /proc.</summary>
    private sealed class GivenLoad(double cpu) : IHostLoadSource
    {
        public double Cpu { get; set; } = cpu;

        public HostLoad Sample() => new(Cpu, 0.2, 1);
    }

    private static AgentReporter Agent(RouterHost router, string id, IHostLoadSource load)
    {
        var reporter = new AgentReporter(new AgentReporterOptions(id, Encoding.UTF8.GetBytes(Key), [new IPEndPoint(IPAddress.Loopback, router.AgentAddress!.Port)],
            TimeSpan.FromMilliseconds(100), new IPEndPoint(IPAddress.Loopback, 0)), load);
        reporter.Start();
        return reporter;
    }

    private static string Backend(Backend b) =>
        $$"""{ "id": "{{b.Id}}", "address": "127.0.0.1", "port": {{b.Port}}, "agent": { "key": "{{Key}}", "intervalMs": 100 } }""";

    private static string Config(Backend a, Backend b) => $$"""
        {
          "router": { "name": "r", "listen": "127.0.0.1:0", "adminListen": "127.0.0.1:0", "agentListen": "127.0.0.1:0" },
          "pools": [
            { "id": "weighted", "backends": [ {{Backend(a)}}, {{Backend(b)}} ] },
            { "id": "least", "loadBalancing": "least-loaded", "backends": [ {{Backend(a)}}, {{Backend(b)}} ] },
            { "id": "p2c", "loadBalancing": "power-of-two-load", "backends": [ {{Backend(a)}}, {{Backend(b)}} ] }
          ],
          "routes": [
            { "id": "w", "pool": "weighted", "path": "/w" },
            { "id": "l", "pool": "least", "path": "/l" },
            { "id": "p", "pool": "p2c", "path": "/p" }
          ]
        }
        """;

    private static async Task Send(HttpClient http, string path, int count)
    {
        int sent = 0;
        await Task.WhenAll(Enumerable.Range(0, 4).Select(async _ =>
        {
            while (Interlocked.Increment(ref sent) <= count)
            {
                using var response = await http.GetAsync(new Uri(path, UriKind.Relative));
                response.EnsureSuccessStatusCode();
            }
        }));
    }

    private static bool Fresh(RouterHost router, string pool, string backend, double? load = null) =>
        router.View().Pools.Single(p => p.Id == pool).Backends.Single(x => x.Id == backend) is { Agent: "fresh" } v && (load is null || v.Load == load);

    [Test]
    public async Task The_agents_figures_steer_least_loaded_and_power_of_two_and_drain_takes_a_backend_out()
    {
        await using var heavy = await Tests.Backend.StartAsync("heavy");
        await using var middle = await Tests.Backend.StartAsync("middle");
        await using var light = await Tests.Backend.StartAsync("light");
        string three = $"{Backend(heavy)}, {Backend(middle)}, {Backend(light)}";
        string json = $$"""
            {
              "router": { "name": "r", "listen": "127.0.0.1:0", "adminListen": "127.0.0.1:0", "agentListen": "127.0.0.1:0" },
              "pools": [
                { "id": "weighted", "backends": [ {{three}} ] },
                { "id": "least", "loadBalancing": "least-loaded", "backends": [ {{three}} ] },
                { "id": "p2c", "loadBalancing": "power-of-two-load", "backends": [ {{three}} ] }
              ],
              "routes": [ { "id": "w", "pool": "weighted", "path": "/w" }, { "id": "l", "pool": "least", "path": "/l" }, { "id": "p", "pool": "p2c", "path": "/p" } ]
            }
            """;
        await using var router = await Rig.Router(json);
        using var http = Rig.Client(router);
        using var agentHeavy = Agent(router, "heavy", new GivenLoad(0.9));
        using var agentMiddle = Agent(router, "middle", new GivenLoad(0.5));
        using var agentLight = Agent(router, "light", new GivenLoad(0.1));
        await Rig.Until(() => Fresh(router, "least", "heavy", 0.9) && Fresh(router, "least", "middle", 0.5) && Fresh(router, "least", "light", 0.1),
            TimeSpan.FromSeconds(5), "the three agents' reports are taken");

        await Send(http, "/l", 300);
        Assert.That((heavy.Requests, middle.Requests, light.Requests), Is.EqualTo((0L, 0L, 300L)), "least-loaded sends everything to the lightest backend");

        const int Total = 3000;
        await Send(http, "/p", Total);
        // Pairs of different backends, all three equally likely: light wins two of them, middle one, heavy none.
        double middleShare = middle.Requests / (double)Total;
        Assert.Multiple(() =>
        {
            Assert.That(heavy.Requests, Is.Zero, "the most loaded backend never wins a pair");
            Assert.That(middleShare, Is.EqualTo(1 / 3.0).Within(0.04), $"middle {middle.Requests}, light {light.Requests - 300}");
        });

        agentLight.Drain = true;
        await Rig.Until(() => router.View().Pools.Single(p => p.Id == "weighted").Backends.Single(x => x.Id == "light").Agent == "drain", TimeSpan.FromSeconds(5),
            "the drain flag arrives");
        long lightBefore = light.Requests;
        await Send(http, "/w", 200);
        await Send(http, "/l", 100);
        Assert.That(light.Requests, Is.EqualTo(lightBefore), "a draining backend gets no new requests, however light");
        Assert.That(router.AgentReports.Refused, Is.Zero);
    }

    [Test]
    public async Task A_backend_whose_agent_falls_silent_leaves_every_pool_within_its_fall_time_and_rejoins_when_it_reports()
    {
        await using var a = await Tests.Backend.StartAsync("a");
        await using var b = await Tests.Backend.StartAsync("b");
        await using var router = await Rig.Router(Config(a, b));
        using var http = Rig.Client(router);
        using var agentA = Agent(router, "a", new GivenLoad(0.3));
        var agentB = Agent(router, "b", new GivenLoad(0.3));
        await Rig.Until(() => Fresh(router, "weighted", "a") && Fresh(router, "weighted", "b"), TimeSpan.FromSeconds(5), "both agents report");
        await Send(http, "/w", 100);
        Assert.That(b.Requests, Is.GreaterThan(10));

        var silentFrom = DateTime.UtcNow;
        agentB.Dispose();
        await Rig.Until(() => new[] { "weighted", "least", "p2c" }.All(p => !Rig.Available(router, p, "b")), TimeSpan.FromSeconds(5), "b leaves every pool");
        var detection = DateTime.UtcNow - silentFrom;
        long bAt = b.Requests;
        await Send(http, "/w", 200);
        await Send(http, "/p", 200);
        Assert.Multiple(() =>
        {
            Assert.That(b.Requests, Is.EqualTo(bAt), "a request reached b after its agent was found silent");
            // fall 3 × 100 ms, judged every 100 ms: well under a second, 2 s on a busy machine.
            Assert.That(detection, Is.LessThan(TimeSpan.FromSeconds(2)));
        });

        // A restarted agent has a later boot id, so the router takes it at once.
        using var again = Agent(router, "b", new GivenLoad(0.3));
        await Rig.Until(() => Rig.Available(router, "weighted", "b"), TimeSpan.FromSeconds(5), "b rejoins once its agent reports");
        await Send(http, "/w", 200);
        Assert.That(b.Requests, Is.GreaterThan(bAt));
    }
}
