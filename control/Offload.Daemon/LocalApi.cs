using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using Microsoft.Extensions.Logging;

namespace Offload.Daemon;

/// <summary>
/// The daemon's local HTTP API, for `offload show` and Prometheus: GET /metrics (text format), /api/glbp,
/// /api/flows?limit=N, /api/backends (JSON). A small HTTP/1.1 server on a TcpListener, one request per connection,
/// bound to a loopback address only: the API has no authentication, so it must not be reachable from the network.
/// </summary>
public sealed class LocalApi : IDisposable
{
    private const int MaxRequestBytes = 8192;

    public static readonly JsonSerializerOptions JsonOptions = new(JsonSerializerDefaults.Web) { WriteIndented = true };

    private readonly GatewayNode _node;
    private readonly ILogger _log;
    private readonly TcpListener _listener;
    private readonly CancellationTokenSource _stop = new();
    private Task _accept = Task.CompletedTask;

    public LocalApi(GatewayNode node, IPEndPoint listen, ILoggerFactory loggers)
    {
        _node = node ?? throw new ArgumentNullException(nameof(node));
        ArgumentNullException.ThrowIfNull(listen);
        ArgumentNullException.ThrowIfNull(loggers);
        if (!IPAddress.IsLoopback(listen.Address))
            throw new ArgumentException($"the local API binds loopback addresses only, not {listen}", nameof(listen));
        _log = loggers.CreateLogger<LocalApi>();
        _listener = new TcpListener(listen);
    }

    /// <summary>Where it listens (the real port when 0 was asked for), after <see cref="Start"/>.</summary>
    public Uri BaseAddress { get; private set; } = new("http://127.0.0.1/");

    public long Requests => Interlocked.Read(ref _requests);

    private long _requests;

    public void Start()
    {
        _listener.Start();
        var ep = (IPEndPoint)_listener.LocalEndpoint;
        // IPEndPoint brackets an IPv6 address ([::1]:9480), which a URI needs.
        BaseAddress = new Uri(string.Create(CultureInfo.InvariantCulture, $"http://{ep}/"));
        _accept = Task.Run(() => AcceptLoop(_stop.Token));
        _log.LogInformation("Local API on {Address}", BaseAddress);
    }

    public void Dispose()
    {
        _stop.Cancel();
        _listener.Stop();
        try
        {
            _accept.Wait(TimeSpan.FromSeconds(5));
        }
        catch (AggregateException)
        {
            // The accept loop ends with the listener; its exception says only that.
        }
        _listener.Dispose();
        _stop.Dispose();
    }

    private async Task AcceptLoop(CancellationToken ct)
    {
        while (!ct.IsCancellationRequested)
        {
            TcpClient client;
            try
            {
                client = await _listener.AcceptTcpClientAsync(ct).ConfigureAwait(false);
            }
            catch (Exception e) when (e is OperationCanceledException or ObjectDisposedException or SocketException)
            {
                return;
            }
            _ = Task.Run(() => Serve(client, ct), ct);
        }
    }

    private async Task Serve(TcpClient client, CancellationToken ct)
    {
        using (client)
        {
            try
            {
                using var timeout = CancellationTokenSource.CreateLinkedTokenSource(ct);
                timeout.CancelAfter(TimeSpan.FromSeconds(10));
                var stream = client.GetStream();
                string? target = await ReadRequest(stream, timeout.Token).ConfigureAwait(false);
                Interlocked.Increment(ref _requests);
                var (status, type, body) = target is null
                    ? (400, "text/plain", "bad request: only GET with a request line and headers under 8 KiB\n")
                    : Route(target);
                byte[] payload = Encoding.UTF8.GetBytes(body);
                string head = string.Create(CultureInfo.InvariantCulture,
                    $"HTTP/1.1 {status} {Reason(status)}\r\nContent-Type: {type}; charset=utf-8\r\nContent-Length: {payload.Length}\r\nConnection: close\r\n\r\n");
                await stream.WriteAsync(Encoding.ASCII.GetBytes(head), timeout.Token).ConfigureAwait(false);
                await stream.WriteAsync(payload, timeout.Token).ConfigureAwait(false);
            }
            catch (Exception e) when (e is IOException or SocketException or OperationCanceledException or ObjectDisposedException)
            {
                _log.LogDebug("API connection ended early: {Error}", e.Message);
            }
        }
    }

    // Returns the request target of a GET, or null for anything else.
    private static async Task<string?> ReadRequest(NetworkStream stream, CancellationToken ct)
    {
        var buffer = new byte[MaxRequestBytes];
        int filled = 0;
        while (filled < buffer.Length)
        {
            int n = await stream.ReadAsync(buffer.AsMemory(filled), ct).ConfigureAwait(false);
            if (n == 0)
                break;
            filled += n;
            if (buffer.AsSpan(0, filled).IndexOf("\r\n\r\n"u8) >= 0)
                break;
        }
        var text = Encoding.ASCII.GetString(buffer, 0, filled);
        int eol = text.IndexOf("\r\n", StringComparison.Ordinal);
        if (eol < 0 || !text.Contains("\r\n\r\n", StringComparison.Ordinal))
            return null;
        string[] parts = text[..eol].Split(' ');
        if (parts.Length != 3 || parts[0] != "GET" || !parts[2].StartsWith("HTTP/1.", StringComparison.Ordinal))
            return null;
        return parts[1];
    }

    private (int Status, string Type, string Body) Route(string target)
    {
        int q = target.IndexOf('?', StringComparison.Ordinal);
        string path = q < 0 ? target : target[..q];
        string query = q < 0 ? "" : target[(q + 1)..];
        try
        {
            return path switch
            {
                "/metrics" => (200, "text/plain; version=0.0.4", _node.Metrics()),
                "/api/glbp" => (200, "application/json", JsonSerializer.Serialize(_node.GlbpView(), JsonOptions)),
                "/api/flows" => Limit(query) is { } limit
                    ? (200, "application/json", JsonSerializer.Serialize(_node.FlowsView(limit), JsonOptions))
                    : (400, "text/plain", "bad request: limit must be a number 0..100000\n"),
                "/api/backends" => (200, "application/json", JsonSerializer.Serialize(_node.BackendsView(), JsonOptions)),
                _ => (404, "text/plain", $"no such endpoint {path}: try /metrics, /api/glbp, /api/flows, /api/backends\n"),
            };
        }
        catch (ObjectDisposedException)
        {
            return (503, "text/plain", "the gateway is shutting down\n");
        }
    }

    private static int? Limit(string query)
    {
        foreach (var pair in query.Split('&', StringSplitOptions.RemoveEmptyEntries))
        {
            if (!pair.StartsWith("limit=", StringComparison.Ordinal))
                continue;
            return int.TryParse(pair.AsSpan(6), NumberStyles.None, CultureInfo.InvariantCulture, out int n) && n <= 100_000 ? n : null;
        }
        return 100;
    }

    private static string Reason(int status) => status switch
    {
        200 => "OK",
        400 => "Bad Request",
        404 => "Not Found",
        503 => "Service Unavailable",
        _ => "Error",
    };
}
