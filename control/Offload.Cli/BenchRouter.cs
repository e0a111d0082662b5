using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;
using Spectre.Console;

namespace Offload.Cli;

/// <summary>One proxy's figures under the same wrk load as the others.</summary>
internal sealed record RouterBenchRow(string Proxy, double RequestsPerSecond, double P50Ms, double P99Ms, long Errors);

internal sealed record RouterBenchResult(IReadOnlyList<RouterBenchRow> Rows, int IdleConnections, long RouterRssBytes, long RouterRssIdleBaseBytes, string Load, string Note);

/// <summary>
/// `offload bench router [--json]`: the same two backends (one Kestrel server in this process, two ports), the same
/// load generator (Debian's wrk), one after the other: direct to a backend, through one Offload router (a child
/// `offload router` process), through HAProxy in HTTP mode and through nginx as a reverse proxy, both configured for
/// the same route and pool. Then the router's RSS with 10,000 idle keep-alive connections open. Everything shares this
/// machine's cores (wrk, the proxy and the backends), so the figures compare the proxies with each other here, not
/// with what each does on a machine of its own.
/// </summary>
internal static partial class BenchRouter
{
    public const int IdleConnections = 10_000;

    public static Command Command(Option<bool> json)
    {
        var seconds = new Option<int>("--seconds") { Description = "wrk run per proxy (1..120)", DefaultValueFactory = _ => 10 };
        var connections = new Option<int>("--connections") { Description = "wrk connections (1..1000)", DefaultValueFactory = _ => 64 };
        var rounds = new Option<int>("--rounds") { Description = "rounds of wrk over every proxy in turn; each figure is the median over the rounds (1..20)", DefaultValueFactory = _ => 3 };
        var cmd = new Command("router", "requests/s and p50/p99 latency through the Offload router, HAProxy and nginx against direct, with wrk; router RSS at 10,000 idle connections")
        {
            json, seconds, connections, rounds,
        };
        cmd.SetAction(r => Cli.Guard(() => Run(r.GetValue(json), r.GetValue(seconds), r.GetValue(connections), Console.Out, r.GetValue(rounds))));
        return cmd;
    }

    public static int Run(bool asJson, int seconds, int connections, TextWriter output, int rounds = 1)
    {
        ArgumentNullException.ThrowIfNull(output);
        if (rounds is < 1 or > 20)
            return Fail($"--rounds {rounds}: give 1..20");
        if (seconds is < 1 or > 120)
            return Fail($"--seconds {seconds}: give 1..120");
        if (connections is < 1 or > 1000)
            return Fail($"--connections {connections}: give 1..1000");
        foreach (var tool in new[] { "wrk", "haproxy", "nginx" })
        {
            if (Which(tool) is null)
                return Fail($"{tool} is not installed (Debian packages wrk, haproxy, nginx-light; ci/setup.sh installs them)");
        }
        void Say(string m)
        {
            if (!asJson)
                AnsiConsole.MarkupLine($"[grey]{Markup.Escape(m)}…[/]");
        }
        var result = Measure(seconds, connections, rounds, Say);
        if (asJson)
        {
            output.WriteLine(Json(result).ToJsonString(new System.Text.Json.JsonSerializerOptions { WriteIndented = true }));
            return 0;
        }
        var direct = result.Rows.Single(r => r.Proxy == "direct");
        var table = new Table().AddColumns("proxy", "requests/s", "× direct", "p50 ms", "p99 ms", "added p50 ms", "added p99 ms", "errors");
        foreach (var r in result.Rows)
        {
            table.AddRow(r.Proxy, r.RequestsPerSecond.ToString("0", CultureInfo.InvariantCulture), (r.RequestsPerSecond / direct.RequestsPerSecond).ToString("0.00", CultureInfo.InvariantCulture),
                F(r.P50Ms), F(r.P99Ms), F(r.P50Ms - direct.P50Ms), F(r.P99Ms - direct.P99Ms), r.Errors.ToString(CultureInfo.InvariantCulture));
        }
        AnsiConsole.Write(table);
        AnsiConsole.MarkupLine(Markup.Escape(string.Create(CultureInfo.InvariantCulture,
            $"router RSS with {result.IdleConnections} idle keep-alive connections: {result.RouterRssBytes / 1048576.0:0.0} MiB (idle router before them: {result.RouterRssIdleBaseBytes / 1048576.0:0.0} MiB)")));
        AnsiConsole.MarkupLine($"[grey]{Markup.Escape(result.Load)}. {Markup.Escape(result.Note)}[/]");
        return 0;
    }

