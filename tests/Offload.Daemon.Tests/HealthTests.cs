using System.Net;
using System.Net.Sockets;
using System.Text.Json.Nodes;
using Microsoft.Extensions.Logging;
using Offload.Protocol;
using static Offload.Daemon.Tests.DaemonRig;

namespace Offload.Daemon.Tests;

/// <summary>
/// Health checks configured in the file reach the balancer through the node's loop: a backend whose TCP check fails
/// (a closed loopback port) goes down, is logged and reported, and gets no new connections; the others, whose check
/// connects to a listener on loopback, stay up.
/// </summary>
[NonParallelizable]
[Category("Model")]
public class HealthTests
{
    [Test]
    public void A_backend_whose_check_fails_goes_down_and_new_connections_avoid_it()
    {
        var (listener, open, closed) = Ports();
        using var _ = listener;

        var config = GatewayConfig.Parse(WithChecks(open, closed).ToJsonString());

        using var rig = new DaemonRig();
        var logs = new LogCapture();
        var a = rig.Add(config, logs);
        a.Gateway.Start();
        // The probes run on real loopback sockets: wait for their answers (bounded, not a timing assertion).
        for (int i = 0; i < 400 && a.Gateway.BackendsView().Backends.Single(b => b.Id == "b1").Healthy; i++)
        {
            rig.Run(TimeSpan.FromMilliseconds(100));
            Thread.Sleep(25);
        }
        rig.Run(TimeSpan.FromSeconds(8));

        var view = a.Gateway.BackendsView().Backends.ToDictionary(b => b.Id);
        Assert.That(view["b1"].Healthy, Is.False, "the closed port fails the check");
        Assert.That(view["b1"].ChecksUp, Is.False);
        Assert.That(view["b2"].Healthy && view["b3"].Healthy, Is.True, "the listening port keeps them up");
        var down = logs.Of<GatewayNode>(LogLevel.Warning).Where(e => e.Message.Contains("is down", StringComparison.Ordinal)).ToList();
        Assert.That(down.Select(e => e.Properties["Backend"]), Is.EqualTo(new[] { "b1" }), "the change is logged once, with the backend as a property");
        Assert.That(a.Gateway.Metrics(), Does.Contain("offload_backend_healthy{service=\"192.0.2.10:80/tcp\",backend=\"b1\",gateway=\"gw-a\"} 0"));

        for (int c = 1; c <= 12; c++)
        {
            rig.FromClient(ClientTcp(c, a.OwnVmac, TcpFlags.Syn));
            Assert.That(a.Gateway.Tracker.TryGet(new Device.FlowKey(0, ClientIp(c), ServiceVip, IpProtocol.Tcp, ClientPort(c), ServicePort), out var s), Is.True);
            Assert.That(s.Backend!.Id, Is.Not.EqualTo("b1"), $"client {c}");
        }
        listener.Stop();
    }

    /// <summary>The example with a TCP check on every backend: b1's against a closed port, the others' against a listener.</summary>
    private static JsonNode WithChecks(int open, int closed)
    {
        var json = JsonNode.Parse(File.ReadAllText(ExamplePath), documentOptions: new System.Text.Json.JsonDocumentOptions { CommentHandling = System.Text.Json.JsonCommentHandling.Skip })!;
        var backends = json["services"]![0]!["backends"]!.AsArray();
        for (int i = 0; i < backends.Count; i++)
        {
            backends[i]!["check"] = new JsonObject
            {
                ["type"] = "tcp",
                ["target"] = $"127.0.0.1:{(i == 0 ? closed : open)}",
                // One probe at start only, and no timeout on the fake clock, which runs far ahead of the real sockets.
                ["intervalMs"] = 3_600_000,
                ["timeoutMs"] = 3_600_000,
                ["rise"] = 1,
                ["fall"] = 1,
            };
        }
        json["health"] = new JsonObject { ["agentListen"] = "127.0.0.1:0" };
        json["api"]!["listen"] = "127.0.0.1:0";
        return json;
    }

    private static (TcpListener Listener, int Open, int Closed) Ports()
    {
        var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        int closed;
        using (var probe = new TcpListener(IPAddress.Loopback, 0))
        {
            probe.Start();
            closed = ((IPEndPoint)probe.LocalEndpoint).Port;
        }
        return (listener, ((IPEndPoint)listener.LocalEndpoint).Port, closed);
    }

    [Test]
    public void A_tracked_pool_that_loses_a_backend_takes_weighting_off_the_group()
    {
        var (listener, open, closed) = Ports();
        using var _ = listener;
        var json = WithChecks(open, closed);
        json["groups"]![0]!["track"] = new JsonArray(new JsonObject { ["service"] = "192.0.2.10:80/tcp", ["minHealthy"] = 3, ["decrement"] = 60 });
        var config = GatewayConfig.Parse(json.ToJsonString());
        Assert.That(config.Tracks, Has.Count.EqualTo(1));

        using var rig = new DaemonRig();
        var logs = new LogCapture();
        var a = rig.Add(config, logs);
        a.Gateway.Start();
        Assert.That(a.Group.Weighting, Is.EqualTo(100));
        for (int i = 0; i < 400 && a.Gateway.BackendsView().Backends.Single(b => b.Id == "b1").Healthy; i++)
        {
            rig.Run(TimeSpan.FromMilliseconds(100));
            Thread.Sleep(25);
        }
        rig.Run(TimeSpan.FromSeconds(1));
        Assert.That(a.Group.Weighting, Is.EqualTo(40), "two of three healthy is below minHealthy 3: 100 - 60");
        var line = logs.Of<GatewayNode>(LogLevel.Warning).Single(e => e.Message.Contains("tracked pool", StringComparison.Ordinal));
        Assert.That(line.Properties["State"], Is.EqualTo("down"));
    }

