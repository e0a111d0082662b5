using System.Globalization;
using System.Runtime.InteropServices;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Hosting.Systemd;
using Microsoft.Extensions.Logging;

namespace Offload.Daemon;

/// <summary>How one daemon run ended.</summary>
/// <param name="Resigned">What leaving did; null when the loop never got to it (it failed).</param>
/// <param name="Fault">What stopped the loop, if it was not a stop.</param>
public sealed record DaemonRun(Uri Api, long ApiRequests, ResignSummary? Resigned, Exception? Fault);

/// <summary>
/// The gateway as a daemon on Microsoft.Extensions.Hosting: the host owns lifetime and signals (SIGTERM, SIGINT), and
/// under systemd (<c>Type=notify</c>) its systemd lifetime says READY=1 once the node runs and the API listens and
/// STOPPING=1 when it stops; the loop sends WATCHDOG=1 while its rounds complete. SIGHUP reloads the config file
/// (<see cref="GatewayLoop.RequestReload"/>); stopping hands the sessions over and resigns before the process exits.
/// </summary>
public static class GatewayDaemon
{
    /// <summary>
    /// Runs <paramref name="node"/> until <paramref name="stop"/> is cancelled or the host is told to stop (SIGTERM,
    /// Ctrl-C, systemd). The caller owns the node, the device and the device's clock, and keeps them until this returns.
    /// </summary>
    /// <param name="reload">Reads the config file again for SIGHUP (throws <see cref="ConfigFileException"/> on a bad file).</param>
    /// <param name="reloaded">Called after a reload applied (the log level is applied there).</param>
    /// <param name="started">Called with the API's address once the node runs and the API listens.</param>
    /// <exception cref="IOException">The API's address cannot be bound.</exception>
    public static DaemonRun Run(GatewayNode node, ILoggerFactory loggers, Func<GatewayConfig>? reload, Action<GatewayConfig>? reloaded, CancellationToken stop,
        Action<Uri>? started = null)
    {
        ArgumentNullException.ThrowIfNull(node);
        ArgumentNullException.ThrowIfNull(loggers);
        var builder = Host.CreateEmptyApplicationBuilder(new HostApplicationBuilderSettings { ContentRootPath = AppContext.BaseDirectory });
        builder.Logging.ClearProviders();
        builder.Logging.AddProvider(new ForwardingLoggerProvider(loggers));
        // A start that fails (the API's port taken) is said once, in one line, by the caller; the host's own error
        // line would add a stack trace.
        builder.Logging.AddFilter("Microsoft.Extensions.Hosting", LogLevel.None);
        builder.Services.Configure<ConsoleLifetimeOptions>(o => o.SuppressStatusMessages = true);
        // Leaving takes the hand-over time plus the resign hellos' way out; the host's default 30 s is plenty.
        builder.Services.Configure<HostOptions>(o => o.ShutdownTimeout = TimeSpan.FromSeconds(30));
        // Under systemd: its lifetime (READY, STOPPING, SIGTERM) and notifier; elsewhere the console lifetime (Ctrl-C, SIGTERM).
        builder.Services.AddSystemd();
        var service = new GatewayService(node, loggers, reload, reloaded, started);
        builder.Services.AddSingleton<IHostedService>(sp =>
        {
            service.Bind(sp.GetService<ISystemdNotifier>(), sp.GetRequiredService<IHostApplicationLifetime>());
            return service;
        });
        using var host = builder.Build();
        host.StartAsync(stop).GetAwaiter().GetResult();
        try
        {
            // Ends on SIGTERM/Ctrl-C (the lifetime stops the host) or when the caller's token fires.
            var lifetime = host.Services.GetRequiredService<IHostApplicationLifetime>();
            WaitHandle.WaitAny([stop.WaitHandle, lifetime.ApplicationStopping.WaitHandle]);
        }
        finally
        {
            host.StopAsync(CancellationToken.None).GetAwaiter().GetResult();
        }
        return new DaemonRun(service.Api, service.ApiRequests, service.Resigned, service.Fault);
    }

