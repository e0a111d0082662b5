using Prometheus;

namespace Offload.Router;

/// <summary>
/// The router's Prometheus families, in a registry of its own (not prometheus-net's static default), so that two
/// routers in one process (tests, a restart in place) never share counts. Every family carries the router's name.
/// </summary>
public sealed class RouterMetrics
{
    private readonly Counter _requests;
    private readonly Histogram _upstream;
    private readonly Counter _retries;
    private readonly Counter _healthChanges;
    private readonly Counter _reloads;

    static RouterMetrics()
    {
        // prometheus-net's default registry would otherwise listen to every .NET meter and event counter in the process
        // (Kestrel's, ASP.NET's and HttpClient's record per request), work for figures this router never exports.
        Metrics.SuppressDefaultMetrics();
    }

    public RouterMetrics(string router)
    {
        Registry = Metrics.NewCustomRegistry();
        Registry.SetStaticLabels(new Dictionary<string, string> { ["router"] = router });
        var factory = Metrics.WithCustomRegistry(Registry);
        _requests = factory.CreateCounter("offload_router_requests_total", "Requests answered, by route, pool, backend (empty when none was chosen) and status class.",
            new CounterConfiguration { LabelNames = ["route", "pool", "backend", "code"] });
        _upstream = factory.CreateHistogram("offload_router_upstream_duration_seconds",
            "Time of one forwarding attempt, from picking the backend until its answer has been relayed, by route and backend.",
            new HistogramConfiguration { LabelNames = ["route", "backend"], Buckets = Histogram.ExponentialBuckets(0.0005, 2, 16) });
        _retries = factory.CreateCounter("offload_router_retries_total", "Idempotent requests sent again to another backend after one failed before answering, by route and the backend that failed.",
            new CounterConfiguration { LabelNames = ["route", "backend"] });
        _healthChanges = factory.CreateCounter("offload_router_backend_health_changes_total", "Backends taken out of (down) or brought back into (up) their pool by the active checks.",
            new CounterConfiguration { LabelNames = ["pool", "backend", "state"] });
        _reloads = factory.CreateCounter("offload_router_config_reloads_total", "Configuration reloads, by result (applied or refused).",
            new CounterConfiguration { LabelNames = ["result"] });
        BackendUp = factory.CreateGauge("offload_router_backend_up", "1 while a backend may be given requests (healthy and weighted), else 0.",
            new GaugeConfiguration { LabelNames = ["pool", "backend"] });
    }

    public CollectorRegistry Registry { get; }

    internal Gauge BackendUp { get; }

    /// <summary>Retries so far, over every route.</summary>
    public long Retries => (long)_retries.GetAllLabelValues().Sum(l => _retries.WithLabels(l).Value);

    public long HealthChanges(string pool, string backend, bool up) => (long)_healthChanges.WithLabels(pool, backend, up ? "up" : "down").Value;

    public long RetriesOf(string route) => (long)_retries.GetAllLabelValues().Where(l => l[0] == route).Sum(l => _retries.WithLabels(l).Value);

    internal void Request(string route, string pool, string backend, int status) =>
        _requests.WithLabels(route, pool, backend, status switch { < 200 => "1xx", < 300 => "2xx", < 400 => "3xx", < 500 => "4xx", _ => "5xx" }).Inc();

    internal void Upstream(string route, string backend, TimeSpan elapsed) => _upstream.WithLabels(route, backend).Observe(elapsed.TotalSeconds);

    internal void Retry(string route, string backend) => _retries.WithLabels(route, backend).Inc();

    internal void HealthChanged(string pool, string backend, bool up) => _healthChanges.WithLabels(pool, backend, up ? "up" : "down").Inc();

    public void Reload(bool applied) => _reloads.WithLabels(applied ? "applied" : "refused").Inc();
}