    [Test]
    public void A_track_must_name_a_configured_service()
    {
        var json = JsonNode.Parse(File.ReadAllText(ExamplePath), documentOptions: new System.Text.Json.JsonDocumentOptions { CommentHandling = System.Text.Json.JsonCommentHandling.Skip })!;
        json["groups"]![0]!["track"] = new JsonArray(
            new JsonObject { ["service"] = "192.0.2.99:80/tcp", ["decrement"] = 10 },
            new JsonObject { ["service"] = "192.0.2.10:80", ["decrement"] = 10 },
            new JsonObject { ["service"] = "192.0.2.10:80/tcp" });
        var e = Assert.Throws<GatewayConfigException>(() => GatewayConfig.Parse(json.ToJsonString()))!;
        Assert.That(e.Message, Does.Contain("groups[0].track[0].service: '192.0.2.99:80/tcp' is not one of the services configured here"));
        Assert.That(e.Message, Does.Contain("groups[0].track[1].service: '192.0.2.10:80' is not VIP:PORT/tcp or VIP:PORT/udp"));
        Assert.That(e.Message, Does.Contain("groups[0].track[2].decrement"));
    }
}

/// <summary>
/// What a backend's established flows do when it goes down, per <c>health.onBackendDown</c>: drained (the default:
/// they run until the drain timeout), or removed at detection so their clients' next packets reach a live backend.
/// The backend goes down by its agent falling silent, which the fake clock decides alone.
/// </summary>
[NonParallelizable]
[Category("Model")]
public class DownPolicyTests
{
    [TestCase("drain")]
    [TestCase("remove-flows")]
    public void A_backend_that_goes_down_keeps_or_loses_its_flows_as_configured(string policy)
    {
        var json = JsonNode.Parse(File.ReadAllText(ExamplePath), documentOptions: new System.Text.Json.JsonDocumentOptions { CommentHandling = System.Text.Json.JsonCommentHandling.Skip })!;
        // b1's agent never reports: after three of its 10 s intervals it is silent and b1 goes down. (Its queries go to
        // the discard port on loopback.)
        json["services"]![0]!["backends"]![0]!["agent"] = new JsonObject { ["address"] = "127.0.0.1:9", ["key"] = "k", ["intervalMs"] = 10_000 };
        json["health"] = new JsonObject { ["agentListen"] = "127.0.0.1:0", ["onBackendDown"] = policy };
        json["api"]!["listen"] = "127.0.0.1:0";
        json["groups"]![0]!.AsObject().Remove("track");
        using var rig = new DaemonRig();
        var a = rig.Add(GatewayConfig.Parse(json.ToJsonString()));
        a.Gateway.Start();
        rig.Run(TimeSpan.FromSeconds(8));
        for (int c = 1; c <= 24; c++)
            rig.FromClient(ClientTcp(c, a.OwnVmac, TcpFlags.Syn));
        // Data after the handshake: established sessions, which do not idle out within the test as bare SYNs would.
        rig.Run(TimeSpan.FromSeconds(2));
        for (int c = 1; c <= 24; c++)
            rig.FromClient(ClientTcp(c, a.OwnVmac, TcpFlags.Ack, payload: 10));
        rig.Run(TimeSpan.FromSeconds(2));
        int onB1 = a.Gateway.Tracker.Sessions.Count(s => s.Backend?.Id == "b1");
        int total = a.Gateway.Tracker.Count;
        Assert.That(onB1, Is.GreaterThan(0), "Maglev gave b1 some of 24 clients");

        rig.Run(TimeSpan.FromSeconds(32));
        Assert.That(a.Gateway.BackendsView().Backends.Single(b => b.Id == "b1").Healthy, Is.False, "its agent fell silent");
        int left = a.Gateway.Tracker.Sessions.Count(s => s.Backend?.Id == "b1");
        if (policy == "drain")
        {
            Assert.That(left, Is.EqualTo(onB1), "draining: they run until the drain timeout");
        }
        else
        {
            Assert.That(left, Is.Zero);
            Assert.That(a.Gateway.Tracker.Count, Is.EqualTo(total - onB1), "the other backends' sessions stay");
            Assert.That(a.Gateway.Metrics(), Does.Contain($"offload_sessions_removed_on_down_total{{gateway=\"gw-a\"}} {onB1}"));
            // A removed client's next packet is a miss again, classified to a live backend.
            var moved = a.Gateway.Flows.Entries.Select(e => e.Key).ToHashSet();
            Assert.That(moved.Count, Is.EqualTo(2 * (total - onB1)), "forward and reverse entries of the rest only");
        }
    }
}
