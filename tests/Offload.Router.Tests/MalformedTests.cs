using System.Net;
using System.Net.Sockets;
using System.Text;

namespace Offload.Router.Tests;

/// <summary>What HTTP says to answer, and that nothing reaches a backend that should not.</summary>
[Parallelizable(ParallelScope.Self)]
public sealed class MalformedTests
{
    private static async Task<string> Raw(Uri router, byte[] request)
    {
        using var client = new TcpClient();
        await client.ConnectAsync(IPAddress.Loopback, router.Port);
        var stream = client.GetStream();
        await stream.WriteAsync(request);
        var buffer = new byte[4096];
        int n = await stream.ReadAsync(buffer).AsTask().WaitAsync(TimeSpan.FromSeconds(10));
        return Encoding.ASCII.GetString(buffer, 0, n);
    }

    private static string Config(Backend b, string extraPools = "", string extraRoutes = "") => $$"""
        {
          "router": { "name": "r", "listen": "127.0.0.1:0", "adminListen": "127.0.0.1:0" },
          "pools": [ { "id": "web", "backends": [ {{Rig.BackendJson(b)}} ] } {{extraPools}} ],
          "routes": [ { "id": "all", "pool": "web", "timeoutMs": 300 } {{extraRoutes}} ]
        }
        """;

    [Test]
    public async Task Malformed_requests_are_answered_400_or_431_and_never_forwarded()
    {
        await using var b = await Backend.StartAsync("b");
        await using var router = await Rig.Router(Config(b));
        var cases = new (string Name, string Request, string Status)[]
        {
            ("no request line", "GARBAGE\r\n\r\n", "400"),
            ("header without a colon", "GET / HTTP/1.1\r\nHost: x\r\nNoColonHere\r\n\r\n", "400"),
            ("space in a header name", "GET / HTTP/1.1\r\nHost: x\r\nBad Name: v\r\n\r\n", "400"),
            ("HTTP/1.1 without Host", "GET / HTTP/1.1\r\n\r\n", "400"),
            ("two Content-Lengths that disagree", "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab", "400"),
            ("NUL in a header value (RFC 9110 5.5: reject or replace)", "GET / HTTP/1.1\r\nHost: x\r\nX-A: a\u0000b\r\n\r\n", "400"),
            ("headers over 32 KiB", "GET / HTTP/1.1\r\nHost: x\r\n" + string.Concat(Enumerable.Range(0, 40).Select(i => $"X-Big-{i}: {new string('a', 1000)}\r\n")) + "\r\n", "431"),
        };
        foreach (var (name, request, status) in cases)
        {
            string answer = await Raw(router.ProxyAddress, Encoding.Latin1.GetBytes(request));
            Assert.That(answer, Does.StartWith($"HTTP/1.1 {status} "), name);
        }
        Assert.That(b.Requests, Is.Zero, "a malformed request reached the backend");
        using var http = Rig.Client(router);
        using var fine = await http.GetAsync(new Uri("/", UriKind.Relative));
        Assert.That(b.Requests, Is.EqualTo(1), "the router still forwards well-formed requests");
    }

    [Test]
    public async Task Hop_by_hop_headers_are_not_forwarded_and_end_to_end_ones_are()
    {
        await using var b = await Backend.StartAsync("b");
        await using var router = await Rig.Router(Config(b));
        // RFC 9110 7.6.1: the fields the Connection header names (X-Hop here) are hop-by-hop too. Kestrel hands the app
        // "Connection: keep-alive, X-Hop" as "keep-alive" alone, so the names have to come from the bytes on the wire.
        string request = "GET / HTTP/1.1\r\nHost: x\r\nConnection: keep-alive, X-Hop\r\nX-Hop: secret\r\nKeep-Alive: timeout=5\r\n"
            + "Proxy-Connection: keep-alive\r\nTE: trailers\r\nUpgrade: h2c\r\nX-End-To-End: kept\r\n\r\n";
        string answer = await Raw(router.ProxyAddress, Encoding.ASCII.GetBytes(request));
        Assert.That(answer, Does.StartWith("HTTP/1.1 200 "));
        Assert.That(b.Headers.TryDequeue(out var seen), Is.True);
        Assert.That(seen, Does.Contain("x-end-to-end"));
        Assert.That(seen, Has.None.AnyOf("connection", "keep-alive", "proxy-connection", "te", "upgrade", "x-hop"), string.Join(", ", seen!));
    }

    [Test]
    public async Task Fields_a_backends_response_names_in_Connection_are_not_forwarded_to_the_client()
    {
        // A raw backend: what it writes is exactly what the router reads, with no server in between to tidy it.
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        int port = ((IPEndPoint)listener.LocalEndpoint).Port;
        var serve = Task.Run(async () =>
        {
            using var backend = await listener.AcceptTcpClientAsync();
            var stream = backend.GetStream();
            var buffer = new byte[8192];
            var head = new StringBuilder();
            while (!head.ToString().Contains("\r\n\r\n", StringComparison.Ordinal))
            {
                int n = await stream.ReadAsync(buffer);
                if (n == 0)
                    return;
                head.Append(Encoding.ASCII.GetString(buffer, 0, n));
            }
            await stream.WriteAsync(Encoding.ASCII.GetBytes("HTTP/1.1 200 OK\r\nConnection: keep-alive, X-Hop\r\nConnection: X-Two\r\nX-Hop: secret\r\n"
                + "X-Two: 2\r\nKeep-Alive: timeout=5\r\nX-End-To-End: kept\r\nContent-Length: 3\r\n\r\nok\n"));
            // Held open until the router has read the answer: a close would be a reason of its own to drop fields.
            await Task.Delay(2000);
        });
        string json = $$"""
            {
              "router": { "name": "r", "listen": "127.0.0.1:0", "adminListen": "127.0.0.1:0" },
              "pools": [ { "id": "web", "backends": [ { "id": "raw", "address": "127.0.0.1", "port": {{port}} } ] } ],
              "routes": [ { "id": "all", "pool": "web" } ]
            }
            """;
        await using var router = await Rig.Router(json);
        string answer = await Raw(router.ProxyAddress, Encoding.ASCII.GetBytes("GET / HTTP/1.1\r\nHost: x\r\n\r\n"));
        Assert.That(answer, Does.StartWith("HTTP/1.1 200 "));
        string headers = answer[..answer.IndexOf("\r\n\r\n", StringComparison.Ordinal)].ToLowerInvariant();
        Assert.That(headers, Does.Contain("x-end-to-end: kept"));
        Assert.That(headers, Does.Not.Contain("x-hop").And.Not.Contain("x-two").And.Not.Contain("keep-alive: timeout"), headers);
        await serve;
    }

