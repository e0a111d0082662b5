using System.Net;
using System.Net.Sockets;
using System.Text;
using Offload.Cli;
using Offload.Protocol.Agent;

namespace Offload.Cli.Tests;

/// <summary>`offload agent` must not say "3 reports sent" and exit 0 when nothing reached a gateway.</summary>
[NonParallelizable]
public class AgentSendErrorTests
{
    private sealed class FixedLoad : IHostLoadSource
    {
        public HostLoad Sample() => new(0.1, 0.2, 3);
    }

    private static (int Rc, string Out, string Err) RunAgent(AgentArgs a)
    {
        var saved = Console.Error;
        using var err = new StringWriter();
        using var output = new StringWriter();
        Console.SetError(TextWriter.Synchronized(err));
        try
        {
            int rc = AgentCommand.Run(a, new FixedLoad(), TextWriter.Synchronized(output), CancellationToken.None);
            return (rc, output.ToString(), err.ToString());
        }
        finally
        {
            Console.SetError(saved);
        }
    }

    [Test]
    public void Reports_to_a_port_nothing_listens_on_are_errors_and_exit_1()
    {
        int closed;
        using (var s = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp))
        {
            s.Bind(new IPEndPoint(IPAddress.Loopback, 0));
            closed = ((IPEndPoint)s.LocalEndPoint!).Port;
        }
        var gateway = new IPEndPoint(IPAddress.Loopback, closed);
        var (rc, _, err) = RunAgent(new AgentArgs("web-1", Encoding.ASCII.GetBytes("k"), [gateway], TimeSpan.FromMilliseconds(50), null, false, 0, 3));
        Assert.That(rc, Is.EqualTo(1), err);
        Assert.That(err, Does.Contain(gateway.ToString()).And.Contain("refused"), err);
    }

    [Test]
    public void A_gateway_that_queries_with_another_key_is_named()
    {
        var status = new AgentGatewayStatus(IPEndPoint.Parse("192.0.2.1:7380"), Sent: 3, SendErrors: 0, LastError: SocketError.Success, QueriesAnswered: 0, QueriesRefused: 2);
        var (code, problems) = AgentCommand.Verdict([status]);
        Assert.That(code, Is.EqualTo(1));
        Assert.That(problems, Has.Some.Contains("192.0.2.1:7380").And.Some.Contains("another key").And.Some.Contains("no gateway was reached"));

        var fine = status with { QueriesRefused = 0 };
        Assert.That(AgentCommand.Verdict([fine, status]).Code, Is.Zero, "one gateway reached is enough to keep running");
    }
}
