using Offload.Cli;

namespace Offload.Cli.Tests;

/// <summary>`offload router` and `offload show routes`, in process, on loopback.</summary>
[NonParallelizable]
public class RouterCommandTests
{
    private static string Config(string routeId) => $$"""
        {
          "router": { "name": "cli-router", "listen": "127.0.0.1:0", "adminListen": "127.0.0.1:0", "logLevel": "warning" },
          "pools": [ { "id": "web", "backends": [ { "id": "web-1", "address": "127.0.0.1", "port": 9, "weight": 2 } ] } ],
          "routes": [ { "id": "{{routeId}}", "pool": "web", "path": "/app" } ]
        }
        """;

    [Test]
    public void A_bad_config_is_one_message_with_the_file_and_json_path_and_exit_2()
    {
        string file = Path.GetTempFileName();
        try
        {
            File.WriteAllText(file, Config("first").Replace("\"port\": 9", "\"port\": 70000", StringComparison.Ordinal));
            var (rc, err) = StandardError.Capture(() => RouterCommand.Run(new FileInfo(file), null, null, 1, false, TextWriter.Null, CancellationToken.None));
            Assert.That(rc, Is.EqualTo(2));
            Assert.That(err, Does.StartWith($"offload: {file}: 1 problem(s)").And.Contain("pools[0].backends[0].port: 70000 is outside 1..65535").And.Not.Contain("   at "));
            (rc, err) = StandardError.Capture(() => RouterCommand.Run(new FileInfo(file + ".missing"), null, null, 1, false, TextWriter.Null, CancellationToken.None));
            Assert.That(rc, Is.EqualTo(2));
            Assert.That(err, Does.Contain("no such file"));
            (rc, err) = StandardError.Capture(() => RouterCommand.Run(new FileInfo(file), null, "10.0.0.1:9490", 1, false, TextWriter.Null, CancellationToken.None));
            Assert.That(rc, Is.EqualTo(2));
            Assert.That(err, Does.Contain("--admin-listen '10.0.0.1:9490'"));
        }
        finally
        {
            File.Delete(file);
        }
    }

    [Test]
    public void The_router_serves_show_routes_and_a_reload_takes_a_good_file_and_refuses_a_bad_one()
    {
        string file = Path.GetTempFileName();
        File.WriteAllText(file, Config("first"));
        var started = new TaskCompletionSource<(Offload.Router.RouterHost Host, Action Reload)>(TaskCreationOptions.RunContinuationsAsynchronously);
        using var cancel = new CancellationTokenSource();
        var run = Task.Run(() => StandardError.Capture(() => RouterCommand.Run(new FileInfo(file), null, null, 60, false, TextWriter.Null, cancel.Token,
            (host, reload) => started.SetResult((host, reload)))));
        try
        {
            // A guard against a router that never comes up, not a performance assertion.
            Assert.That(Task.WaitAny([started.Task, run], TimeSpan.FromSeconds(60)), Is.Zero, run.IsCompleted ? run.Result.Err : "no start");
            var (host, reload) = started.Task.Result;
            using var table = new StringWriter();
            Assert.That(ShowCommand.Run("routes", host.AdminAddress.ToString(), json: false, 0, table), Is.Zero);
            Assert.That(table.ToString(), Does.Contain("cli-router: 1 route(s) over 1 pool(s)").And.Contain("first").And.Contain("/app/{**offload-rest}").And.Contain("web-1"));

            File.WriteAllText(file, Config("second"));
            reload();
            Until(() => host.View().Routes.Single().Id == "second", "the reload applies the new file");
            File.WriteAllText(file, "{ not json");
            reload();
            Until(() => Refused(host) == 1, "the broken file is refused");
            Assert.That(host.View().Routes.Single().Id, Is.EqualTo("second"), "a refused file leaves the running config");
            using var json = new StringWriter();
            Assert.That(ShowCommand.Run("routes", host.AdminAddress.ToString(), json: true, 0, json), Is.Zero);
            Assert.That(json.ToString(), Does.Contain("\"reloads\": 1"));
        }
        finally
        {
            cancel.Cancel();
            Assert.That(run.Wait(TimeSpan.FromSeconds(60)), Is.True);
            File.Delete(file);
        }
        Assert.That(run.Result.Rc, Is.Zero, run.Result.Err);
    }

    private static long Refused(Offload.Router.RouterHost host)
    {
        using var s = new MemoryStream();
        host.Metrics.Registry.CollectAndExportAsTextAsync(s).GetAwaiter().GetResult();
        string text = System.Text.Encoding.UTF8.GetString(s.ToArray());
        return text.Contains("offload_router_config_reloads_total{result=\"refused\",router=\"cli-router\"} 1", StringComparison.Ordinal) ? 1 : 0;
    }

    private static void Until(Func<bool> condition, string what)
    {
        var end = DateTime.UtcNow + TimeSpan.FromSeconds(10);
        while (!condition())
        {
            if (DateTime.UtcNow > end)
                Assert.Fail($"not within 10 s: {what}");
            Thread.Sleep(10);
        }
    }

    [Test]
    public void The_example_router_config_is_valid()
    {
        var config = Offload.Router.RouterConfig.Load(Path.Combine(TablesFileTests.RepoRoot(), "examples", "router.json"));
        Assert.That(config.Routes.Select(r => r.Id), Is.EqualTo(new[] { "api-v1", "beta", "site", "default" }));
    }

    [Test]
    public void Show_routes_without_a_router_says_so_and_exits_1()
    {
        var (rc, err) = StandardError.Capture(() => ShowCommand.Run("routes", "http://127.0.0.1:9/", json: false, 0, TextWriter.Null));
        Assert.That(rc, Is.EqualTo(1));
        Assert.That(err, Does.Contain("is `offload router` running?"));
    }
}