    [Test]
    public async Task Fields_named_by_Connection_are_dropped_per_request_on_a_kept_alive_connection_whatever_the_bodies_hold()
    {
        await using var b = await Backend.StartAsync("b");
        await using var router = await Rig.Router(Config(b));
        using var client = new TcpClient();
        await client.ConnectAsync(IPAddress.Loopback, router.ProxyAddress.Port);
        var stream = client.GetStream();
        // Bodies that look like heads: the router must follow the framing (Content-Length, chunked), not grep for lines.
        const string Fake = "\r\n\r\nGET / HTTP/1.1\r\nConnection: X-Kept\r\n\r\n";
        string chunk = $"{Fake.Length:x}\r\n{Fake}\r\n0\r\n\r\n";
        var requests = new (string Request, string[] Dropped, string[] Kept)[]
        {
            ($"POST / HTTP/1.1\r\nHost: x\r\nConnection: X-Hop, keep-alive\r\nConnection: X-Two\r\nX-Hop: 1\r\nX-Two: 2\r\nX-Kept: 3\r\nContent-Length: {Fake.Length}\r\n\r\n{Fake}",
                ["x-hop", "x-two"], ["x-kept"]),
            ($"POST / HTTP/1.1\r\nHost: x\r\nConnection: keep-alive\r\nTransfer-Encoding: chunked\r\nX-Kept: 3\r\nX-Hop: 1\r\n\r\n{chunk}",
                [], ["x-kept", "x-hop"]),
            ("GET / HTTP/1.1\r\nHost: x\r\nconnection:x-kept\r\nX-Kept: 3\r\nX-Hop: 1\r\n\r\n", ["x-kept"], ["x-hop"]),
            ("GET / HTTP/1.1\r\nHost: x\r\nX-Kept: 3\r\nX-Hop: 1\r\n\r\n", [], ["x-kept", "x-hop"]),
        };
        var buffer = new byte[4096];
        for (int i = 0; i < requests.Length; i++)
        {
            await stream.WriteAsync(Encoding.ASCII.GetBytes(requests[i].Request));
            await Rig.Until(() => b.Headers.Count == i + 1, TimeSpan.FromSeconds(10), $"request {i} reaches the backend");
            _ = await stream.ReadAsync(buffer).AsTask().WaitAsync(TimeSpan.FromSeconds(10));
        }
        var seen = b.Headers.ToArray();
        Assert.Multiple(() =>
        {
            for (int i = 0; i < requests.Length; i++)
            {
                foreach (string dropped in requests[i].Dropped)
                    Assert.That(seen[i], Does.Not.Contain(dropped), $"request {i}: {string.Join(", ", seen[i])}");
                Assert.That(seen[i], Is.SupersetOf(requests[i].Kept), $"request {i}: {string.Join(", ", seen[i])}");
            }
        });
    }

    [Test]
    public async Task A_backend_that_answers_garbage_is_502_and_one_too_slow_for_the_route_is_504()
    {
        await using var b = await Backend.StartAsync("b");
        using var garbage = new TcpListener(IPAddress.Loopback, 0);
        garbage.Start();
        int garbagePort = ((IPEndPoint)garbage.LocalEndpoint).Port;
        using var stop = new CancellationTokenSource();
        var serve = Task.Run(async () =>
        {
            while (!stop.IsCancellationRequested)
            {
                using var c = await garbage.AcceptTcpClientAsync(stop.Token);
                var s = c.GetStream();
                _ = await s.ReadAsync(new byte[4096], stop.Token);
                await s.WriteAsync("this is not HTTP at all\r\n\r\n"u8.ToArray(), stop.Token);
            }
        });
        string pools = $$""", { "id": "garbage", "backends": [ { "id": "g", "address": "127.0.0.1", "port": {{garbagePort}} } ] }""";
        string routes = """, { "id": "bad", "pool": "garbage", "path": "/garbage", "retries": 0 }""";
        await using var router = await Rig.Router(Config(b, pools, routes));
        using var http = Rig.Client(router);
        using (var response = await http.GetAsync(new Uri("/garbage", UriKind.Relative)))
            Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.BadGateway));
        var started = DateTime.UtcNow;
        using (var response = await http.GetAsync(new Uri("/?delay=5000", UriKind.Relative)))
        {
            Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.GatewayTimeout));
            Assert.That(DateTime.UtcNow - started, Is.LessThan(TimeSpan.FromSeconds(4)), "the route's 300 ms timeout, not the backend's 5 s");
        }
        await stop.CancelAsync();
        try
        {
            await serve;
        }
        catch (OperationCanceledException)
        {
        }
    }
}
