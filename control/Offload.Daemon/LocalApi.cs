using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Offload.Daemon;

/// <summary>
/// The daemon's local HTTP API, for `offload show` and Prometheus: GET /metrics (text format), /api/glbp,
/// /api/flows?limit=N, /api/backends (JSON). Kestrel with minimal API routes, bound to a loopback address only: the
/// API has no authentication, so it must not be reachable from the network.
/// </summary>
public sealed class LocalApi : IDisposable
{
    public static readonly JsonSerializerOptions JsonOptions = new(JsonSerializerDefaults.Web) { WriteIndented = true };

    private const string Endpoints = "try /metrics, /api/glbp, /api/flows, /api/backends";

    private readonly GatewayNode _node;
    private readonly EndPoint _listen;
    private readonly ILoggerFactory _loggers;
    private WebApplication? _app;
    private string? _socketPath;
    private long _requests;

    /// <param name="listen">A loopback address and port, or a Unix socket (owner and group may use it: mode 0660).</param>
    public LocalApi(GatewayNode node, EndPoint listen, ILoggerFactory loggers)
    {
        _node = node ?? throw new ArgumentNullException(nameof(node));
        ArgumentNullException.ThrowIfNull(listen);
        _loggers = loggers ?? throw new ArgumentNullException(nameof(loggers));
        if (listen is not UnixDomainSocketEndPoint && (listen is not IPEndPoint ip || !IPAddress.IsLoopback(ip.Address)))
            throw new ArgumentException($"the local API binds loopback addresses or a Unix socket only, not {listen}", nameof(listen));
        _listen = listen;
    }

    /// <summary>Where it listens (the real port when 0 was asked for; <c>unix:/path</c> for a socket), after <see cref="Start"/>.</summary>
    public Uri BaseAddress { get; private set; } = new("http://127.0.0.1/");

    public long Requests => Interlocked.Read(ref _requests);

    /// <exception cref="IOException">The address is taken (Kestrel words it as an IOException).</exception>
    public void Start()
    {
        var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions { ContentRootPath = AppContext.BaseDirectory });
        builder.Logging.ClearProviders();
        builder.Logging.AddProvider(new ForwardingLoggerProvider(_loggers));
        // Nothing per request above debug; Kestrel's own warnings and errors still show.
        builder.Logging.AddFilter("Microsoft.AspNetCore", LogLevel.Warning);
        builder.Logging.AddFilter("Microsoft.Hosting.Lifetime", LogLevel.None);
        builder.Logging.AddFilter("Microsoft.Extensions.Hosting", LogLevel.None);
        // The API is a part of the daemon, not a host of its own: the daemon's host owns signals and lifetime.
        builder.Services.AddSingleton<IHostLifetime, NoLifetime>();
        string? socketPath = (_listen as UnixDomainSocketEndPoint)?.ToString();
        if (socketPath is not null)
            ClearStaleSocket(socketPath);
        builder.WebHost.ConfigureKestrel(k =>
        {
            if (socketPath is not null)
                k.ListenUnixSocket(socketPath);
            else
                k.Listen((IPEndPoint)_listen);
            k.Limits.MaxRequestHeadersTotalSize = 8192;
            k.Limits.MaxRequestBodySize = 0;
        });
        var app = builder.Build();
        app.Use(async (context, next) =>
        {
            Interlocked.Increment(ref _requests);
            await next(context).ConfigureAwait(false);
        });
        Map(app, _node);
        app.StartAsync().GetAwaiter().GetResult();
        _app = app;
        if (socketPath is not null)
        {
            // Kestrel creates it with the process's umask: the API is for this host's operators, not every local user.
            File.SetUnixFileMode(socketPath, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.GroupWrite);
            _socketPath = socketPath;
            BaseAddress = new Uri(ApiEndPoint.UnixPrefix + socketPath, UriKind.Absolute);
        }
        else
        {
            string address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
            BaseAddress = new Uri(address.EndsWith('/') ? address : address + "/", UriKind.Absolute);
        }
        _loggers.CreateLogger<LocalApi>().LogInformation("Local API on {Address}", BaseAddress);
    }

    /// <summary>The routes, on any endpoint builder: the same paths and JSON the CLI's `offload show` reads.</summary>
    public static void Map(IEndpointRouteBuilder app, GatewayNode node)
    {
        ArgumentNullException.ThrowIfNull(app);
        ArgumentNullException.ThrowIfNull(node);
        app.MapGet("/metrics", () => Guarded(() => Results.Text(node.Metrics(), "text/plain; version=0.0.4; charset=utf-8")));
        app.MapGet("/api/glbp", () => Guarded(() => Json(node.GlbpView())));
        app.MapGet("/api/flows", (HttpRequest request) => Guarded(() => Limit(request.Query["limit"]) is { } limit
            ? Json(node.FlowsView(limit))
            : Results.Text("bad request: limit must be a number 0..100000\n", "text/plain; charset=utf-8", statusCode: 400)));
        app.MapGet("/api/backends", () => Guarded(() => Json(node.BackendsView())));
        app.MapFallback((HttpRequest request) => Results.Text($"no such endpoint {request.Method} {request.Path}: {Endpoints}\n", "text/plain; charset=utf-8",
            statusCode: request.Method == HttpMethods.Get ? 404 : 405));
    }

    public void Dispose()
    {
        if (_app is null)
            return;
        _app.StopAsync(TimeSpan.FromSeconds(5)).GetAwaiter().GetResult();
        _app.DisposeAsync().AsTask().GetAwaiter().GetResult();
        _app = null;
        if (_socketPath is not null)
            File.Delete(_socketPath);
    }

    // A socket left by a daemon that died would make the bind fail; one another daemon serves must not be taken over,
    // and a file that is not a socket (it has content, or is a directory) is not ours to delete.
    private static void ClearStaleSocket(string path)
    {
        if (Directory.Exists(path))
            throw new IOException($"{path} is a directory, not a socket");
        if (!File.Exists(path))
            return;
        var info = new FileInfo(path);
        if (info.LinkTarget is not null || info.Length != 0)
            throw new IOException($"{path} exists and is not a socket");
        using (var probe = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified))
        {
            try
            {
                probe.Connect(new UnixDomainSocketEndPoint(path));
                throw new IOException($"{path} is served by another process");
            }
            catch (SocketException e) when (e.SocketErrorCode == SocketError.ConnectionRefused)
            {
                // Nobody listens: a leftover.
            }
            catch (SocketException e)
            {
                // Permission denied and the like: whether someone serves it cannot be told, so it is not ours to remove.
                throw new IOException($"{path} cannot be checked ({e.Message})", e);
            }
        }
        File.Delete(path);
    }

    private static IResult Json<T>(T view) => Results.Text(JsonSerializer.Serialize(view, JsonOptions), "application/json; charset=utf-8");

    private static IResult Guarded(Func<IResult> body)
    {
        try
        {
            return body();
        }
        catch (ObjectDisposedException)
        {
            return Results.Text("the gateway is shutting down\n", "text/plain; charset=utf-8", statusCode: 503);
        }
    }

    private static int? Limit(Microsoft.Extensions.Primitives.StringValues values)
    {
        if (values.Count == 0)
            return 100;
        return int.TryParse(values[^1], NumberStyles.None, CultureInfo.InvariantCulture, out int n) && n <= 100_000 ? n : null;
    }

    private sealed class NoLifetime : IHostLifetime
    {
        public Task WaitForStartAsync(CancellationToken cancellationToken) => Task.CompletedTask;

        public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
    }
}