/// <summary>`offload bench router` end to end: wrk, HAProxy and nginx from Debian, the router as a child process.</summary>
[NonParallelizable]
[Category("System")]
public class BenchRouterTests
{
    [Test]
    public void Bench_router_json_has_a_row_per_proxy_with_figures_and_the_idle_rss()
    {
        using var output = new StringWriter();
        var (rc, err) = StandardError.Capture(() => BenchRouter.Run(asJson: true, seconds: 1, connections: 8, output));
        Assert.That(rc, Is.Zero, err);
        var json = System.Text.Json.Nodes.JsonNode.Parse(output.ToString())!;
        var rows = json["rows"]!.AsArray();
        Assert.That(rows.Select(r => (string)r!["proxy"]!), Is.EqualTo(new[] { "direct", "offload", "haproxy", "nginx" }));
        foreach (var r in rows)
        {
            Assert.That((double)r!["requests_per_second"]!, Is.GreaterThan(0), (string)r["proxy"]!);
            Assert.That((double)r["p99_ms"]!, Is.GreaterThanOrEqualTo((double)r["p50_ms"]!), (string)r["proxy"]!);
            Assert.That((long)r["errors"]!, Is.Zero, (string)r["proxy"]!);
        }
        Assert.That((int)json["idle_connections"]!, Is.EqualTo(10_000));
        Assert.That((long)json["router_rss_bytes"]!, Is.GreaterThan((long)json["router_rss_before_idle_connections_bytes"]!));
    }
}

/// <summary>`offload router` as its own process: SIGHUP reloads the file, SIGTERM stops it cleanly.</summary>
[NonParallelizable]
[Category("System")]
public class RouterProcessTests
{
    private static string Config(string routeId) => $$"""
        {
          "router": { "name": "proc-router", "listen": "127.0.0.1:0", "adminListen": "127.0.0.1:0" },
          "pools": [ { "id": "web", "backends": [ { "id": "web-1", "address": "127.0.0.1", "port": 9 } ] } ],
          "routes": [ { "id": "{{routeId}}", "pool": "web" } ]
        }
        """;

    private static void Signal(int pid, string signal)
    {
        using var kill = System.Diagnostics.Process.Start("kill", $"-{signal} {pid}")!;
        kill.WaitForExit();
        Assert.That(kill.ExitCode, Is.Zero, $"kill -{signal}");
    }

    [Test]
    public void Sighup_reloads_the_file_and_sigterm_stops_the_router_with_exit_0()
    {
        string file = Path.GetTempFileName();
        File.WriteAllText(file, Config("before"));
        // Started as under nohup, SIGHUP ignored: the router must still take it as its reload signal (a first CI run
        // beside a CPU hog was started so, and both SIGHUP tests waited in vain).
        var psi = new System.Diagnostics.ProcessStartInfo("sh", ["-c", "trap '' HUP; exec dotnet \"$0\" router --config \"$1\"", typeof(RouterCommand).Assembly.Location, file])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        using var router = System.Diagnostics.Process.Start(psi)!;
        var lines = new System.Collections.Concurrent.BlockingCollection<string>();
        // Everything the router printed, both streams, for a failure message: a reload that did not happen says why
        // only in the router's own log.
        var all = new System.Collections.Concurrent.ConcurrentQueue<string>();
        router.OutputDataReceived += (_, e) =>
        {
            if (e.Data is not null)
            {
                all.Enqueue(e.Data);
                lines.Add(e.Data);
            }
        };
        router.ErrorDataReceived += (_, e) =>
        {
            if (e.Data is not null)
                all.Enqueue(e.Data);
        };
        string Printed() => "; the router printed:\n" + string.Join('\n', all.TakeLast(40));
        router.BeginOutputReadLine();
        router.BeginErrorReadLine();
        try
        {
            Uri? admin = null;
            var end = DateTime.UtcNow + TimeSpan.FromSeconds(60);
            while (admin is null && DateTime.UtcNow < end && lines.TryTake(out string? line, TimeSpan.FromSeconds(60)))
            {
                var m = System.Text.RegularExpressions.Regex.Match(line, @"admin \(metrics, health, routes\) on (http://\S+/)");
                if (m.Success)
                    admin = new Uri(m.Groups[1].Value);
            }
            Assert.That(admin, Is.Not.Null, "the router said where its admin listener is");
            using var http = new HttpClient { BaseAddress = admin };
            string Routes() => http.GetStringAsync(new Uri("/api/routes", UriKind.Relative)).GetAwaiter().GetResult();
            Assert.That(Routes(), Does.Contain("\"before\""));

            File.WriteAllText(file, Config("after"));
            Signal(router.Id, "HUP");
            var until = DateTime.UtcNow + TimeSpan.FromSeconds(10);
            while (!Routes().Contains("\"after\"", StringComparison.Ordinal))
            {
                Assert.That(DateTime.UtcNow, Is.LessThan(until), () => "SIGHUP did not reload the file within 10 s" + Printed());
                Thread.Sleep(20);
            }
            Assert.That(router.HasExited, Is.False, "SIGHUP must not end the router");

            Signal(router.Id, "TERM");
            Assert.That(router.WaitForExit(30_000), Is.True, "SIGTERM stops the router");
            Assert.That(router.ExitCode, Is.Zero);
            router.WaitForExit();
            Assert.That(lines, Has.Some.Contains("stopped after 1 reload(s)"));
            Assert.That(all, Has.Some.Contains("SIGHUP was ignored when this process started"), "the router said it took SIGHUP back");
        }
        finally
        {
            if (!router.HasExited)
                router.Kill();
            File.Delete(file);
        }
    }
}
