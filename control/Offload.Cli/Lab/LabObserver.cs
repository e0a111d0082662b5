using System.Collections.Concurrent;
using System.Diagnostics;
using System.Text.Json.Nodes;

namespace Offload.Cli.Lab;

/// <summary>What one gateway said of itself at one moment (its API, inside its namespace).</summary>
internal sealed record GatewaySample(double AtMs, int Gateway, string AvgState, IReadOnlyList<string> Forwarding, IReadOnlyDictionary<string, bool> BackendHealthy);

/// <summary>Where the segment's switch delivered a MAC at one moment (its forwarding database).</summary>
internal sealed record FdbSample(double AtMs, string Mac, string Port);

/// <summary>
/// Watches the lab while the demo runs: each gateway's GLBP and backend views every <see cref="Interval"/>, and the
/// segment bridge's forwarding database, each change with its time; the demo reads detection and relearn times here.
/// </summary>
internal sealed class LabObserver : IDisposable
{
    public static readonly TimeSpan Interval = TimeSpan.FromMilliseconds(25);

    private readonly Stopwatch _clock;
    private readonly HttpClient[] _apis;
    private readonly ConcurrentQueue<GatewaySample> _samples = new();
    private readonly ConcurrentQueue<FdbSample> _fdb = new();
    private readonly ConcurrentDictionary<int, GatewaySample> _latest = new();
    private readonly CancellationTokenSource _stop = new();
    private readonly List<Task> _tasks = [];

    /// <param name="gateways">Per gateway (index k-1), sockets in its namespace.</param>
    public LabObserver(Stopwatch clock, IReadOnlyList<NetnsSockets> gateways)
    {
        _clock = clock;
        _apis = gateways.Select(g => g.HttpClient(TimeSpan.FromMilliseconds(500), TimeSpan.FromMilliseconds(1000), keepAlive: true)).ToArray();
    }

    public IEnumerable<GatewaySample> Samples => _samples;

    /// <summary>While set, nothing is polled (the benchmark measures the gateways' idle CPU without the observer's requests).</summary>
    public bool Paused
    {
        get => Volatile.Read(ref _paused);
        set => Volatile.Write(ref _paused, value);
    }

    private bool _paused;

    public IEnumerable<FdbSample> Fdb => _fdb;

    /// <summary>The newest answer of gateway k, or null when it has not answered yet.</summary>
    public GatewaySample? Latest(int k) => _latest.GetValueOrDefault(k);

    /// <summary>Forgets gateway k's newest answer (it was killed: what it said before no longer holds).</summary>
    public void Forget(int k) => _latest.TryRemove(k, out _);

    public void Start()
    {
        for (int k = 1; k <= _apis.Length; k++)
        {
            int g = k;
            _tasks.Add(Task.Run(() => Poll(g, _stop.Token)));
        }
        _tasks.Add(Task.Run(() => PollFdb(_stop.Token)));
    }

    public void Dispose()
    {
        _stop.Cancel();
        try
        {
            Task.WaitAll([.. _tasks], TimeSpan.FromSeconds(10));
        }
        catch (AggregateException)
        {
            // Loops end on the token.
        }
        foreach (var a in _apis)
            a.Dispose();
        _stop.Dispose();
    }

    private double Now => _clock.Elapsed.TotalMilliseconds;

    private async Task Poll(int k, CancellationToken ct)
    {
        while (!ct.IsCancellationRequested)
        {
            var next = Now + Interval.TotalMilliseconds;
            if (Paused)
            {
                await Pause(ct).ConfigureAwait(false);
                continue;
            }
            var glbp = await LabNetwork.ApiAsync(_apis[k - 1], "/api/glbp", ct).ConfigureAwait(false);
            var backends = glbp is null ? null : await LabNetwork.ApiAsync(_apis[k - 1], "/api/backends", ct).ConfigureAwait(false);
            if (glbp is not null && backends is not null)
            {
                var sample = Parse(Now, k, glbp, backends);
                _samples.Enqueue(sample);
                _latest[k] = sample;
            }
            try
            {
                await Task.Delay(TimeSpan.FromMilliseconds(Math.Max(1, next - Now)), ct).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                return;
            }
        }
    }

    private static async Task Pause(CancellationToken ct)
    {
        try
        {
            await Task.Delay(Interval, ct).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            // Stopping.
        }
    }

    private static GatewaySample Parse(double at, int k, JsonNode glbp, JsonNode backends)
    {
        var group = glbp["groups"]?.AsArray().FirstOrDefault();
        var forwarding = group?["forwarders"]?.AsArray()
            .Where(f => (string?)f?["state"] == "Active")
            .Select(f => (string)f!["vmac"]!)
            .ToList() ?? [];
        var healthy = new Dictionary<string, bool>();
        foreach (var b in backends["backends"]?.AsArray() ?? [])
        {
            if (b?["id"] is { } id)
                healthy[(string)id!] = (bool?)b["healthy"] ?? false;
        }
        return new GatewaySample(at, k, (string?)group?["state"] ?? "?", forwarding, healthy);
    }

    private async Task PollFdb(CancellationToken ct)
    {
        var known = new Dictionary<string, string>();
        while (!ct.IsCancellationRequested)
        {
            if (Paused)
            {
                await Pause(ct).ConfigureAwait(false);
                continue;
            }
            var (code, output, _) = Sh.TryRun(TimeSpan.FromSeconds(5), "bridge", "-n", LabPlan.Switch, "-j", "fdb", "show", "br", "br0");
            double at = Now;
            if (code == 0)
            {
                try
                {
                    foreach (var e in JsonNode.Parse(output)?.AsArray() ?? [])
                    {
                        var mac = (string?)e?["mac"];
                        var port = (string?)e?["ifname"];
                        // Only what the bridge learnt on its ports: vMACs (00:07:b4:…) and the gateways' own MACs.
                        if (mac is null || port is null || port == "br0" || !mac.StartsWith("00:07:b4:", StringComparison.Ordinal))
                            continue;
                        if (!known.TryGetValue(mac, out var was) || was != port)
                        {
                            known[mac] = port;
                            _fdb.Enqueue(new FdbSample(at, mac, port));
                        }
                    }
                }
                catch (System.Text.Json.JsonException)
                {
                    // A half-written answer: the next poll reads it whole.
                }
            }
            try
            {
                await Task.Delay(TimeSpan.FromMilliseconds(20), ct).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                return;
            }
        }
    }
}
