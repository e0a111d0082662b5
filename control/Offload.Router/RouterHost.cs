using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Offload.Router.Agents;
using Offload.Router.Headers;
using Offload.Router.Health;
using Offload.Router.LoadBalancing;
using Offload.Router.Retries;
using Offload.Router.SessionAffinity;
using Prometheus;
using Yarp.ReverseProxy;
using Yarp.ReverseProxy.Configuration;
using Yarp.ReverseProxy.Health;
using Yarp.ReverseProxy.LoadBalancing;
using Yarp.ReverseProxy.Model;
using Yarp.ReverseProxy.SessionAffinity;
using Yarp.ReverseProxy.Transforms;

namespace Offload.Router;

/// <summary>
/// One router: YARP in a Kestrel host on the proxy listener, and a second small host on the loopback admin listener
/// (/metrics, /health, /api/routes; it has no authentication, like the gateway's API). Offload supplies the
/// configuration and the policies YARP lacks (weights, rise/fall, affinity that survives a restart, retries); YARP
/// forwards. A reload swaps a whole new configuration into YARP's in-memory provider: requests in flight finish on
/// the routes and clusters they started on.
/// </summary>
public sealed class RouterHost : IAsyncDisposable
{
    private readonly WebApplication _proxy;
    private readonly WebApplication _admin;
    private readonly InMemoryConfigProvider _provider;
    private readonly IProxyStateLookup _state;
    private readonly ILogger _log;
    private readonly AgentLoadFeed _agents;
    private readonly Lock _reloadLock = new();
    private readonly System.Net.IPEndPoint _listenAsGiven;
    private readonly System.Net.IPEndPoint _adminAsGiven;
    private RouterConfig _config;
    private long _reloads;
    private int _disposed;

    private RouterHost(RouterConfig config, WebApplication proxy, WebApplication admin, InMemoryConfigProvider provider, RouterMetrics metrics, AgentLoadFeed agents,
        ILogger log)
    {
        _agents = agents;
        _config = config;
        _listenAsGiven = config.Listen;
        _adminAsGiven = config.AdminListen;
        _proxy = proxy;
        _admin = admin;
        _provider = provider;
        _state = proxy.Services.GetRequiredService<IProxyStateLookup>();
        Metrics = metrics;
        _log = log;
    }

    public RouterConfig Config => Volatile.Read(ref _config);

    public RouterMetrics Metrics { get; }

    /// <summary>Where the proxy listens (the real port when 0 was asked for).</summary>
    public Uri ProxyAddress { get; private set; } = new("http://127.0.0.1/");

    public Uri AdminAddress { get; private set; } = new("http://127.0.0.1/");

    public long Reloads => Interlocked.Read(ref _reloads);

    /// <summary>Where agent reports are heard (the real port when 0 was asked for); null without <c>router.agentListen</c>.</summary>
    public System.Net.IPEndPoint? AgentAddress => _agents.LocalEndPoint;

    /// <summary>Agent reports taken and refused so far.</summary>
    public (long Accepted, long Refused) AgentReports => (_agents.Accepted, _agents.Refused);

