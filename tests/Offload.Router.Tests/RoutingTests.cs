using System.Net;

namespace Offload.Router.Tests;

/// <summary>Real HTTP through a router on loopback to real backends: each kind of rule, weights by measured share.</summary>
[Parallelizable(ParallelScope.Self)]
public sealed class RoutingTests
{
    [Test]
    public async Task Each_rule_kind_sends_its_requests_to_its_own_pool_and_an_unmatched_request_nowhere()
    {
        await using var byHost = await Backend.StartAsync("by-host");
        await using var byPrefix = await Backend.StartAsync("by-prefix");
        await using var byTemplate = await Backend.StartAsync("by-template");
        await using var byMethod = await Backend.StartAsync("by-method");
        await using var byHeader = await Backend.StartAsync("by-header");
        string json = $$"""
        {
          "router": { "name": "r", "listen": "127.0.0.1:0", "adminListen": "127.0.0.1:0" },
          "pools": [
            { "id": "host", "backends": [ {{Rig.BackendJson(byHost)}} ] },
            { "id": "prefix", "backends": [ {{Rig.BackendJson(byPrefix)}} ] },
            { "id": "template", "backends": [ {{Rig.BackendJson(byTemplate)}} ] },
            { "id": "method", "backends": [ {{Rig.BackendJson(byMethod)}} ] },
            { "id": "header", "backends": [ {{Rig.BackendJson(byHeader)}} ] }
          ],
          "routes": [
            { "id": "h", "pool": "host", "hosts": ["shop.example"] },
            { "id": "p", "pool": "prefix", "path": "/api" },
            { "id": "t", "pool": "template", "path": "/users/{id:int}/orders" },
            { "id": "m", "pool": "method", "path": "/write", "methods": ["DELETE"] },
            { "id": "x", "pool": "header", "path": "/tenant", "headers": [ { "name": "X-Tenant", "values": ["blue", "green"] } ] }
          ]
        }
        """;
        await using var router = await Rig.Router(json);
        using var http = Rig.Client(router);

        async Task<string?> Send(HttpMethod method, string path, string? host = null, (string, string)? header = null)
        {
            using var request = new HttpRequestMessage(method, path);
            if (host is not null)
                request.Headers.Host = host;
            if (header is { } h)
                request.Headers.Add(h.Item1, h.Item2);
            using var response = await http.SendAsync(request);
            return response.StatusCode == HttpStatusCode.OK ? response.Headers.GetValues("X-Backend").Single() : null;
        }

        Assert.Multiple(async () =>
        {
            Assert.That(await Send(HttpMethod.Get, "/anything", host: "shop.example"), Is.EqualTo("by-host"));
            Assert.That(await Send(HttpMethod.Get, "/api"), Is.EqualTo("by-prefix"));
            Assert.That(await Send(HttpMethod.Post, "/api/v1/items?x=1"), Is.EqualTo("by-prefix"));
            Assert.That(await Send(HttpMethod.Get, "/apix"), Is.Null, "a prefix matches whole path segments");
            Assert.That(await Send(HttpMethod.Get, "/users/42/orders"), Is.EqualTo("by-template"));
            Assert.That(await Send(HttpMethod.Get, "/users/bob/orders"), Is.Null, "{id:int} takes numbers only");
            Assert.That(await Send(HttpMethod.Delete, "/write"), Is.EqualTo("by-method"));
            Assert.That(await Send(HttpMethod.Get, "/write"), Is.Null);
            Assert.That(await Send(HttpMethod.Get, "/tenant", header: ("X-Tenant", "green")), Is.EqualTo("by-header"));
            Assert.That(await Send(HttpMethod.Get, "/tenant", header: ("X-Tenant", "red")), Is.Null);
            Assert.That(await Send(HttpMethod.Get, "/tenant"), Is.Null);
        });
        Assert.That(byPrefix.Seen, Does.Contain("POST /api/v1/items?x=1"), "path and query reach the backend unchanged");
        Assert.That(byHost.Requests + byPrefix.Requests + byTemplate.Requests + byMethod.Requests + byHeader.Requests, Is.EqualTo(6),
            "only the six matching requests reached a backend");
    }

    [Test]
    public async Task Weighted_pool_gives_each_backend_its_share_and_weight_zero_nothing()
    {
        await using var heavy = await Backend.StartAsync("heavy");
        await using var light = await Backend.StartAsync("light");
        await using var drained = await Backend.StartAsync("drained");
        string json = $$"""
        {
          "router": { "name": "r", "listen": "127.0.0.1:0", "adminListen": "127.0.0.1:0" },
          "pools": [ { "id": "web", "backends": [ {{Rig.BackendJson(heavy, 3)}}, {{Rig.BackendJson(light, 1)}}, {{Rig.BackendJson(drained, 0)}} ] } ],
          "routes": [ { "id": "all", "pool": "web" } ]
        }
        """;
        await using var router = await Rig.Router(json);
        using var http = Rig.Client(router);
        const int Total = 2000;
        int sent = 0;
        await Task.WhenAll(Enumerable.Range(0, 8).Select(async _ =>
        {
            while (Interlocked.Increment(ref sent) <= Total)
            {
                using var response = await http.GetAsync(new Uri("/", UriKind.Relative));
                response.EnsureSuccessStatusCode();
            }
        }));
        double share = heavy.Requests / (double)Total;
        // 3:1 is a share of 0.75; one standard deviation over 2000 requests is about 0.01.
        Assert.Multiple(() =>
        {
            Assert.That(heavy.Requests + light.Requests, Is.EqualTo(Total));
            Assert.That(share, Is.EqualTo(0.75).Within(0.04), $"heavy {heavy.Requests}, light {light.Requests}");
            Assert.That(drained.Requests, Is.Zero);
        });
    }
}