    public static JsonObject Json(RouterBenchResult r)
    {
        ArgumentNullException.ThrowIfNull(r);
        var direct = r.Rows.Single(x => x.Proxy == "direct");
        var rows = new JsonArray();
        foreach (var x in r.Rows)
        {
            rows.Add(new JsonObject
            {
                ["proxy"] = x.Proxy,
                ["requests_per_second"] = Math.Round(x.RequestsPerSecond),
                ["p50_ms"] = Math.Round(x.P50Ms, 3),
                ["p99_ms"] = Math.Round(x.P99Ms, 3),
                ["throughput_ratio_to_direct"] = Math.Round(x.RequestsPerSecond / direct.RequestsPerSecond, 3),
                ["added_p50_ms"] = Math.Round(x.P50Ms - direct.P50Ms, 3),
                ["added_p99_ms"] = Math.Round(x.P99Ms - direct.P99Ms, 3),
                ["errors"] = x.Errors,
            });
        }
        return new JsonObject
        {
            ["rows"] = rows,
            ["idle_connections"] = r.IdleConnections,
            ["router_rss_bytes"] = r.RouterRssBytes,
            ["router_rss_before_idle_connections_bytes"] = r.RouterRssIdleBaseBytes,
            ["load"] = r.Load,
            ["note"] = r.Note,
        };
    }

