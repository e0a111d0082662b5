using System.Net;
using System.Net.Sockets;
using System.Text;
using Offload.Balancer.Health;

namespace Offload.Balancer.Tests.Health;

/// <summary>A tiny HTTP server on 127.0.0.1 that answers every connection with one fixed response (or never answers).</summary>
internal sealed class TinyHttpServer : IDisposable
{
    private readonly TcpListener _listener = new(IPAddress.Loopback, 0);
    private readonly CancellationTokenSource _stop = new();
    private readonly List<TcpClient> _held = [];
    private readonly Task _loop;

    /// <param name="response">Bytes sent after the request head was read; null holds the connection open without a word.</param>
    public TinyHttpServer(string? response)
    {
        _listener.Start();
        _loop = Task.Run(() => Serve(response == null ? null : Encoding.ASCII.GetBytes(response)));
    }

    public IPEndPoint EndPoint => (IPEndPoint)_listener.LocalEndpoint;

    /// <summary>The request heads received, in order.</summary>
    public List<string> Requests { get; } = [];

    private async Task Serve(byte[]? response)
    {
        while (!_stop.IsCancellationRequested)
        {
            TcpClient client;
            try
            {
                client = await _listener.AcceptTcpClientAsync(_stop.Token);
            }
            catch (Exception e) when (e is OperationCanceledException or ObjectDisposedException or SocketException)
            {
                return;
            }
            if (response is null)
            {
                lock (_held)
                    _held.Add(client);
                continue;
            }
            using (client)
            {
                var stream = client.GetStream();
                var head = new StringBuilder();
                byte[] buffer = new byte[1024];
                while (!head.ToString().Contains("\r\n\r\n", StringComparison.Ordinal))
                {
                    int n = await stream.ReadAsync(buffer, _stop.Token);
                    if (n == 0)
                        break;
                    head.Append(Encoding.ASCII.GetString(buffer, 0, n));
                }
                lock (Requests)
                    Requests.Add(head.ToString());
                await stream.WriteAsync(response, _stop.Token);
            }
        }
    }

    public void Dispose()
    {
        _stop.Cancel();
        _listener.Stop();
        try
        {
            _loop.Wait();
        }
        catch (AggregateException)
        {
            // Stopped under an accept or a read: either way the server is gone.
        }
        lock (_held)
        {
            foreach (var c in _held)
                c.Dispose();
        }
        _stop.Dispose();
    }
}