    /// <summary>The watchdog interval systemd asks for (half its WatchdogSec), or null when it asks for none or for another process.</summary>
    public static TimeSpan? WatchdogInterval()
    {
        string? usec = Environment.GetEnvironmentVariable("WATCHDOG_USEC");
        string? pid = Environment.GetEnvironmentVariable("WATCHDOG_PID");
        if (pid is not null && pid != Environment.ProcessId.ToString(CultureInfo.InvariantCulture))
            return null;
        if (!long.TryParse(usec, NumberStyles.None, CultureInfo.InvariantCulture, out long micros) || micros <= 0)
            return null;
        return TimeSpan.FromMicroseconds(micros / 2.0);
    }

    /// <summary>The node's loop and API as the host's one hosted service.</summary>
    private sealed class GatewayService(GatewayNode node, ILoggerFactory loggers, Func<GatewayConfig>? reload, Action<GatewayConfig>? reloaded,
        Action<Uri>? started) : IHostedService, IDisposable
    {
        private readonly ILogger _log = loggers.CreateLogger("Offload.Daemon");
        private ISystemdNotifier? _notifier;
        private IHostApplicationLifetime? _lifetime;
        private GatewayLoop? _loop;
        private LocalApi? _api;
        private PosixSignalRegistration? _hup;

        public Uri Api { get; private set; } = new("http://127.0.0.1/");

        public long ApiRequests { get; private set; }

        public ResignSummary? Resigned { get; private set; }

        public Exception? Fault { get; private set; }

        public void Bind(ISystemdNotifier? notifier, IHostApplicationLifetime lifetime)
        {
            _notifier = notifier is { IsEnabled: true } ? notifier : null;
            _lifetime = lifetime;
        }

        public Task StartAsync(CancellationToken cancellationToken)
        {
            var api = new LocalApi(node, node.Config.ApiListen, loggers);
            api.Start();
            _api = api;
            Api = api.BaseAddress;
            var interval = _notifier is null ? null : WatchdogInterval();
            Action? heartbeat = interval is null ? null : () => _notifier!.Notify(new ServiceState("WATCHDOG=1"));
            _loop = new GatewayLoop(node, loggers, reload, reloaded, heartbeat, interval ?? default, faulted: () => _lifetime?.StopApplication());
            _loop.Start();
            // SIGHUP's default action ends the process; here it asks the loop for a reload instead.
            _hup = ReloadSignal.Register(() =>
            {
                _log.LogInformation("SIGHUP: reloading the config file");
                _loop.RequestReload();
            }, out bool hupWasIgnored);
            if (hupWasIgnored)
                _log.LogInformation("SIGHUP was ignored when this process started (nohup?); here it reloads the config file");
            _log.LogInformation("Gateway {Name} running; API at {Api}{Systemd}", node.Config.Name, Api,
                _notifier is null ? "" : interval is { } w ? $"; systemd notified, watchdog every {w.TotalMilliseconds:0} ms" : "; systemd notified");
            started?.Invoke(Api);
            return Task.CompletedTask;
        }

        public async Task StopAsync(CancellationToken cancellationToken)
        {
            _hup?.Dispose();
            _log.LogInformation("Stopping: handing sessions over and resigning");
            if (_loop is { } loop)
            {
                Resigned = await Task.Run(loop.StopAndResign, CancellationToken.None).ConfigureAwait(false);
                Fault = loop.Fault;
                loop.Dispose();
                _loop = null;
            }
            if (_api is { } api)
            {
                ApiRequests = api.Requests;
                api.Dispose();
                _api = null;
            }
            _log.LogInformation("Stopped");
        }

        public void Dispose()
        {
            // Normally done by StopAsync; a host that failed to start still lets the loop and the API go.
            _hup?.Dispose();
            _loop?.Dispose();
            _api?.Dispose();
        }
    }
}

/// <summary>The caller's logger factory (Serilog in the daemon) behind a host's own, which keeps its scopes and filters.</summary>
internal sealed class ForwardingLoggerProvider(ILoggerFactory target) : ILoggerProvider
{
    public ILogger CreateLogger(string categoryName) => target.CreateLogger(categoryName);

    public void Dispose()
    {
        // The caller owns the target factory.
    }
}
