using System.Net;

namespace Offload.Router.Tests;

[Parallelizable(ParallelScope.Self)]
public sealed class HealthTests
{
    [Test]
    public async Task A_backend_whose_checks_fail_mid_run_gets_no_request_after_detection_and_returns_after_rise()
    {
        await using var a = await Backend.StartAsync("a");
        await using var b = await Backend.StartAsync("b");
        string json = $$"""
        {
          "router": { "name": "r", "listen": "127.0.0.1:0", "adminListen": "127.0.0.1:0" },
          "pools": [ { "id": "web", "backends": [ {{Rig.BackendJson(a)}}, {{Rig.BackendJson(b)}} ],
                       "check": { "path": "/health", "intervalMs": 100, "timeoutMs": 80, "rise": 2, "fall": 2 } } ],
          "routes": [ { "id": "all", "pool": "web" } ]
        }
        """;
        await using var router = await Rig.Router(json);
        using var http = Rig.Client(router);
        using var stop = new CancellationTokenSource();
        long failures = 0;
        long sent = 0;
        long sequence = 0;
        // Load runs the whole time: the failure happens under traffic, not between requests.
        var load = Task.WhenAll(Enumerable.Range(0, 4).Select(async _ =>
        {
            while (!stop.IsCancellationRequested)
            {
                // Numbered as sent, so the backend's log tells which requests left the client after the detection.
                using var response = await http.GetAsync(new Uri($"/?seq={Interlocked.Increment(ref sequence)}", UriKind.Relative));
                Interlocked.Increment(ref sent);
                if (response.StatusCode != HttpStatusCode.OK)
                    Interlocked.Increment(ref failures);
            }
        }));
        await Rig.Until(() => b.Requests > 50 && a.Requests > 50, TimeSpan.FromSeconds(10), "both backends serve");

        var failedAt = DateTime.UtcNow;
        b.Healthy = false;
        await Rig.Until(() => !Rig.Available(router, "web", "b"), TimeSpan.FromSeconds(5), "the router takes b out of the pool");
        var detection = DateTime.UtcNow - failedAt;
        long lastBefore = Interlocked.Read(ref sequence);
        long aAtDetection = a.Requests;
        await Rig.Until(() => a.Requests > aAtDetection + 300, TimeSpan.FromSeconds(20), "300 more requests are served");
        // Requests the router had taken in before it saw the failure may still land on b; none sent after it may.
        long[] late = [.. b.Seen.Select(r => long.Parse(r[(r.IndexOf('=', StringComparison.Ordinal) + 1)..], System.Globalization.CultureInfo.InvariantCulture)).Where(n => n > lastBefore)];
        Assert.Multiple(() =>
        {
            Assert.That(late, Is.Empty, $"requests sent after the router took b out (after #{lastBefore}) reached it");
            Assert.That(detection, Is.LessThan(TimeSpan.FromSeconds(2)), "fall 2 at 100 ms is a few hundred ms, well under 2 s on a busy machine");
            Assert.That(router.Metrics.HealthChanges("web", "b", up: false), Is.EqualTo(1));
        });

        b.Healthy = true;
        await Rig.Until(() => Rig.Available(router, "web", "b"), TimeSpan.FromSeconds(5), "b rejoins after rise passes");
        long bBack = b.Requests;
        await Rig.Until(() => b.Requests > bBack + 20, TimeSpan.FromSeconds(10), "b serves again");
        await stop.CancelAsync();
        await load;
        Assert.That(Interlocked.Read(ref failures), Is.Zero, $"every one of {sent} requests succeeded: b kept answering while its checks failed");
    }

    [Test]
    public async Task A_reload_that_changes_rise_and_fall_applies_to_the_backends_already_in_the_pool()
    {
        await using var a = await Backend.StartAsync("a");
        await using var b = await Backend.StartAsync("b");
        // Rise and fall of 100 at 200 ms would take 20 s to flip b either way: within the deadlines below only the
        // reloaded 2 can do it.
        string Json(int n) => $$"""
        {
          "router": { "name": "r", "listen": "127.0.0.1:0", "adminListen": "127.0.0.1:0" },
          "pools": [ { "id": "web", "backends": [ {{Rig.BackendJson(a)}}, {{Rig.BackendJson(b)}} ],
                       "check": { "path": "/health", "intervalMs": 200, "timeoutMs": 150, "rise": {{n}}, "fall": {{n}} } } ],
          "routes": [ { "id": "all", "pool": "web" } ]
        }
        """;
        await using var router = await Rig.Router(Json(100));
        await Rig.Until(() => b.Checks >= 3, TimeSpan.FromSeconds(10), "b is being checked under the first config");
        Assert.That(router.Reload(RouterConfig.Parse(Json(2))), Is.Null);
        long checks = b.Checks;
        await Rig.Until(() => b.Checks >= checks + 2, TimeSpan.FromSeconds(10), "b is checked under the reloaded config");

        b.Healthy = false;
        await Rig.Until(() => !Rig.Available(router, "web", "b"), TimeSpan.FromSeconds(8), "fall 2 takes b out after the reload");
        b.Healthy = true;
        await Rig.Until(() => Rig.Available(router, "web", "b"), TimeSpan.FromSeconds(8), "rise 2 brings b back after the reload");
        Assert.That(router.Metrics.HealthChanges("web", "b", up: false), Is.EqualTo(1));
    }
}
