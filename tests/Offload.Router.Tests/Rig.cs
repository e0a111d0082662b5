using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Offload.Router.Tests;

/// <summary>
/// A real HTTP backend on 127.0.0.1 (Kestrel, ephemeral port): answers every request with its id (body and
/// X-Backend header), counts what reaches it, waits <c>?delay=MS</c> first, and serves /health as 200 while
/// <see cref="Healthy"/> and 503 otherwise (the rest keeps working: a failing check, not a dead server).
/// </summary>
internal sealed class Backend : IAsyncDisposable
{
    private readonly WebApplication _app;
    private long _requests;
    private long _inFlight;
    private long _checks;

    private Backend(string id, WebApplication app)
    {
        Id = id;
        _app = app;
    }

    public string Id { get; }

    public int Port { get; private set; }

    public volatile bool Healthy = true;

    /// <summary>Requests other than health checks.</summary>
    public long Requests => Interlocked.Read(ref _requests);

    public long InFlight => Interlocked.Read(ref _inFlight);

    public long Checks => Interlocked.Read(ref _checks);

    public ConcurrentQueue<string> Seen { get; } = new();

    /// <summary>The header names of every request that reached the backend, lower case.</summary>
    public ConcurrentQueue<string[]> Headers { get; } = new();

    public static async Task<Backend> StartAsync(string id)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.ConfigureKestrel(k => k.Listen(IPAddress.Loopback, 0));
        var app = builder.Build();
        var backend = new Backend(id, app);
        app.Run(backend.Serve);
        await app.StartAsync().ConfigureAwait(false);
        string address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        backend.Port = new Uri(address).Port;
        return backend;
    }

    private async Task Serve(HttpContext context)
    {
        if (context.Request.Path == "/health")
        {
            Interlocked.Increment(ref _checks);
            context.Response.StatusCode = Healthy ? 200 : 503;
            return;
        }
        Interlocked.Increment(ref _requests);
        Interlocked.Increment(ref _inFlight);
        try
        {
            Seen.Enqueue($"{context.Request.Method} {context.Request.Path}{context.Request.QueryString}");
            Headers.Enqueue([.. context.Request.Headers.Keys.Select(k => k.ToLowerInvariant())]);
            if (int.TryParse(context.Request.Query["delay"], out int delay))
                await Task.Delay(delay, context.RequestAborted).ConfigureAwait(false);
            context.Response.Headers["X-Backend"] = Id;
            await context.Response.WriteAsync(Id, context.RequestAborted).ConfigureAwait(false);
        }
        finally
        {
            Interlocked.Decrement(ref _inFlight);
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync().ConfigureAwait(false);
        await _app.DisposeAsync().ConfigureAwait(false);
    }
}

internal static class Rig
{
    public static readonly ILoggerFactory Quiet = NullLoggerFactory.Instance;

    public static async Task<RouterHost> Router(string json) =>
        await RouterHost.StartAsync(RouterConfig.Parse(json, "test.json"), Quiet).ConfigureAwait(false);

    /// <summary>A client that keeps no cookies of its own (tests send the ones they mean to) and follows no redirects.</summary>
    public static HttpClient Client(RouterHost router) => new(new SocketsHttpHandler { UseCookies = false, AllowAutoRedirect = false })
    {
        BaseAddress = router.ProxyAddress,
        Timeout = TimeSpan.FromSeconds(30),
    };

    /// <summary>A loopback port nothing listens on: connecting is refused at once.</summary>
    public static int DeadPort()
    {
        using var s = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        s.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        return ((IPEndPoint)s.LocalEndPoint!).Port;
    }

    public static string BackendJson(Backend b, int weight = 1) => $$"""{ "id": "{{b.Id}}", "address": "127.0.0.1", "port": {{b.Port}}, "weight": {{weight}} }""";

    /// <summary>Waits until <paramref name="condition"/> holds, or fails the test at the deadline.</summary>
    public static async Task Until(Func<bool> condition, TimeSpan deadline, string what)
    {
        var end = DateTime.UtcNow + deadline;
        while (!condition())
        {
            if (DateTime.UtcNow > end)
                Assert.Fail($"not within {deadline.TotalSeconds:0.#} s: {what}");
            await Task.Delay(10).ConfigureAwait(false);
        }
    }

    public static bool Available(RouterHost router, string pool, string backend) =>
        router.View().Pools.Single(p => p.Id == pool).Backends.Single(b => b.Id == backend).Available;
}
