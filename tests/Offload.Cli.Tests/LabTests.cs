using System.Diagnostics;
using System.Text.Json.Nodes;

namespace Offload.Cli.Tests;

/// <summary>
/// `offload lab` as a user runs it, as root: kernel hosts, three gateway daemons on their own models bound to veths,
/// nginx backends with agents, in network namespaces the lab makes and removes; the demo's scenario and every figure
/// it reports.
/// </summary>
[NonParallelizable]
[Category("System")]
public class LabTests
{
    private string _dir = "";

    // The demo samples the gateways' APIs this often: a detection time is late by up to one interval.
    private const double LabObserverInterval = 25;

    [SetUp]
    public void SetUp()
    {
        // A lab someone left up is theirs: the test does not tear it down to run.
        var (_, list, _) = Offload(TimeSpan.FromSeconds(30), "lab", "status", "--json");
        if (JsonNode.Parse(list)?["namespaces"]?.AsArray().Count > 0)
            Assert.Inconclusive("a lab is up on this machine (offload lab down removes it)");
        _dir = Path.Combine(Path.GetTempPath(), $"offload-lab-{Guid.NewGuid():N}");
    }

    [TearDown]
    public void TearDown()
    {
        // Whatever happened above, nothing of the lab stays behind.
        Offload(TimeSpan.FromSeconds(60), "lab", "down", "--dir", _dir);
        if (Directory.Exists(_dir))
            Directory.Delete(_dir, recursive: true);
    }

