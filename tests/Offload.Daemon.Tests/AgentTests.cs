using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Text.Json.Nodes;
using Offload.Protocol;
using Offload.Protocol.Agent;
using static Offload.Daemon.Tests.DaemonRig;

namespace Offload.Daemon.Tests;

/// <summary>
/// An agent configured in the file reaches the balancer through the node: a real <see cref="AgentReporter"/> on
/// loopback answers the gateway's start-up query, its drain flag takes the backend's weight to 0 and its load
/// lowers nothing else; new connections avoid the drained backend.
/// </summary>
[NonParallelizable]
[Category("Model")]
public class AgentTests
{
    private sealed class FixedLoad(HostLoad load) : IHostLoadSource
    {
        public HostLoad Sample() => load;
    }

    private static int FreeUdpPort()
    {
        using var s = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
        s.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        return ((IPEndPoint)s.LocalEndPoint!).Port;
    }

    [Test]
    public void A_draining_agent_takes_its_backend_out_of_new_connections()
    {
        int gatewayPort = FreeUdpPort();
        int agentPort = FreeUdpPort();
        const string Key = "agent-test-key";
        var json = JsonNode.Parse(File.ReadAllText(ExamplePath), documentOptions: new System.Text.Json.JsonDocumentOptions { CommentHandling = System.Text.Json.JsonCommentHandling.Skip })!;
        json["services"]![0]!["backends"]![0]!["agent"] = new JsonObject
        {
            ["id"] = "b1-host",
            ["address"] = $"127.0.0.1:{agentPort}",
            ["key"] = Key,
            ["intervalMs"] = 1000,
        };
        json["health"] = new JsonObject { ["agentListen"] = $"127.0.0.1:{gatewayPort}" };
        json["api"]!["listen"] = "127.0.0.1:0";
        var config = GatewayConfig.Parse(json.ToJsonString());

        using var rig = new DaemonRig();
        // The agent runs on the rig's clock too, so its reports and the gateway's silence timer agree.
        using var agent = new AgentReporter(
            new AgentReporterOptions("b1-host", Encoding.UTF8.GetBytes(Key), [new IPEndPoint(IPAddress.Loopback, gatewayPort)], TimeSpan.FromSeconds(1),
                new IPEndPoint(IPAddress.Loopback, agentPort), Drain: true),
            new FixedLoad(new HostLoad(0.2, 0.3, 12)), rig.Time);
        agent.Start();
        var a = rig.Add(config);
        a.Gateway.Start();

        // Real loopback sockets: wait (bounded) for the query and its answer to go round.
        for (int i = 0; i < 400 && a.Gateway.BackendsView().Backends.Single(b => b.Id == "b1").Weight != 0; i++)
        {
            rig.Run(TimeSpan.FromMilliseconds(100));
            Thread.Sleep(25);
        }
        var b1 = a.Gateway.BackendsView().Backends.Single(b => b.Id == "b1");
        using (Assert.EnterMultipleScope())
        {
            Assert.That(agent.QueriesAnswered, Is.GreaterThanOrEqualTo(1), "the gateway asked at start");
            Assert.That(b1.Weight, Is.Zero, "the drain flag");
            Assert.That(b1.Healthy, Is.True, "draining is not failing");
            Assert.That(b1.Draining, Is.False, "weight 0, not removal: existing connections are untouched");
        }

        rig.Run(TimeSpan.FromSeconds(8));
        for (int c = 1; c <= 12; c++)
        {
            rig.FromClient(ClientTcp(c, a.OwnVmac, TcpFlags.Syn));
            Assert.That(a.Gateway.Tracker.TryGet(new Device.FlowKey(0, ClientIp(c), ServiceVip, IpProtocol.Tcp, ClientPort(c), ServicePort), out var s), Is.True);
            Assert.That(s.Backend!.Id, Is.Not.EqualTo("b1"), $"client {c}");
        }
    }
}
