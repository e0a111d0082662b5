using System.Net;
using System.Text.Json;

namespace Offload.Router.Tests;

[Parallelizable(ParallelScope.Self)]
public sealed class AdminTests
{
    [Test]
    public async Task Metrics_count_requests_by_route_backend_and_class_with_upstream_latency_and_the_health_endpoints_answer()
    {
        await using var b = await Backend.StartAsync("b1");
        string json = $$"""
        {
          "router": { "name": "edge-router", "listen": "127.0.0.1:0", "adminListen": "127.0.0.1:0" },
          "pools": [ { "id": "web", "backends": [ {{Rig.BackendJson(b)}} ] } ],
          "routes": [ { "id": "site", "pool": "web", "path": "/site" } ]
        }
        """;
        await using var router = await Rig.Router(json);
        using var http = Rig.Client(router);
        for (int i = 0; i < 3; i++)
            (await http.GetAsync(new Uri("/site/x", UriKind.Relative))).Dispose();
        (await http.GetAsync(new Uri("/elsewhere", UriKind.Relative))).Dispose();
        using var admin = new HttpClient { BaseAddress = router.AdminAddress };
        string metrics = await admin.GetStringAsync(new Uri("/metrics", UriKind.Relative));
        Assert.Multiple(() =>
        {
            Assert.That(metrics, Does.Contain("offload_router_requests_total{route=\"site\",pool=\"web\",backend=\"b1\",code=\"2xx\",router=\"edge-router\"} 3"));
            Assert.That(metrics, Does.Contain("offload_router_requests_total{route=\"\",pool=\"\",backend=\"\",code=\"4xx\",router=\"edge-router\"} 1"));
            Assert.That(metrics, Does.Contain("offload_router_upstream_duration_seconds_count{route=\"site\",backend=\"b1\",router=\"edge-router\"} 3"));
            Assert.That(metrics, Does.Contain("offload_router_backend_up{pool=\"web\",backend=\"b1\",router=\"edge-router\"} 1"));
        });
        using (var health = await admin.GetAsync(new Uri("/health", UriKind.Relative)))
            Assert.That(health.StatusCode, Is.EqualTo(HttpStatusCode.OK));
        using (var health = await http.GetAsync(new Uri("/.offload/health", UriKind.Relative)))
            Assert.That(health.StatusCode, Is.EqualTo(HttpStatusCode.OK), "the gateways check the router on its proxy listener");
        var view = JsonSerializer.Deserialize<RoutesView>(await admin.GetStringAsync(new Uri("/api/routes", UriKind.Relative)), RoutesView.JsonOptions)!;
        Assert.That(view.Routes.Single().Path, Is.EqualTo("/site/{**offload-rest}"));
        Assert.That(view.Pools.Single().Backends.Single(), Is.EqualTo(new PoolBackendView("b1", $"127.0.0.1:{b.Port}", 1, "Unknown", true, 0, "none", null)));
    }
}