    private static RouterBenchResult Measure(int seconds, int connections, int rounds, Action<string> say)
    {
        string dir = Directory.CreateTempSubdirectory("offload-bench-router-").FullName;
        try
        {
            using var loggers = LoggerFactory.Create(_ => { });
            var backends = StartBackends();
            var children = new List<Process>();
            try
            {
                int b1 = backends.Ports[0], b2 = backends.Ports[1];
                int routerPort = FreePort(), adminPort = FreePort();
                string routerConfig = Path.Combine(dir, "router.json");
                File.WriteAllText(routerConfig, $$"""
                    {
                      "router": { "name": "bench", "listen": "127.0.0.1:{{routerPort}}", "adminListen": "127.0.0.1:{{adminPort}}", "logLevel": "warning" },
                      "pools": [ { "id": "web", "backends": [ { "id": "b1", "address": "127.0.0.1", "port": {{b1}} }, { "id": "b2", "address": "127.0.0.1", "port": {{b2}} } ] } ],
                      "routes": [ { "id": "all", "pool": "web", "path": "/" } ]
                    }
                    """);
                var router = Start(OffloadCommand(), $"router --config {routerConfig}", dir);
                children.Add(router);
                WaitListening(routerPort, router);

                int haPort = FreePort();
                string haConfig = Path.Combine(dir, "haproxy.cfg");
                File.WriteAllText(haConfig, string.Create(CultureInfo.InvariantCulture, $"""
                    global
                        maxconn 4096
                        nbthread 2
                    defaults
                        mode http
                        option http-keep-alive
                        timeout connect 5s
                        timeout client 30s
                        timeout server 30s
                    frontend bench
                        bind 127.0.0.1:{haPort}
                        default_backend web
                    backend web
                        balance roundrobin
                        http-reuse always
                        server b1 127.0.0.1:{b1}
                        server b2 127.0.0.1:{b2}

                    """));
                var haproxy = Start(Which("haproxy")!, $"-db -f {haConfig}", dir);
                children.Add(haproxy);
                WaitListening(haPort, haproxy);

                int ngPort = FreePort();
                string ngConfig = Path.Combine(dir, "nginx.conf");
                File.WriteAllText(ngConfig, string.Create(CultureInfo.InvariantCulture, $$"""
                    worker_processes 2;
                    daemon off;
                    user root;
                    pid {{dir}}/nginx.pid;
                    error_log {{dir}}/nginx-error.log warn;
                    events { worker_connections 20000; }
                    http {
                        access_log off;
                        client_body_temp_path {{dir}}/body;
                        proxy_temp_path {{dir}}/proxy;
                        upstream web { server 127.0.0.1:{{b1}}; server 127.0.0.1:{{b2}}; keepalive 128; }
                        server {
                            listen 127.0.0.1:{{ngPort}};
                            location / { proxy_pass http://web; proxy_http_version 1.1; proxy_set_header Connection ""; }
                        }
                    }

                    """));
                var nginx = Start(Which("nginx")!, $"-p {dir} -c {ngConfig}", dir);
                children.Add(nginx);
                WaitListening(ngPort, nginx);

                // Every proxy is up (the idle ones cost nothing) so the rounds can take them in turn: on a machine shared
                // with other work, a burst of someone else's load then falls on one round of each proxy rather than on all
                // of one proxy's figures, and the median over the rounds drops it.
                var targets = new (string Proxy, int Port)[] { ("direct", b1), ("offload", routerPort), ("haproxy", haPort), ("nginx", ngPort) };
                // A warm-up long enough for the router's tiered JIT to finish (perf: the JIT took 12 % of the router's CPU
                // from 4 to 14 s of load, nothing after 20 s), the same for every proxy; its figures are dropped.
                int warm = Math.Min(10, 3 * seconds);
                foreach (var (proxy, port) in targets)
                {
                    say($"warming up {proxy} ({warm} s)");
                    _ = WrkOnce(proxy, port, warm, connections);
                }
                var runs = targets.ToDictionary(t => t.Proxy, _ => new List<RouterBenchRow>());
                for (int round = 1; round <= rounds; round++)
                {
                    foreach (var (proxy, port) in targets)
                    {
                        say($"round {round} of {rounds}: {proxy}");
                        runs[proxy].Add(WrkOnce(proxy, port, seconds, connections));
                    }
                }
                var rows = targets.Select(t => Median(t.Proxy, runs[t.Proxy])).ToList();
                say($"router RSS with {IdleConnections} idle keep-alive connections");
                var (rssBase, rss) = IdleRss(router, routerPort);
                string load = string.Create(CultureInfo.InvariantCulture,
                    $"wrk -t2 -c{connections} -d{seconds}s GET / (a 2-byte answer), median of {rounds} round(s) taking every proxy in turn, after a {warm} s warm-up each; {Environment.ProcessorCount} cores shared by wrk, the proxies and the backends");
                return new RouterBenchResult(rows, IdleConnections, rss, rssBase, load,
                    "backends: one Kestrel server in the bench process on two ports; each proxy balances over both; direct goes to the first");
            }
            finally
            {
                foreach (var child in children)
                {
                    Stop(child);
                    child.Dispose();
                }
                backends.App.StopAsync().GetAwaiter().GetResult();
                backends.App.DisposeAsync().AsTask().GetAwaiter().GetResult();
            }
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    private static (WebApplication App, int[] Ports) StartBackends()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        int[] ports = [FreePort(), FreePort()];
        builder.WebHost.ConfigureKestrel(k =>
        {
            foreach (int p in ports)
                k.Listen(IPAddress.Loopback, p);
        });
        var app = builder.Build();
        app.Run(static context => context.Response.WriteAsync("ok"));
        app.StartAsync().GetAwaiter().GetResult();
        return (app, ports);
    }

    /// <summary>Opens the idle connections, one request on each so each is a real keep-alive connection, and reads the router's RSS.</summary>
    private static (long Before, long With) IdleRss(Process router, int port)
    {
        long before = Rss(router);
        var sockets = new List<Socket>(IdleConnections);
        byte[] request = Encoding.ASCII.GetBytes("GET / HTTP/1.1\r\nHost: bench\r\n\r\n");
        byte[] buffer = new byte[1024];
        try
        {
            for (int i = 0; i < IdleConnections; i++)
            {
                var s = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
                sockets.Add(s);
                s.Connect(IPAddress.Loopback, port);
                s.Send(request);
                int n = s.Receive(buffer);
                if (n == 0 || !Encoding.ASCII.GetString(buffer, 0, n).StartsWith("HTTP/1.1 200", StringComparison.Ordinal))
                    throw new IOException($"idle connection {i}: the router answered '{Encoding.ASCII.GetString(buffer, 0, Math.Min(n, 40))}'");
            }
            // The router's memory settles after the last accept; read it after a moment without traffic.
            Thread.Sleep(2000);
            return (before, Rss(router));
        }
        finally
        {
            foreach (var s in sockets)
                s.Dispose();
        }
    }

    private static long Rss(Process p)
    {
        foreach (string line in File.ReadLines($"/proc/{p.Id}/status"))
        {
            if (line.StartsWith("VmRSS:", StringComparison.Ordinal))
                return long.Parse(line[6..].Trim().Split(' ')[0], CultureInfo.InvariantCulture) * 1024;
        }
        throw new IOException($"no VmRSS for process {p.Id}");
    }

    /// <summary>Each figure's median over the rounds (the rows need not be one round's); errors summed.</summary>
    private static RouterBenchRow Median(string proxy, List<RouterBenchRow> runs)
    {
        static double Mid(IEnumerable<double> values)
        {
            var v = values.Order().ToArray();
            return v.Length % 2 == 1 ? v[v.Length / 2] : (v[v.Length / 2 - 1] + v[v.Length / 2]) / 2;
        }
        return new RouterBenchRow(proxy, Mid(runs.Select(r => r.RequestsPerSecond)), Mid(runs.Select(r => r.P50Ms)), Mid(runs.Select(r => r.P99Ms)), runs.Sum(r => r.Errors));
    }

    private static RouterBenchRow WrkOnce(string proxy, int port, int seconds, int connections)
    {
        var psi = new ProcessStartInfo(Which("wrk")!, string.Create(CultureInfo.InvariantCulture, $"-t2 -c{connections} -d{seconds}s --latency http://127.0.0.1:{port}/"))
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        using var wrk = Process.Start(psi) ?? throw new IOException("wrk did not start");
        string text = wrk.StandardOutput.ReadToEnd();
        wrk.WaitForExit();
        var rps = RequestsPerSecond().Match(text);
        var p50 = Percentile("50", text);
        var p99 = Percentile("99", text);
        if (!rps.Success || p50 is null || p99 is null)
            throw new IOException($"wrk against {proxy}: no figures in its output: {text.Trim()}");
        long errors = 0;
        if (SocketErrors().Match(text) is { Success: true } se)
            errors += Enumerable.Range(1, 4).Sum(i => long.Parse(se.Groups[i].Value, CultureInfo.InvariantCulture));
        if (Non2xx().Match(text) is { Success: true } bad)
            errors += long.Parse(bad.Groups[1].Value, CultureInfo.InvariantCulture);
        return new RouterBenchRow(proxy, double.Parse(rps.Groups[1].Value, CultureInfo.InvariantCulture), p50.Value, p99.Value, errors);
    }

    private static double? Percentile(string p, string text)
    {
        var m = Regex.Match(text, $@"^\s+{p}%\s+([\d.]+)(us|ms|s)\s*$", RegexOptions.Multiline, TimeSpan.FromSeconds(1));
        if (!m.Success)
            return null;
        double v = double.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture);
        return m.Groups[2].Value switch { "us" => v / 1000, "ms" => v, _ => v * 1000 };
    }

