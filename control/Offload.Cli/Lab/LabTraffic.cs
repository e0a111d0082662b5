using System.Collections.Concurrent;
using System.Diagnostics;

namespace Offload.Cli.Lab;

/// <summary>One HTTP request a lab host made: when (ms since the demo began), from which host, and how it ended.</summary>
internal readonly record struct LabRequest(int Host, bool Stream, double StartMs, double EndMs, bool Ok, string? Backend);

/// <summary>
/// The hosts' traffic: from inside each host's namespace, through its kernel's ARP and TCP, to the service VIP via
/// the GLBP virtual IP. Per host one steady client (a new connection every <see cref="SteadyInterval"/>) and one
/// long-lived connection asking every <see cref="StreamInterval"/>: a reconnect of that one is a broken connection.
/// </summary>
internal sealed class LabTraffic : IDisposable
{
    public static readonly TimeSpan SteadyInterval = TimeSpan.FromMilliseconds(500);
    public static readonly TimeSpan StreamInterval = TimeSpan.FromMilliseconds(200);

    private readonly Stopwatch _clock;
    private readonly IReadOnlyList<NetnsSockets> _hosts;
    private readonly ConcurrentQueue<LabRequest> _requests = new();
    private readonly ConcurrentQueue<(int Host, double AtMs)> _reconnects = new();
    private readonly CancellationTokenSource _stop = new();
    private readonly List<Task> _tasks = [];
    private readonly Uri _service = new($"http://{LabPlan.ServiceIp}:{LabPlan.ServicePort}/");

    public LabTraffic(Stopwatch clock, IReadOnlyList<NetnsSockets> hosts)
    {
        _clock = clock;
        _hosts = hosts;
    }

    public IEnumerable<LabRequest> Requests => _requests;

    /// <summary>Reconnects of the hosts' long-lived connections: each one a connection that broke.</summary>
    public IEnumerable<(int Host, double AtMs)> Reconnects => _reconnects;

    public void Start()
    {
        for (int i = 0; i < _hosts.Count; i++)
        {
            int host = i + 1;
            var ns = _hosts[i];
            _tasks.Add(Task.Run(() => Steady(host, ns, _stop.Token)));
            _tasks.Add(Task.Run(() => Stream(host, ns, _stop.Token)));
        }
    }

    public void Stop()
    {
        _stop.Cancel();
        try
        {
            Task.WaitAll([.. _tasks], TimeSpan.FromSeconds(15));
        }
        catch (AggregateException)
        {
            // Each loop ends on the token; what it was doing then is not a result.
        }
    }

    public void Dispose()
    {
        Stop();
        _stop.Dispose();
    }

    private double Now => _clock.Elapsed.TotalMilliseconds;

    private async Task Steady(int host, NetnsSockets ns, CancellationToken ct)
    {
        // SYN retransmits come at 1 s and 3 s: a connect that outlives a failover still counts as served.
        using var client = ns.HttpClient(TimeSpan.FromSeconds(4), TimeSpan.FromSeconds(5), keepAlive: false);
        // Spread the hosts' requests over the interval instead of sending all at once.
        await Delay(TimeSpan.FromMilliseconds(SteadyInterval.TotalMilliseconds * host / (_hosts.Count + 1)), ct).ConfigureAwait(false);
        while (!ct.IsCancellationRequested)
        {
            var next = Now + SteadyInterval.TotalMilliseconds;
            await Ask(client, host, stream: false, ct).ConfigureAwait(false);
            await Delay(TimeSpan.FromMilliseconds(Math.Max(0, next - Now)), ct).ConfigureAwait(false);
        }
    }

    private async Task Stream(int host, NetnsSockets ns, CancellationToken ct)
    {
        int connects = 0;
        using var client = ns.HttpClient(TimeSpan.FromSeconds(4), TimeSpan.FromSeconds(10), keepAlive: true, connected: () =>
        {
            if (Interlocked.Increment(ref connects) > 1)
                _reconnects.Enqueue((host, Now));
        });
        while (!ct.IsCancellationRequested)
        {
            var next = Now + StreamInterval.TotalMilliseconds;
            await Ask(client, host, stream: true, ct).ConfigureAwait(false);
            await Delay(TimeSpan.FromMilliseconds(Math.Max(0, next - Now)), ct).ConfigureAwait(false);
        }
    }

    private async Task Ask(HttpClient client, int host, bool stream, CancellationToken ct)
    {
        double start = Now;
        try
        {
            using var response = await client.GetAsync(_service, ct).ConfigureAwait(false);
            var body = (await response.Content.ReadAsStringAsync(ct).ConfigureAwait(false)).Trim();
            _requests.Enqueue(new LabRequest(host, stream, start, Now, response.IsSuccessStatusCode, body));
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested)
        {
            // The demo ended with this request in flight: not a result.
        }
        catch (Exception e) when (e is HttpRequestException or TaskCanceledException or IOException)
        {
            _requests.Enqueue(new LabRequest(host, stream, start, Now, false, null));
        }
    }

    private static async Task Delay(TimeSpan delay, CancellationToken ct)
    {
        try
        {
            await Task.Delay(delay, ct).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            // Stopping.
        }
    }
}