    /// <summary>Builds and starts both listeners.</summary>
    /// <exception cref="IOException">A listener's address is taken or cannot be bound.</exception>
    public static async Task<RouterHost> StartAsync(RouterConfig config, ILoggerFactory loggers, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(config);
        ArgumentNullException.ThrowIfNull(loggers);
        var metrics = new RouterMetrics(config.Name);
        var (routes, clusters) = YarpConfig.Build(config);
        var provider = new InMemoryConfigProvider(routes, clusters);

        var feed = new AgentLoadFeed(config.AgentListen is { } al ? new Offload.Balancer.Health.UdpAgentTransport(al) : null, config.Agents, TimeProvider.System,
            loggers.CreateLogger<AgentLoadFeed>());
        var builder = Builder(loggers, config.Listen, config.LogLevel, listen => listen.Use(ConnectionNamedFields.Tap));
        builder.Services.AddSingleton(metrics);
        builder.Services.AddSingleton(feed);
        // The key is the one the router started with; a reload that changes it is refused, see Reload.
        builder.Services.AddSingleton(new RouterKey(config.AffinityKey ?? new byte[32]));
        builder.Services.AddSingleton<IProxyConfigProvider>(provider);
        builder.Services.AddReverseProxy().AddTransforms(t => t.AddResponseTransform(ConnectionNamedFields.StripResponse));
        builder.Services.AddSingleton<ILoadBalancingPolicy, WeightedPolicy>();
        builder.Services.AddSingleton<ILoadBalancingPolicy, LeastLoadedPolicy>();
        builder.Services.AddSingleton<ILoadBalancingPolicy, PowerOfTwoLoadPolicy>();
        builder.Services.AddSingleton<IPassiveHealthCheckPolicy, AgentSilencePolicy>();
        builder.Services.AddSingleton<IActiveHealthCheckPolicy, RiseFallHealthPolicy>();
        builder.Services.AddSingleton<ISessionAffinityPolicy, SignedCookieAffinityPolicy>();
        builder.Services.AddRequestTimeouts();
        var proxy = builder.Build();
        var host = (RouterHost?)null;
        proxy.Use(ConnectionNamedFields.Strip);
        proxy.UseRequestTimeouts();
        proxy.Use(async (context, next) =>
        {
            await next(context).ConfigureAwait(false);
            host?.Count(context);
        });
        proxy.MapGet(config.HealthPath, () => Results.Text("ok\n"));
        proxy.MapReverseProxy(pipeline =>
        {
            pipeline.UseMiddleware<RetryMiddleware>();
            pipeline.UseSessionAffinity();
            pipeline.UseLoadBalancing();
            pipeline.UsePassiveHealthChecks();
        });

        var adminBuilder = Builder(loggers, config.AdminListen, config.LogLevel);
        var admin = adminBuilder.Build();
        host = new RouterHost(config, proxy, admin, provider, metrics, feed, loggers.CreateLogger<RouterHost>());
        admin.MapGet("/health", () => Results.Text("ok\n"));
        admin.MapGet("/api/routes", () => Results.Json(host.View(), RoutesView.JsonOptions));
        admin.MapMetrics("/metrics", metrics.Registry);
        metrics.Registry.AddBeforeCollectCallback(host.UpdateGauges);

        try
        {
            await proxy.StartAsync(cancellationToken).ConfigureAwait(false);
            await admin.StartAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (IOException)
        {
            await host.DisposeAsync().ConfigureAwait(false);
            throw;
        }
        feed.Start(host._state, proxy.Services.GetRequiredService<IDestinationHealthUpdater>());
        host.ProxyAddress = AddressOf(proxy);
        host.AdminAddress = AddressOf(admin);
        host._log.LogInformation("Router {Name}: proxy on {Proxy}, admin on {Admin}; {Routes} route(s) over {Pools} pool(s)",
            config.Name, host.ProxyAddress, host.AdminAddress, config.Routes.Count, config.Pools.Count);
        return host;
    }

    /// <summary>
    /// Swaps in a new configuration: routes, pools, backends, weights, checks and retries change at once for new
    /// requests; requests in flight finish where they are. The listeners and the affinity key stay as started (a
    /// new key would break every client's affinity at once): a config that changes them is refused as a whole.
    /// </summary>
    /// <returns>Null when applied, else why not.</returns>
    public string? Reload(RouterConfig next)
    {
        ArgumentNullException.ThrowIfNull(next);
        lock (_reloadLock)
        {
            var now = Config;
            string? refusal = null;
            if (!next.Listen.Equals(_listenAsGiven))
                refusal = $"router.listen changed ({_listenAsGiven} to {next.Listen}): restart the router to move it";
            else if (!next.AdminListen.Equals(_adminAsGiven))
                refusal = $"router.adminListen changed ({_adminAsGiven} to {next.AdminListen}): restart the router to move it";
            else if (now.AffinityKey is { } key && !(next.AffinityKey ?? []).AsSpan().SequenceEqual(key))
                refusal = "router.affinityKey changed: every client's affinity cookie would stop counting; restart every router with the new key instead";
            else if (now.AffinityKey is null && next.AffinityKey is not null)
                refusal = "router.affinityKey added: affinity needs the key from the start; restart the router";
            else if (!string.Equals(next.HealthPath, now.HealthPath, StringComparison.Ordinal))
                refusal = "router.healthPath changed: restart the router to move it";
            else if (!Equals(next.AgentListen, now.AgentListen))
                refusal = "router.agentListen changed: restart the router to move it";
            else
                refusal = _agents.TryAdd(next.Agents);
            if (refusal is not null)
            {
                Metrics.Reload(applied: false);
                _log.LogError("Reload refused: {Reason}; the running configuration stays", refusal);
                return refusal;
            }
            var (routes, clusters) = YarpConfig.Build(next);
            _provider.Update(routes, clusters);
            Volatile.Write(ref _config, next);
            Interlocked.Increment(ref _reloads);
            Metrics.Reload(applied: true);
            _log.LogInformation("Reloaded: {Routes} route(s) over {Pools} pool(s)", next.Routes.Count, next.Pools.Count);
            return null;
        }
    }

    /// <summary>The routes as configured and each pool's backends as YARP holds them now.</summary>
    public RoutesView View()
    {
        var config = Config;
        var routes = config.Routes.Select(r => new RouteView(r.Id, r.Pool, r.Hosts, r.Path, r.Methods,
            [.. r.Headers.Select(h => h.Values.Count == 0 ? $"{h.Name} present" : $"{h.Name} {h.Mode.ToString().ToLowerInvariant()} {string.Join('|', h.Values)}")],
            r.Timeout?.TotalMilliseconds, r.Retries, r.Order)).ToList();
        var pools = new List<PoolView>();
        foreach (var pool in config.Pools)
        {
            var backends = new List<PoolBackendView>();
            _state.TryGetCluster(pool.Id, out ClusterState? cluster);
            var available = cluster?.DestinationsState.AvailableDestinations;
            foreach (var b in pool.Backends)
            {
                DestinationState? d = null;
                cluster?.Destinations.TryGetValue(b.Id, out d);
                var load = d is null ? null : _agents.Of(d);
                int weight = d is null ? b.Weight : _agents.WeightOf(d);
                string agent = b.Agent is null ? "none" : _agents.IsSilent(b.Agent.Id) ? "silent" : load is null ? "waiting" : load.Drain ? "drain" : "fresh";
                backends.Add(new PoolBackendView(b.Id, b.Address.ToString(), weight, d?.Health.Active.ToString() ?? "Unknown",
                    d is not null && available?.Contains(d) == true && weight > 0, d?.ConcurrentRequestCount ?? 0, agent, load?.Figure));
            }
            pools.Add(new PoolView(pool.Id, pool.Balancing switch
            {
                PoolBalancing.Weighted => "weighted",
                PoolBalancing.LeastLoaded => "least-loaded",
                PoolBalancing.PowerOfTwoLoad => "power-of-two-load",
                PoolBalancing.RoundRobin => "round-robin",
                PoolBalancing.Random => "random",
                PoolBalancing.LeastRequests => "least-requests",
                _ => "power-of-two",
            }, pool.Check is not null, pool.AffinityCookie, backends));
        }
        return new RoutesView(config.Name, ProxyAddress.ToString(), Reloads, routes, pools);
    }

    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) == 1)
            return;
        // The proxy first: it finishes the requests in flight (the host's shutdown timeout) while /metrics still answers.
        await _proxy.StopAsync().ConfigureAwait(false);
        await _admin.StopAsync().ConfigureAwait(false);
        await _proxy.DisposeAsync().ConfigureAwait(false);
        await _admin.DisposeAsync().ConfigureAwait(false);
        _agents.Dispose();
    }

    private void Count(HttpContext context)
    {
        var feature = context.Features.Get<IReverseProxyFeature>();
        if (feature is null)
        {
            if (context.GetEndpoint() is null)
                Metrics.Request("", "", "", context.Response.StatusCode);
            return;
        }
        Metrics.Request(feature.Route.Config.RouteId, feature.Cluster.Config.ClusterId, feature.ProxiedDestination?.DestinationId ?? "", context.Response.StatusCode);
    }

    private void UpdateGauges()
    {
        foreach (var pool in View().Pools)
        {
            foreach (var b in pool.Backends)
                Metrics.BackendUp.WithLabels(pool.Id, b.Id).Set(b.Available ? 1 : 0);
        }
    }

    private static WebApplicationBuilder Builder(ILoggerFactory loggers, System.Net.IPEndPoint listen, string level, Action<ListenOptions>? configure = null)
    {
        var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions { ContentRootPath = AppContext.BaseDirectory });
        builder.Logging.ClearProviders();
        builder.Logging.AddProvider(new ForwardingLoggerProvider(loggers));
        // Below the configured level nothing reaches the caller's loggers at all. The hosting's request diagnostics stay off
        // whatever the level: enabled, they start an Activity per request that HttpClient then carries upstream (a
        // traceparent header and a child activity each time), which cost the router a third of its throughput; the
        // router's own metrics count requests instead.
        var min = Offload.Daemon.DaemonLogging.ParseLevel(level) switch
        {
            Serilog.Events.LogEventLevel.Verbose => LogLevel.Trace,
            Serilog.Events.LogEventLevel.Debug => LogLevel.Debug,
            Serilog.Events.LogEventLevel.Warning => LogLevel.Warning,
            Serilog.Events.LogEventLevel.Error => LogLevel.Error,
            Serilog.Events.LogEventLevel.Fatal => LogLevel.Critical,
            _ => LogLevel.Information,
        };
        builder.Logging.SetMinimumLevel(min);
        if (min >= LogLevel.Information)
        {
            // Above debug, nothing per request: ASP.NET's and YARP's lines for each request, a stack trace for each request
            // that failed upstream and for each failed probe. Requests and failures are counted in /metrics; health changes
            // are logged once each (YARP's DestinationHealthUpdater, AgentLoadFeed).
            builder.Logging.AddFilter("Microsoft.AspNetCore", (LogLevel)Math.Max((int)min, (int)LogLevel.Warning));
            builder.Logging.AddFilter("Yarp.ReverseProxy.Forwarder", (LogLevel)Math.Max((int)min, (int)LogLevel.Error));
            builder.Logging.AddFilter("Yarp.ReverseProxy.Health.ActiveHealthCheckMonitor", (LogLevel)Math.Max((int)min, (int)LogLevel.Error));
        }
        builder.Logging.AddFilter("Microsoft.AspNetCore.Hosting.Diagnostics", LogLevel.None);
        builder.Services.Configure<ConsoleLifetimeOptions>(o => o.SuppressStatusMessages = true);
        builder.WebHost.ConfigureKestrel(k => k.Listen(listen, o => configure?.Invoke(o)));
        return builder;
    }

    /// <summary>
    /// Hands the host's loggers to the caller's factory (Serilog in the CLI) while ASP.NET Core's own factory keeps the
    /// scopes (given the Serilog factory directly, the host opens a Serilog scope for every request and connection) and
    /// its per-category filters.
    /// </summary>
    private sealed class ForwardingLoggerProvider(ILoggerFactory target) : ILoggerProvider, ISupportExternalScope
    {
        public ILogger CreateLogger(string categoryName) => target.CreateLogger(categoryName);

        public void SetScopeProvider(IExternalScopeProvider scopeProvider)
        {
            // Scopes stay with the host's factory: nothing the router logs reads them.
        }

        public void Dispose()
        {
            // The caller owns the target factory.
        }
    }

    private static Uri AddressOf(WebApplication app)
    {
        string address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        return new Uri(address.EndsWith('/') ? address : address + "/", UriKind.Absolute);
    }
}
