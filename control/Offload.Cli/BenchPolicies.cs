using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Text;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Offload.Protocol.Agent;
using Offload.Router;
using Spectre.Console;

namespace Offload.Cli;

/// <summary>One policy's figures under the same closed-loop load.</summary>
internal sealed record PolicyBenchRow(string Policy, double RequestsPerSecond, double P50Ms, double P99Ms, long[] Requests, double Spread);

/// <summary>
/// `offload bench policies [--json]`: which load-aware policy balances better under live load. Three real HTTP
/// backends (Kestrel on loopback) of different capacity (1, 2 and 4 requests at a time, 4 ms each, the rest queue),
/// each with a real agent reporter telling one router (in this process) its live figure (requests in it over its
/// capacity, capped at 1) every 100 ms, as <c>offload agent</c> reports CPU. The same closed loop of clients runs
/// through three pools over the same backends in turn: weighted (equal weights: blind to load, the baseline),
/// least-loaded and power-of-two-load. Printed: requests/s, client p50/p99, each backend's requests, and the spread:
/// the largest over the smallest of requests per unit of capacity (1 is perfect).
/// </summary>
internal static class BenchPolicies
{
    private static readonly int[] Capacities = [1, 2, 4];
    private const int ServiceMs = 4;
    private const string Key = "bench policies agent key";

    public static Command Command(Option<bool> json)
    {
        var seconds = new Option<int>("--seconds") { Description = "load per policy (1..120)", DefaultValueFactory = _ => 10 };
        var clients = new Option<int>("--clients") { Description = "concurrent clients, each one request at a time (1..256)", DefaultValueFactory = _ => 24 };
        var cmd = new Command("policies", "least-loaded against power-of-two-load (and weighted) on the agents' live figures: three backends of different capacity, spread and p99")
        {
            json, seconds, clients,
        };
        cmd.SetAction(r => Cli.Guard(() => Run(r.GetValue(json), r.GetValue(seconds), r.GetValue(clients), Console.Out)));
        return cmd;
    }

    public static int Run(bool asJson, int seconds, int clients, TextWriter output)
    {
        ArgumentNullException.ThrowIfNull(output);
        if (seconds is < 1 or > 120 || clients is < 1 or > 256)
        {
            Console.Error.WriteLine("offload: give --seconds 1..120 and --clients 1..256");
            return 2;
        }
        var rows = MeasureAsync(seconds, clients).GetAwaiter().GetResult();
        if (asJson)
        {
            var array = new JsonArray();
            foreach (var r in rows)
            {
                array.Add(new JsonObject
                {
                    ["policy"] = r.Policy,
                    ["requests_per_second"] = Math.Round(r.RequestsPerSecond),
                    ["p50_ms"] = Math.Round(r.P50Ms, 3),
                    ["p99_ms"] = Math.Round(r.P99Ms, 3),
                    ["requests"] = new JsonArray([.. r.Requests.Select(n => (JsonNode)n)]),
                    ["spread"] = Math.Round(r.Spread, 3),
                });
            }
            output.WriteLine(new JsonObject
            {
                ["rows"] = array,
                ["capacities"] = new JsonArray([.. Capacities.Select(c => (JsonNode)c)]),
                ["load"] = Load(seconds, clients),
            }.ToJsonString(new System.Text.Json.JsonSerializerOptions { WriteIndented = true }));
            return 0;
        }
        var table = new Table().AddColumns("policy", "requests/s", "p50 ms", "p99 ms", "requests (capacity 1 / 2 / 4)", "spread");
        foreach (var r in rows)
        {
            table.AddRow(r.Policy, F(r.RequestsPerSecond, "0"), F(r.P50Ms, "0.00"), F(r.P99Ms, "0.00"), string.Join(" / ", r.Requests), F(r.Spread, "0.00"));
        }
        AnsiConsole.Write(table);
        AnsiConsole.MarkupLine($"[grey]{Markup.Escape(Load(seconds, clients))}[/]");
        return 0;
    }

    private static string Load(int seconds, int clients) => string.Create(CultureInfo.InvariantCulture,
        $"{clients} clients in a closed loop, {seconds} s per policy after a 2 s warm-up; backends of capacity {string.Join(", ", Capacities)} × {ServiceMs} ms; agents every 100 ms; spread = max/min of requests per unit of capacity");

    private static string F(double v, string format) => v.ToString(format, CultureInfo.InvariantCulture);

    private sealed class CappedBackend(int capacity) : IHostLoadSource, IDisposable
    {
        private readonly SemaphoreSlim _slots = new(capacity, capacity);
        private int _inside;
        private long _served;

        public long Served => Interlocked.Read(ref _served);

        public async Task Serve(HttpContext context)
        {
            Interlocked.Increment(ref _inside);
            try
            {
                await _slots.WaitAsync(context.RequestAborted).ConfigureAwait(false);
                try
                {
                    await Task.Delay(ServiceMs, context.RequestAborted).ConfigureAwait(false);
                }
                finally
                {
                    _slots.Release();
                }
                Interlocked.Increment(ref _served);
                await context.Response.WriteAsync("ok", context.RequestAborted).ConfigureAwait(false);
            }
            finally
            {
                Interlocked.Decrement(ref _inside);
            }
        }

        public void Dispose() => _slots.Dispose();

