using System.Net;

namespace Offload.Router.Tests;

[Parallelizable(ParallelScope.Self)]
public sealed class AffinityTests
{
    private static string Config(Backend a, Backend b, Backend c, string key = "a shared secret of the routers") => $$"""
        {
          "router": { "name": "r", "listen": "127.0.0.1:0", "adminListen": "127.0.0.1:0", "affinityKey": "{{key}}" },
          "pools": [ { "id": "web", "affinityCookie": "ofl", "backends": [ {{Rig.BackendJson(a)}}, {{Rig.BackendJson(b)}}, {{Rig.BackendJson(c)}} ] } ],
          "routes": [ { "id": "all", "pool": "web" } ]
        }
        """;

    private static async Task<(string Backend, string? SetCookie)> Get(HttpClient http, string? cookie)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, "/");
        if (cookie is not null)
            request.Headers.Add("Cookie", $"ofl={cookie}");
        using var response = await http.SendAsync(request);
        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.OK));
        string? set = response.Headers.TryGetValues("Set-Cookie", out var values) ? values.Single() : null;
        return (response.Headers.GetValues("X-Backend").Single(), set);
    }

    private static string ValueOf(string setCookie) => setCookie.Split(';')[0]["ofl=".Length..];

    [Test]
    public async Task The_affinity_cookie_keeps_its_backend_across_a_router_restart()
    {
        await using var a = await Backend.StartAsync("a");
        await using var b = await Backend.StartAsync("b");
        await using var c = await Backend.StartAsync("c");
        string cookie;
        string pinned;
        await using (var first = await Rig.Router(Config(a, b, c)))
        {
            using var http = Rig.Client(first);
            var (backend, set) = await Get(http, null);
            Assert.That(set, Does.StartWith("ofl=").And.Contain("httponly"), "a request without affinity gets a cookie");
            cookie = ValueOf(set!);
            pinned = backend;
            var again = await Get(http, cookie);
            Assert.That(again, Is.EqualTo((pinned, (string?)null)), "the same router keeps it, and does not set the cookie again");
        }

        // Another process in real life: nothing of the first router's memory survives, only the shared key.
        await using var second = await Rig.Router(Config(a, b, c));
        using var http2 = Rig.Client(second);
        for (int i = 0; i < 30; i++)
            Assert.That((await Get(http2, cookie)).Backend, Is.EqualTo(pinned), $"request {i} after the restart");
        // Without the cookie the same pool spreads: 30 requests on one backend above could not be chance.
        var spread = new HashSet<string>();
        for (int i = 0; i < 60 && spread.Count < 2; i++)
            spread.Add((await Get(http2, null)).Backend);
        Assert.That(spread, Has.Count.GreaterThan(1));
    }

    [Test]
    public async Task A_forged_or_foreign_cookie_is_not_honoured_and_is_replaced()
    {
        await using var a = await Backend.StartAsync("a");
        await using var b = await Backend.StartAsync("b");
        await using var c = await Backend.StartAsync("c");
        string foreign;
        await using (var other = await Rig.Router(Config(a, b, c, key: "another key, another router pool")))
        {
            using var otherHttp = Rig.Client(other);
            foreign = ValueOf((await Get(otherHttp, null)).SetCookie!);
        }
        await using var router = await Rig.Router(Config(a, b, c));
        using var http = Rig.Client(router);
        var (pinned, first) = await Get(http, null);
        string real = ValueOf(first!);
        string mac = real[(real.IndexOf('.', StringComparison.Ordinal) + 1)..];
        // Another backend's id with the MAC the router gave the pinned one.
        string otherId = pinned == "b" ? "c" : "b";
        string forged = Microsoft.AspNetCore.WebUtilities.WebEncoders.Base64UrlEncode(System.Text.Encoding.UTF8.GetBytes(otherId)) + "." + mac;
        foreach (string bad in new[] { foreign, forged, "garbage", "Yg.", "." })
        {
            var (_, set) = await Get(http, bad);
            Assert.That(set, Does.StartWith("ofl="), $"'{bad}' was taken as valid affinity");
        }
    }
}
