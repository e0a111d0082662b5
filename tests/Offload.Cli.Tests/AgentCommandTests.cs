using System.CommandLine;
using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text;
using Offload.Cli;
using Offload.Protocol.Agent;

namespace Offload.Cli.Tests;

/// <summary>`offload agent` as a user runs it: the real executable reporting to a UDP socket of the test on 127.0.0.1.</summary>
[NonParallelizable]
public class AgentCommandTests
{
    private const string KeyText = "cli-agent-key";
    private static readonly byte[] Key = Encoding.ASCII.GetBytes(KeyText);
    private string _dir = "";
    private string _keyFile = "";

    [SetUp]
    public void SetUp()
    {
        _dir = Path.Combine(Path.GetTempPath(), $"offload-agent-{Guid.NewGuid():N}");
        Directory.CreateDirectory(_dir);
        _keyFile = Path.Combine(_dir, "agent.key");
        File.WriteAllText(_keyFile, KeyText + "\n");
    }

    [TearDown]
    public void TearDown() => Directory.Delete(_dir, recursive: true);

    private static Process Start(params string[] args)
    {
        string host = Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") is { Length: > 0 } h ? h : "dotnet";
        var psi = new ProcessStartInfo(host) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        psi.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "offload.dll"));
        foreach (string a in args)
            psi.ArgumentList.Add(a);
        return Process.Start(psi)!;
    }

    private static (int Code, string Out, string Err) Finish(Process p)
    {
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        if (!p.WaitForExit(60_000))
        {
            p.Kill(entireProcessTree: true);
            Assert.Fail("offload agent did not stop after --count reports");
        }
        return (p.ExitCode, stdout.Result, stderr.Result);
    }

    /// <summary>One datagram, or a failed test if none comes (the agent process is killed by the caller's finally).</summary>
    private static (byte[] Data, IPEndPoint From) Receive(UdpClient udp)
    {
        var from = new IPEndPoint(IPAddress.Any, 0);
        try
        {
            return (udp.Receive(ref from), from);
        }
        catch (SocketException e) when (e.SocketErrorCode == SocketError.TimedOut)
        {
            Assert.Fail("no report from offload agent");
            throw;
        }
    }

    private static UdpClient Gateway()
    {
        var udp = new UdpClient(new IPEndPoint(IPAddress.Loopback, 0));
        udp.Client.ReceiveTimeout = 30_000;
        return udp;
    }

    [Test]
    public void The_agent_sends_count_signed_reports_of_this_host()
    {
        using var udp = Gateway();
        var gw = (IPEndPoint)udp.Client.LocalEndPoint!;
        using var p = Start("agent", "--gateway", $"127.0.0.1:{gw.Port}", "--id", "web-1", "--key-file", _keyFile,
            "--interval", "100ms", "--count", "3", "--listen", "0", "--weight", "12");
        var reports = new List<AgentReport>();
        try
        {
            for (int i = 0; i < 3; i++)
            {
                var (data, _) = Receive(udp);
                Assert.That(AgentCodec.TryDecode(data, Key, out AgentFrame f), Is.EqualTo(AgentReject.None), "a report the gateway's codec takes");
                reports.Add(f.ToReport());
            }
        }
        finally
        {
            if (!p.HasExited)
                p.WaitForExit(30_000);
        }
        var (code, stdout, stderr) = Finish(p);
        using (Assert.EnterMultipleScope())
        {
            Assert.That(code, Is.Zero, stderr);
            Assert.That(stdout, Does.Contain("3 reports sent"));
            Assert.That(reports.Select(static r => r.Sequence), Is.EqualTo(new[] { 1UL, 2UL, 3UL }));
            Assert.That(reports.Select(static r => r.BootId).Distinct().Count(), Is.EqualTo(1), "one boot");
            Assert.That(reports, Has.All.Matches<AgentReport>(static r => r.Id == "web-1" && r.Weight == 12 && !r.Drain && r.Interval == TimeSpan.FromMilliseconds(100)));
            Assert.That(reports, Has.All.Matches<AgentReport>(static r => r.Cpu >= 0 && r.Cpu <= 1 && r.Memory > 0 && r.Memory < 1),
                "CPU and memory of this host from /proc");
            Assert.That(reports[0].Time, Is.EqualTo(DateTimeOffset.UtcNow).Within(TimeSpan.FromMinutes(2)), "sender time is the wall clock");
        }
    }

    [Test]
    public void The_agent_answers_a_query_at_once_and_ignores_a_forged_one()
    {
        using var udp = Gateway();
        var gw = (IPEndPoint)udp.Client.LocalEndPoint!;
        // An hour between reports: the second report can only be the answer to the query.
        using var p = Start("agent", "--gateway", $"127.0.0.1:{gw.Port}", "--id", "web-2", "--key", KeyText,
            "--interval", "60m", "--count", "2", "--listen", "0", "--drain");
        AgentReport first, answer;
        try
        {
            var (data, agentAt) = Receive(udp);
            Assert.That(AgentCodec.TryDecode(data, Key, out AgentFrame f), Is.EqualTo(AgentReject.None));
            first = f.ToReport();
            byte[] q = new byte[AgentProtocol.MaxLength];
            int forged = AgentCodec.WriteQuery(q, new AgentQuery("web-2", 1, 1, DateTimeOffset.UtcNow), "wrong-key"u8);
            udp.Send(q, forged, agentAt);
            int n = AgentCodec.WriteQuery(q, new AgentQuery("web-2", 1, 2, DateTimeOffset.UtcNow), Key);
            udp.Send(q, n, agentAt);
            (data, _) = Receive(udp);
            Assert.That(AgentCodec.TryDecode(data, Key, out AgentFrame g), Is.EqualTo(AgentReject.None));
            answer = g.ToReport();
        }
        finally
        {
            if (!p.HasExited)
                p.WaitForExit(30_000);
        }
        var (code, stdout, stderr) = Finish(p);
        using (Assert.EnterMultipleScope())
        {
            Assert.That(code, Is.Zero, stderr);
            Assert.That(first.Drain, Is.True);
            Assert.That(first.Weight, Is.Null, "no --weight: the gateway keeps its own");
            Assert.That(answer.Sequence, Is.EqualTo(2UL));
            Assert.That(answer.BootId, Is.EqualTo(first.BootId));
            Assert.That(stdout, Does.Contain("2 reports sent, 1 queries answered"), "the forged query got no answer");
        }
    }

    [Test]
    public void Without_a_count_the_agent_runs_until_sigterm_and_then_exits_cleanly()
    {
        using var udp = Gateway();
        var gw = (IPEndPoint)udp.Client.LocalEndPoint!;
        using var p = Start("agent", "--gateway", $"127.0.0.1:{gw.Port}", "--id", "web-3", "--key", KeyText, "--interval", "50ms", "--listen", "0");
        try
        {
            for (int i = 0; i < 2; i++)
                Assert.That(AgentCodec.TryDecode(Receive(udp).Data, Key, out _), Is.EqualTo(AgentReject.None));
            using var kill = Process.Start("kill", ["-TERM", p.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)])!;
            kill.WaitForExit();
        }
        finally
        {
            if (!p.HasExited)
                p.WaitForExit(30_000);
        }
        var (code, stdout, stderr) = Finish(p);
        Assert.That(code, Is.Zero, stderr);
        Assert.That(stdout, Does.Match(@"web-3: \d+ reports sent, 0 queries answered"));
    }

    private static (int Code, string Err) RunInProcess(params string[] args)
    {
        var root = new RootCommand { AgentCommand.Create() };
        var err = new StringWriter();
        var saved = Console.Error;
        Console.SetError(err);
        try
        {
            return (root.Parse(["agent", .. args]).Invoke(), err.ToString());
        }
        finally
        {
            Console.SetError(saved);
        }
    }

    public static IEnumerable<TestCaseData> BadArguments()
    {
        TestCaseData Case(string expect, params string[] args) => new TestCaseData(args, expect).SetName($"Bad arguments: {string.Join(' ', args.Skip(6))} → {expect}");
        string[] ok = ["--gateway", "127.0.0.1:7380", "--id", "web-1", "--key", "k", "--listen", "0"];
        string[] Without(string option) => [.. ok.Select((a, i) => (a, i)).Where(x => x.a != option && (x.i == 0 || ok[x.i - 1] != option)).Select(static x => x.a)];
        yield return Case("--id is required", Without("--id"));
        yield return Case("--gateway is required", Without("--gateway"));
        yield return Case("an HMAC key is required", Without("--key"));
        yield return Case("not both", [.. ok, "--key-file", "/etc/hostname"]);
        yield return Case("no such file", [.. Without("--key"), "--key-file", "/nonexistent/agent.key"]);
        yield return Case("the port must be 1..65535", [.. Without("--gateway"), "--gateway", "127.0.0.1:99999"]);
        yield return Case("no host", [.. Without("--gateway"), "--gateway", ":7380"]);
        yield return Case("printable ASCII", [.. Without("--id"), "--id", "web 1"]);
        yield return Case("give a duration", [.. ok, "--interval", "fast"]);
        yield return Case("give 1ms .. 60m", [.. ok, "--interval", "0s"]);
        yield return Case("give 1ms .. 60m", [.. ok, "--interval", "61m"]);
        yield return Case("--weight 70000: give 0..65535", [.. ok, "--weight", "70000"]);
        yield return Case("--listen 70000", [.. Without("--listen"), "--listen", "70000"]);
        yield return Case("--count 0: give 1 or more", [.. ok, "--count", "0"]);
    }

    [TestCaseSource(nameof(BadArguments))]
    public void Bad_arguments_give_a_clear_error_and_exit_2(string[] args, string expect)
    {
        var (code, err) = RunInProcess(args);
        using (Assert.EnterMultipleScope())
        {
            Assert.That(code, Is.EqualTo(2));
            Assert.That(err, Does.StartWith("offload: ").And.Contain(expect));
        }
    }

    [Test]
    public void Intervals_and_gateways_parse_as_documented()
    {
        using (Assert.EnterMultipleScope())
        {
            Assert.That(AgentCommand.ParseInterval("500ms"), Is.EqualTo(TimeSpan.FromMilliseconds(500)));
            Assert.That(AgentCommand.ParseInterval("1.5s"), Is.EqualTo(TimeSpan.FromMilliseconds(1500)));
            Assert.That(AgentCommand.ParseInterval("2m"), Is.EqualTo(TimeSpan.FromMinutes(2)));
            Assert.That(AgentCommand.ParseInterval("3"), Is.EqualTo(TimeSpan.FromSeconds(3)), "a bare number is seconds");
            Assert.That(AgentCommand.ParseGateway("127.0.0.1"), Is.EqualTo(new IPEndPoint(IPAddress.Loopback, AgentProtocol.DefaultGatewayPort)));
            Assert.That(AgentCommand.ParseGateway("[::1]:9000"), Is.EqualTo(new IPEndPoint(IPAddress.IPv6Loopback, 9000)));
            Assert.That(AgentCommand.ParseGateway("localhost:9001").Port, Is.EqualTo(9001));
        }
    }
}