    [GeneratedRegex(@"Requests/sec:\s+([\d.]+)")]
    private static partial Regex RequestsPerSecond();

    [GeneratedRegex(@"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)")]
    private static partial Regex SocketErrors();

    [GeneratedRegex(@"Non-2xx or 3xx responses: (\d+)")]
    private static partial Regex Non2xx();

    /// <summary>How to start this CLI again as a child: its apphost, or dotnet with the CLI's assembly (also when a test host runs this).</summary>
    private static (string File, string Prefix) OffloadCommand()
    {
        string process = Environment.ProcessPath ?? "dotnet";
        string name = Path.GetFileNameWithoutExtension(process);
        if (name == "offload")
            return (process, "");
        return (name == "dotnet" ? process : "dotnet", $"\"{typeof(BenchRouter).Assembly.Location}\" ");
    }

    private static Process Start((string File, string Prefix) command, string arguments, string dir) => Start(command.File, command.Prefix + arguments, dir);

    private static Process Start(string file, string arguments, string dir)
    {
        var psi = new ProcessStartInfo(file, arguments) { RedirectStandardOutput = true, RedirectStandardError = true, WorkingDirectory = dir };
        var p = Process.Start(psi) ?? throw new IOException($"{file} did not start");
        var err = StandardErrors.GetValue(p, _ => new StringBuilder());
        p.OutputDataReceived += (_, _) => { };
        p.ErrorDataReceived += (_, e) =>
        {
            lock (err)
                err.AppendLine(e.Data);
        };
        p.BeginOutputReadLine();
        p.BeginErrorReadLine();
        return p;
    }

    private static void Stop(Process p)
    {
        if (!p.HasExited)
            p.Kill(entireProcessTree: true);
        p.WaitForExit();
    }

    // What each child said on standard error, for the message when it does not come up.
    private static readonly System.Runtime.CompilerServices.ConditionalWeakTable<Process, StringBuilder> StandardErrors = new();

    private static string ErrorsOf(Process p)
    {
        p.WaitForExit();
        var err = StandardErrors.GetValue(p, _ => new StringBuilder());
        lock (err)
            return err.ToString().Trim();
    }

    private static void WaitListening(int port, Process p)
    {
        var end = DateTime.UtcNow + TimeSpan.FromSeconds(30);
        while (DateTime.UtcNow < end)
        {
            if (p.HasExited)
                throw new IOException($"{p.StartInfo.FileName} exited ({p.ExitCode}) before it listened on {port}: {ErrorsOf(p)}");
            try
            {
                using var s = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
                s.Connect(IPAddress.Loopback, port);
                return;
            }
            catch (SocketException)
            {
                Thread.Sleep(50);
            }
        }
        Stop(p);
        throw new IOException($"{p.StartInfo.FileName} did not listen on {port} within 30 s");
    }

    private static int FreePort()
    {
        using var s = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        s.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        return ((IPEndPoint)s.LocalEndPoint!).Port;
    }

    private static string? Which(string tool) =>
        (Environment.GetEnvironmentVariable("PATH") ?? "/usr/bin:/bin").Split(':').Concat(["/usr/sbin", "/sbin"]).Select(d => Path.Combine(d, tool)).FirstOrDefault(File.Exists);

    private static string F(double v) => v.ToString("0.000", CultureInfo.InvariantCulture);

    private static int Fail(string message)
    {
        Console.Error.WriteLine($"offload: {message}");
        return 2;
    }
}