/// <summary>The real probes against listeners on 127.0.0.1.</summary>
[NonParallelizable]
public class ProbeTests
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(10);

    private static ProbeResult Run(IHealthProbe probe)
    {
        using var cts = new CancellationTokenSource(Patience);
        return probe.ProbeAsync(cts.Token).AsTask().GetAwaiter().GetResult();
    }

    /// <summary>A loopback port nothing listens on: bound, read and released.</summary>
    private static IPEndPoint ClosedPort()
    {
        using var s = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        s.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        return (IPEndPoint)s.LocalEndPoint!;
    }

    [Test]
    public void Tcp_connect_passes_against_a_listener_and_fails_where_nothing_listens()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        ProbeResult up = Run(new TcpConnectProbe((IPEndPoint)listener.LocalEndpoint));
        ProbeResult down = Run(new TcpConnectProbe(ClosedPort()));
        using (Assert.EnterMultipleScope())
        {
            Assert.That(up.Success, Is.True, up.Detail);
            Assert.That(down.Success, Is.False);
            Assert.That(down.Detail, Does.Contain("ConnectionRefused"));
        }
    }

    [Test]
    public void Http_get_sends_host_and_path_and_passes_on_200()
    {
        using var server = new TinyHttpServer("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
        ProbeResult r = Run(new HttpGetProbe(server.EndPoint, "web.example", "/healthz?deep=1"));
        using (Assert.EnterMultipleScope())
        {
            Assert.That(r.Success, Is.True, r.Detail);
            Assert.That(r.Detail, Is.EqualTo("200"));
            Assert.That(server.Requests.Single(), Does.StartWith("GET /healthz?deep=1 HTTP/1.1\r\n").And.Contain("\r\nHost: web.example\r\n"));
        }
    }

    [Test]
    public void Http_get_fails_on_a_status_outside_the_set_and_names_it()
    {
        using var server = new TinyHttpServer("HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\n\r\n");
        ProbeResult r = Run(new HttpGetProbe(server.EndPoint, "web.example", "/"));
        Assert.That(r.Success, Is.False);
        Assert.That(r.Detail, Does.Contain("HTTP 503").And.Contain("expected 200"));
    }

    [Test]
    public void Http_get_takes_a_range_of_codes()
    {
        using var server = new TinyHttpServer("HTTP/1.0 204 No Content\r\n\r\n");
        Assert.That(Run(new HttpGetProbe(server.EndPoint, "h", "/", StatusCodeSet.Parse("200-299"))).Success, Is.True);
        Assert.That(Run(new HttpGetProbe(server.EndPoint, "h", "/", StatusCodeSet.Parse("200,301-302"))).Success, Is.False);
    }

    [Test]
    public void Http_get_fails_on_an_answer_that_is_not_http_and_where_nothing_listens()
    {
        using var server = new TinyHttpServer("SSH-2.0-OpenSSH_9.2\r\n");
        ProbeResult garbage = Run(new HttpGetProbe(server.EndPoint, "h"));
        ProbeResult refused = Run(new HttpGetProbe(ClosedPort(), "h"));
        using (Assert.EnterMultipleScope())
        {
            Assert.That(garbage.Success, Is.False);
            Assert.That(garbage.Detail, Does.Contain("no HTTP/1.x status line"));
            Assert.That(refused.Success, Is.False);
            Assert.That(refused.Detail, Does.Contain("ConnectionRefused"));
        }
    }

    [Test]
    public void A_server_that_never_answers_fails_the_check_at_its_timeout()
    {
        using var server = new TinyHttpServer(null);
        var probe = new HttpGetProbe(server.EndPoint, "h");
        using var checker = new HealthChecker(probe, new CheckOptions(TimeSpan.FromHours(1), TimeSpan.FromMilliseconds(300), Rise: 1, Fall: 1));
        checker.Start();
        var deadline = DateTime.UtcNow + Patience;
        while (checker.Probes == 0 && DateTime.UtcNow < deadline)
            Thread.Sleep(10);
        using (Assert.EnterMultipleScope())
        {
            Assert.That(checker.Probes, Is.EqualTo(1));
            Assert.That(checker.Up, Is.False);
            Assert.That(checker.LastResult.Detail, Does.Contain("no answer within 300 ms"));
        }
    }

    [Test]
    public void Status_sets_and_probe_settings_reject_nonsense_by_name()
    {
        var ep = new IPEndPoint(IPAddress.Loopback, 80);
        using (Assert.EnterMultipleScope())
        {
            Assert.That(StatusCodeSet.Parse("200, 204 ,300-399").Contains(350), Is.True);
            Assert.That(StatusCodeSet.Parse("200, 204 ,300-399").Contains(205), Is.False);
            Assert.That(() => StatusCodeSet.Parse("2xx"), Throws.InstanceOf<FormatException>().With.Message.Contains("'2xx' is neither"));
            Assert.That(() => StatusCodeSet.Parse("299-200"), Throws.InstanceOf<FormatException>());
            Assert.That(() => StatusCodeSet.Parse("600"), Throws.InstanceOf<FormatException>());
            Assert.That(() => new HttpGetProbe(ep, "h", "healthz"), Throws.ArgumentException.With.Message.Contains("must start with '/'"));
            Assert.That(() => new HttpGetProbe(ep, "h\r\nX: y"), Throws.ArgumentException.With.Message.Contains("line break"));
        }
    }
}
