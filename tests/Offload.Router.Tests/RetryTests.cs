using System.Net;

namespace Offload.Router.Tests;

[Parallelizable(ParallelScope.Self)]
public sealed class RetryTests
{
    // The dead backend (nothing listens on its port) carries almost all the weight, so nearly every first attempt
    // fails to connect: before any byte of an answer, the one failure a retry is allowed for.
    private static string Config(Backend live, int deadPort) => $$"""
        {
          "router": { "name": "r", "listen": "127.0.0.1:0", "adminListen": "127.0.0.1:0" },
          "pools": [ { "id": "web", "backends": [
              { "id": "dead", "address": "127.0.0.1", "port": {{deadPort}}, "weight": 1000000 }, {{Rig.BackendJson(live, 1)}} ] } ],
          "routes": [
            { "id": "retrying", "pool": "web", "path": "/r", "retries": 1 },
            { "id": "never", "pool": "web", "path": "/n", "retries": 0 }
          ]
        }
        """;

    [Test]
    public async Task Idempotent_requests_without_a_body_are_retried_on_another_backend_and_counted()
    {
        await using var live = await Backend.StartAsync("live");
        await using var router = await Rig.Router(Config(live, Rig.DeadPort()));
        using var http = Rig.Client(router);
        foreach (var method in new[] { HttpMethod.Get, HttpMethod.Head, HttpMethod.Delete, HttpMethod.Options })
        {
            using var response = await http.SendAsync(new HttpRequestMessage(method, "/r"));
            Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.OK), method.Method);
            Assert.That(response.Headers.GetValues("X-Backend").Single(), Is.EqualTo("live"));
        }
        Assert.Multiple(() =>
        {
            Assert.That(router.Metrics.RetriesOf("retrying"), Is.EqualTo(4), "one retry per request, each counted");
            Assert.That(live.Requests, Is.EqualTo(4));
        });
    }

    [Test]
    public async Task A_request_with_a_body_a_non_idempotent_method_or_a_route_without_retries_is_not_retried()
    {
        await using var live = await Backend.StartAsync("live");
        await using var router = await Rig.Router(Config(live, Rig.DeadPort()));
        using var http = Rig.Client(router);
        using (var post = await http.PostAsync(new Uri("/r", UriKind.Relative), new StringContent("order 66")))
            Assert.That(post.StatusCode, Is.EqualTo(HttpStatusCode.BadGateway), "POST is not idempotent");
        using (var put = await http.PutAsync(new Uri("/r", UriKind.Relative), new StringContent("a body")))
            Assert.That(put.StatusCode, Is.EqualTo(HttpStatusCode.BadGateway), "PUT is idempotent, but its body has been read");
        using (var get = await http.GetAsync(new Uri("/n", UriKind.Relative)))
            Assert.That(get.StatusCode, Is.EqualTo(HttpStatusCode.BadGateway), "the route allows no retries");
        Assert.Multiple(() =>
        {
            Assert.That(router.Metrics.Retries, Is.Zero);
            Assert.That(live.Requests, Is.Zero, "nothing was sent a second time");
        });
    }
}
