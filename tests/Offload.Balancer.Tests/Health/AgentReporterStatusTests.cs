using System.Net;
using System.Net.Sockets;
using System.Text;
using Microsoft.Extensions.Time.Testing;
using Offload.Protocol.Agent;

namespace Offload.Balancer.Tests.Health;

/// <summary>What an agent can learn about each gateway without acknowledgements: send errors and the gateway's queries.</summary>
[NonParallelizable]
public class AgentReporterStatusTests
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(20);

    private sealed class FixedLoad : IHostLoadSource
    {
        public HostLoad Sample() => new(0.1, 0.2, 3);
    }

    [Test]
    public void Queries_under_another_key_and_valid_ones_are_counted_against_the_gateway_that_sent_them()
    {
        var time = new FakeTimeProvider(new DateTimeOffset(2025, 3, 1, 12, 0, 0, TimeSpan.Zero));
        using var gateway = new UdpClient(new IPEndPoint(IPAddress.Loopback, 0));
        gateway.Client.ReceiveTimeout = (int)Patience.TotalMilliseconds;
        var gw = (IPEndPoint)gateway.Client.LocalEndPoint!;
        byte[] key = Encoding.ASCII.GetBytes("agent-key");
        using var reporter = new AgentReporter(
            new AgentReporterOptions("web-1", key, [gw], TimeSpan.FromSeconds(1), new IPEndPoint(IPAddress.Loopback, 0)), new FixedLoad(), time);
        reporter.Start();
        var agentAt = new IPEndPoint(IPAddress.Any, 0);
        gateway.Receive(ref agentAt);

        byte[] q = new byte[AgentProtocol.MaxLength];
        int n = AgentCodec.WriteQuery(q, new AgentQuery("web-1", 1, 1, time.GetUtcNow()), "gateway-has-another-key"u8);
        gateway.Send(q, n, agentAt);
        Assert.That(SpinWait.SpinUntil(() => reporter.GatewayStatus()[0].QueriesRefused == 1, Patience), Is.True, "the refused query");
        n = AgentCodec.WriteQuery(q, new AgentQuery("web-1", 1, 2, time.GetUtcNow()), key);
        gateway.Send(q, n, agentAt);
        Assert.That(SpinWait.SpinUntil(() => reporter.GatewayStatus()[0].QueriesAnswered == 1, Patience), Is.True, "the answered query");

        var s = reporter.GatewayStatus().Single();
        Assert.That((s.Gateway, s.Sent, s.SendErrors), Is.EqualTo((gw, 2L, 0L)), "the first report and the answer");
    }

    [Test]
    public void Reports_to_a_closed_port_come_back_as_send_errors()
    {
        var time = new FakeTimeProvider(new DateTimeOffset(2025, 3, 1, 12, 0, 0, TimeSpan.Zero));
        IPEndPoint closed;
        using (var s = new UdpClient(new IPEndPoint(IPAddress.Loopback, 0)))
            closed = (IPEndPoint)s.Client.LocalEndPoint!;
        using var reporter = new AgentReporter(
            new AgentReporterOptions("web-1", "k"u8.ToArray(), [closed], TimeSpan.FromSeconds(1), new IPEndPoint(IPAddress.Loopback, 0)), new FixedLoad(), time);
        reporter.Start();
        Assert.That(SpinWait.SpinUntil(() => reporter.GatewayStatus()[0].SendErrors >= 1, Patience), Is.True, "ICMP port unreachable");
        Assert.That(reporter.GatewayStatus()[0].LastError, Is.EqualTo(SocketError.ConnectionRefused));
    }
}
