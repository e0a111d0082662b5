using System.Net;

namespace Offload.Router.Tests;

[Parallelizable(ParallelScope.Self)]
public sealed class ReloadTests
{
    private static string Config(Backend target, int port0 = 0) => $$"""
        {
          "router": { "name": "r", "listen": "127.0.0.1:{{port0}}", "adminListen": "127.0.0.1:0" },
          "pools": [ { "id": "web", "backends": [ {{Rig.BackendJson(target)}} ] } ],
          "routes": [ { "id": "all", "pool": "web" } ]
        }
        """;

    [Test]
    public async Task A_reload_with_requests_in_flight_fails_none_and_new_requests_follow_the_new_config()
    {
        await using var old = await Backend.StartAsync("old");
        await using var next = await Backend.StartAsync("new");
        await using var router = await Rig.Router(Config(old));
        using var http = Rig.Client(router);
        const int InFlight = 20;
        var slow = Enumerable.Range(0, InFlight).Select(async _ =>
        {
            using var response = await http.GetAsync(new Uri("/?delay=700", UriKind.Relative));
            return (response.StatusCode, await response.Content.ReadAsStringAsync());
        }).ToList();
        await Rig.Until(() => old.InFlight == InFlight, TimeSpan.FromSeconds(10), "every slow request reached the old backend");

        Assert.That(router.Reload(RouterConfig.Parse(Config(next))), Is.Null);
        // New requests take the new pool while the old ones are still being answered.
        using (var response = await http.GetAsync(new Uri("/", UriKind.Relative)))
            Assert.That(response.Headers.GetValues("X-Backend").Single(), Is.EqualTo("new"));
        Assert.That(old.InFlight, Is.GreaterThan(0), "the reload happened while requests were in flight");

        var results = await Task.WhenAll(slow);
        Assert.That(results, Has.All.EqualTo((HttpStatusCode.OK, "old")));
        Assert.That(router.Reloads, Is.EqualTo(1));
    }

    [Test]
    public async Task A_reload_that_moves_the_listener_is_refused_whole_and_the_running_config_stays()
    {
        await using var old = await Backend.StartAsync("old");
        await using var next = await Backend.StartAsync("new");
        await using var router = await Rig.Router(Config(old));
        string? refusal = router.Reload(RouterConfig.Parse(Config(next, port0: 1)));
        Assert.That(refusal, Does.Contain("router.listen"));
        using var http = Rig.Client(router);
        using var response = await http.GetAsync(new Uri("/", UriKind.Relative));
        Assert.That(response.Headers.GetValues("X-Backend").Single(), Is.EqualTo("old"));
    }
}