        // The figure an agent would report for a busy host: how full it is, queue included, capped at 1.
        public HostLoad Sample() => new(Math.Min(1.0, Volatile.Read(ref _inside) / (double)capacity), 0.2, 1);
    }

    private static async Task<List<PolicyBenchRow>> MeasureAsync(int seconds, int clients)
    {
        var backends = Capacities.Select(c => new CappedBackend(c)).ToArray();
        var apps = new List<WebApplication>();
        var ports = new List<int>();
        using var loggers = LoggerFactory.Create(_ => { });
        var agents = new List<AgentReporter>();
        RouterHost? router = null;
        try
        {
            foreach (var b in backends)
            {
                var builder = WebApplication.CreateSlimBuilder();
                builder.Logging.ClearProviders();
                builder.WebHost.ConfigureKestrel(k => k.Listen(IPAddress.Loopback, 0));
                var app = builder.Build();
                app.Run(b.Serve);
                await app.StartAsync().ConfigureAwait(false);
                apps.Add(app);
                ports.Add(new Uri(app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First()).Port);
            }
            string Pool(string id, string balancing) => $$"""
                { "id": "{{id}}", "loadBalancing": "{{balancing}}", "backends": [ {{string.Join(", ", ports.Select((p, i) =>
                    $$"""{ "id": "c{{Capacities[i]}}", "address": "127.0.0.1", "port": {{p}}, "agent": { "key": "{{Key}}", "intervalMs": 100 } }"""))}} ] }
                """;
            string json = $$"""
                {
                  "router": { "name": "bench", "listen": "127.0.0.1:0", "adminListen": "127.0.0.1:0", "agentListen": "127.0.0.1:0", "logLevel": "warning" },
                  "pools": [ {{Pool("weighted", "weighted")}}, {{Pool("least", "least-loaded")}}, {{Pool("p2c", "power-of-two-load")}} ],
                  "routes": [ { "id": "w", "pool": "weighted", "path": "/weighted" }, { "id": "l", "pool": "least", "path": "/least-loaded" },
                              { "id": "p", "pool": "p2c", "path": "/power-of-two-load" } ]
                }
                """;
            router = await RouterHost.StartAsync(RouterConfig.Parse(json, "bench policies"), loggers).ConfigureAwait(false);
            for (int i = 0; i < backends.Length; i++)
            {
                var agent = new AgentReporter(new AgentReporterOptions($"c{Capacities[i]}", Encoding.UTF8.GetBytes(Key),
                    [new IPEndPoint(IPAddress.Loopback, router.AgentAddress!.Port)], TimeSpan.FromMilliseconds(100), new IPEndPoint(IPAddress.Loopback, 0)), backends[i]);
                agent.Start();
                agents.Add(agent);
            }
            using var http = new HttpClient(new SocketsHttpHandler { UseCookies = false, MaxConnectionsPerServer = clients }) { BaseAddress = router.ProxyAddress };
            var rows = new List<PolicyBenchRow>();
            foreach (string policy in new[] { "weighted", "least-loaded", "power-of-two-load" })
            {
                _ = await LoadAsync(http, policy, 2, clients, backends).ConfigureAwait(false);
                rows.Add(await LoadAsync(http, policy, seconds, clients, backends).ConfigureAwait(false));
            }
            return rows;
        }
        finally
        {
            foreach (var a in agents)
                a.Dispose();
            if (router is not null)
                await router.DisposeAsync().ConfigureAwait(false);
            foreach (var app in apps)
            {
                await app.StopAsync().ConfigureAwait(false);
                await app.DisposeAsync().ConfigureAwait(false);
            }
            foreach (var b in backends)
                b.Dispose();
        }
    }

    private static async Task<PolicyBenchRow> LoadAsync(HttpClient http, string policy, int seconds, int clients, CappedBackend[] backends)
    {
        long[] before = [.. backends.Select(b => b.Served)];
        var latencies = new List<double>[clients];
        var end = Stopwatch.GetTimestamp() + (long)(seconds * (double)Stopwatch.Frequency);
        var started = Stopwatch.GetTimestamp();
        await Task.WhenAll(Enumerable.Range(0, clients).Select(async c =>
        {
            var mine = latencies[c] = [];
            while (Stopwatch.GetTimestamp() < end)
            {
                long t = Stopwatch.GetTimestamp();
                using var response = await http.GetAsync(new Uri("/" + policy, UriKind.Relative)).ConfigureAwait(false);
                response.EnsureSuccessStatusCode();
                mine.Add(Stopwatch.GetElapsedTime(t).TotalMilliseconds);
            }
        })).ConfigureAwait(false);
        double elapsed = Stopwatch.GetElapsedTime(started).TotalSeconds;
        long[] served = [.. backends.Select((b, i) => b.Served - before[i])];
        var all = latencies.SelectMany(l => l).Order().ToArray();
        double P(double q) => all.Length == 0 ? 0 : all[Math.Min(all.Length - 1, (int)(q * all.Length))];
        double[] perCapacity = [.. served.Select((n, i) => n / (double)Capacities[i])];
        double spread = perCapacity.Min() > 0 ? perCapacity.Max() / perCapacity.Min() : double.PositiveInfinity;
        return new PolicyBenchRow(policy, all.Length / elapsed, P(0.50), P(0.99), served, spread);
    }
}
