using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Text.Json.Nodes;
using Microsoft.Extensions.Logging;
using Offload.Protocol.Agent;
using static Offload.Daemon.Tests.DaemonRig;

namespace Offload.Daemon.Tests;

/// <summary>Agent reports the gateway refuses show in its metrics, its backends view and, at a bounded rate, its log.</summary>
[NonParallelizable]
[Category("Model")]
public class AgentRefusalTests
{
    private static int FreeUdpPort()
    {
        using var s = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
        s.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        return ((IPEndPoint)s.LocalEndPoint!).Port;
    }

    private static List<LogCapture.Entry> RefusalLines(LogCapture log) =>
        [.. log.Of<GatewayNode>(LogLevel.Warning).Where(static e => e.Message.Contains("Agent reports refused", StringComparison.Ordinal))];

    [Test]
    public void Refused_reports_are_counted_by_reason_shown_per_backend_and_logged_at_a_bounded_rate()
    {
        int gatewayPort = FreeUdpPort();
        var json = JsonNode.Parse(File.ReadAllText(ExamplePath), documentOptions: new System.Text.Json.JsonDocumentOptions { CommentHandling = System.Text.Json.JsonCommentHandling.Skip })!;
        json["services"]![0]!["backends"]![0]!["agent"] = new JsonObject
        {
            ["id"] = "b1-host",
            ["address"] = $"127.0.0.1:{FreeUdpPort()}",
            ["key"] = "the-right-key",
            ["intervalMs"] = 1000,
        };
        json["health"] = new JsonObject { ["agentListen"] = $"127.0.0.1:{gatewayPort}" };
        json["api"]!["listen"] = "127.0.0.1:0";
        var config = GatewayConfig.Parse(json.ToJsonString());

        using var rig = new DaemonRig();
        var log = new LogCapture();
        var a = rig.Add(config, log);
        a.Gateway.Start();

        using var udp = new UdpClient(new IPEndPoint(IPAddress.Loopback, 0));
        void SendWrongKey(int n)
        {
            for (int i = 0; i < n; i++)
            {
                var report = new AgentReport("b1-host", 1, (ulong)(i + 1), rig.Time.GetUtcNow(), 0.1, 0.1, 1, null, false, TimeSpan.FromSeconds(1));
                byte[] b = new byte[AgentProtocol.MaxLength];
                int len = AgentCodec.WriteReport(b, report, Encoding.UTF8.GetBytes("a-wrong-key"));
                udp.Send(b, len, new IPEndPoint(IPAddress.Loopback, gatewayPort));
            }
        }
        long BadMacOf(BackendsView v) => v.Backends.Single(b => b.Id == "b1").AgentRefused?.GetValueOrDefault("BadMac") ?? 0;
        void RunUntil(Func<bool> done, string what)
        {
            // Real loopback sockets: wait (bounded) for the datagrams to be taken.
            for (int i = 0; i < 400 && !done(); i++)
            {
                rig.Run(TimeSpan.FromMilliseconds(100));
                Thread.Sleep(25);
            }
            Assert.That(done(), Is.True, what);
        }

        SendWrongKey(40);
        RunUntil(() => BadMacOf(a.Gateway.BackendsView()) == 40, "40 refusals counted");
        rig.Run(TimeSpan.FromMilliseconds(100));
        var view = a.Gateway.BackendsView();
        string metrics = a.Gateway.Metrics();
        using (Assert.EnterMultipleScope())
        {
            Assert.That(view.AgentReportsRefused!["BadMac"], Is.EqualTo(40));
            Assert.That(metrics, Does.Contain("offload_agent_reports_refused_total{reason=\"BadMac\",gateway=\"gw-a\"} 40"));
            Assert.That(metrics, Does.Contain("offload_agent_reports_refused_total{reason=\"Replayed\",gateway=\"gw-a\"} 0"));
            Assert.That(RefusalLines(log), Has.Count.InRange(1, 2), "one line for a burst, not one per datagram");
            Assert.That(RefusalLines(log)[0].Message, Does.Contain("BadMac"));
        }

        int before = RefusalLines(log).Count;
        rig.Run(TimeSpan.FromSeconds(61));
        SendWrongKey(1);
        RunUntil(() => BadMacOf(a.Gateway.BackendsView()) == 41, "one more refusal");
        rig.Run(TimeSpan.FromMilliseconds(100));
        Assert.That(RefusalLines(log), Has.Count.EqualTo(before + 1), "after the quiet minute the next refusal is logged again");
    }
}