    private static (int Rc, string Out, string Err) Offload(TimeSpan limit, params string[] args)
    {
        string host = Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") is { Length: > 0 } h ? h : "dotnet";
        var psi = new ProcessStartInfo(host) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        psi.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "offload.dll"));
        foreach (string a in args)
            psi.ArgumentList.Add(a);
        using var p = Process.Start(psi)!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        if (!p.WaitForExit(limit))
        {
            p.Kill(entireProcessTree: true);
            Assert.Fail($"offload {string.Join(' ', args)} ran longer than {limit}: {stderr.Result}");
        }
        p.WaitForExit();
        return (p.ExitCode, stdout.Result, stderr.Result);
    }

    private static List<string> LabNamespaces()
    {
        var (_, output, _) = Offload(TimeSpan.FromSeconds(30), "lab", "status", "--json");
        return JsonNode.Parse(output)!["namespaces"]!.AsArray().Select(n => (string)n!).ToList();
    }

    [Test]
    public void Demo_fails_over_gateways_with_nothing_lost_and_reports_every_figure()
    {
        var (rc, output, err) = Offload(TimeSpan.FromMinutes(5), "lab", "demo", "--json", "--dir", _dir);
        var report = JsonNode.Parse(output)!;
        Assert.That(rc, Is.Zero, $"{output}\n{err}");
        Assert.That((string?)report["verdict"], Is.EqualTo("pass"), output);

        var events = report["events"]!.AsArray();
        Assert.That(events.Select(e => (string)e!["kind"]!), Is.EqualTo(new[] { "avg-killed", "forwarder-killed", "backend-killed", "gateway-restarted", "gateway-restarted" }));
        foreach (var e in events.Where(e => (string)e!["kind"]! != "backend-killed"))
        {
            string what = $"{e!["kind"]} {e["target"]}";
            using (Assert.EnterMultipleScope())
            {
                Assert.That((int)e["connections_broken"]!, Is.Zero, what);
                Assert.That((int)e["requests_failed"]!, Is.Zero, what);
                Assert.That((double?)e["detection_ms"], Is.Not.Null.And.GreaterThan(0), what);
                Assert.That((double?)e["recovery_ms"], Is.Not.Null.And.GreaterThan(0), what);
                Assert.That((double?)e["switch_relearn_ms"], Is.Not.Null.And.GreaterThan(0), what);
                Assert.That((bool)e["neighbours_on_live_forwarders"]!, Is.True, what);
            }
        }
        // Killed gateways: a takeover needs the hold time (700 ms) to pass, and comes within a few hellos after it; the
        // affected hosts are served again only after it.
        foreach (var e in events.Take(2))
        {
            Assert.That((double)e!["detection_ms"]!, Is.InRange(300, 5000), (string)e["kind"]!);
            Assert.That((double)e["recovery_ms"]!, Is.GreaterThanOrEqualTo((double)e["detection_ms"]! - LabObserverInterval), (string)e["kind"]!);
        }
        var backend = events[2]!;
        Assert.That((double?)backend["detection_ms"], Is.Not.Null, "the dead backend left the pools");
        // Only the dead backend's connections may break: at most one long-lived connection per host.
        Assert.That((int)backend["connections_broken"]!, Is.InRange(0, 8));

        var spread = report["hosts_per_forwarder"]!.AsObject();
        Assert.That(spread.Sum(p => (int)p.Value!), Is.EqualTo(8), "every host resolved the virtual IP");
        Assert.That(spread.Select(p => p.Key), Has.All.StartWith("00:07:b4:00:01:"), "to vMACs of group 1");
        Assert.That(spread, Has.Count.EqualTo(3), "round-robin spreads 8 hosts over all 3 forwarders");
        Assert.That(report["requests_per_backend"]!.AsObject().Select(p => p.Key), Is.EquivalentTo(new[] { "b1", "b2", "b3", "b4" }));
        Assert.That((int)report["glbp_packets"]!, Is.GreaterThan(50));
        Assert.That((int)report["glbp_malformed"]!, Is.Zero);
        Assert.That(File.Exists(Path.Combine(_dir, "report.json")), Is.True);
        Assert.That(new FileInfo(Path.Combine(_dir, "report.png")).Length, Is.GreaterThan(10_000));
        Assert.That(LabNamespaces(), Is.Empty, "the demo removed the lab it built");
    }

    [Test]
    public void Up_refuses_leftovers_and_down_removes_what_a_killed_run_left()
    {
        using (var add = Process.Start("ip", "netns add ofl-sw")!)
            add.WaitForExit();
        var (rc, _, err) = Offload(TimeSpan.FromSeconds(60), "lab", "up", "--dir", _dir);
        Assert.That(rc, Is.EqualTo(2));
        Assert.That(err, Does.Contain("leftovers of an earlier lab: ofl-sw").And.Contain("offload lab down"));
        Assert.That(LabNamespaces(), Is.EqualTo(new[] { "ofl-sw" }), "a refused up adds nothing");

        var (down, output, _) = Offload(TimeSpan.FromSeconds(60), "lab", "down", "--dir", _dir);
        Assert.That(down, Is.Zero);
        Assert.That(output, Does.Contain("removed 1 namespaces: ofl-sw"));
        Assert.That(LabNamespaces(), Is.Empty);
    }

    [Test]
    public void Bench_lab_measures_keepalived_and_haproxy_failing_over_and_breaking_every_connection_they_held()
    {
        var (rc, output, err) = Offload(TimeSpan.FromMinutes(5), "bench", "lab", "--only", "peers", "--kills", "1", "--json", "--dir", _dir);
        Assert.That(rc, Is.Zero, $"{output}\n{err}");
        var peers = JsonNode.Parse(output)!["peers"]!.AsArray();
        Assert.That(peers.Select(p => (double)p!["advert_ms"]!), Is.EqualTo(new[] { 1000.0, 10.0 }));
        foreach (var p in peers)
        {
            string what = $"advert {p!["advert_ms"]} ms";
            Assert.That((int)p["kills"]!, Is.EqualTo(1), what);
            Assert.That((double?)p["detection_ms"]!["worst"], Is.Not.Null.And.GreaterThan(0).And.LessThan(10_000), what);
            // HAProxy shares no state: each host's long-lived connection through the dead master breaks.
            Assert.That((int)p["connections_broken"]!, Is.EqualTo(4), what);
            // VRRP puts every host on the master.
            Assert.That(p["hosts_per_gateway"]!.AsObject().Single().Value!.GetValue<int>(), Is.EqualTo(4), what);
        }
        Assert.That(LabNamespaces(), Is.Empty, "the bench removed its labs");
    }

    [Test]
    public void Demo_without_root_says_why_in_one_line_and_runs_the_in_process_demo()
    {
        // The README's main command on a machine where namespaces cannot be made: the same CLI as an unprivileged user.
        string host = Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") is { Length: > 0 } h ? h : "dotnet";
        var psi = new ProcessStartInfo("setpriv") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in (string[])["--reuid", "65534", "--regid", "65534", "--clear-groups", "env", "HOME=/tmp", "DOTNET_CLI_HOME=/tmp",
            host, Path.Combine(AppContext.BaseDirectory, "offload.dll"), "lab", "demo", "--dir", _dir])
            psi.ArgumentList.Add(a);
        using var p = Process.Start(psi)!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        Assert.That(p.WaitForExit(TimeSpan.FromMinutes(3)), Is.True, "the in-process demo ends");
        p.WaitForExit();
        Assert.That(p.ExitCode, Is.Zero, stderr.Result);
        Assert.That(stderr.Result.Trim().Split('\n'), Has.One.EqualTo("offload: lab: the lab needs root (network namespaces, veths, raw sockets); running the in-process demo instead"));
        Assert.That(stdout.Result, Does.Contain("established connections continued on their backends; 0 lost"));
        Assert.That(LabNamespaces(), Is.Empty);
    }
}
