using System.CommandLine;
using System.Globalization;
using System.Net;
using System.Runtime.InteropServices;
using Microsoft.Extensions.Logging;
using Offload.Daemon;
using Offload.Router;

namespace Offload.Cli;

/// <summary>
/// <c>offload router</c>: one L7 request router (YARP) from its config file, until Ctrl-C, SIGTERM or
/// <c>--seconds</c>; SIGHUP reads the file again and swaps the new config in without dropping requests in flight
/// (a file that does not validate is refused whole and the running config stays).
/// </summary>
internal static class RouterCommand
{
    public static Command Create()
    {
        var config = new Option<FileInfo>("--config") { Description = "router configuration (JSON; see examples/router.json)", Required = true };
        var listen = new Option<string?>("--listen") { Description = "override router.listen (HOST:PORT; port 0 picks one)" };
        var admin = new Option<string?>("--admin-listen") { Description = "override router.adminListen (loopback HOST:PORT; port 0 picks one)" };
        var seconds = new Option<double?>("--seconds") { Description = "stop after this many seconds instead of at Ctrl-C" };
        var verbose = new Option<bool>("--verbose") { Description = "log at debug level whatever the config says" };
        var command = new Command("router", "run an L7 request router (HTTP reverse proxy on YARP) over the gateways' backend pools; SIGHUP reloads its config")
        {
            config, listen, admin, seconds, verbose,
        };
        command.SetAction((r, ct) => Task.FromResult(Cli.Guard(() =>
            Cli.UntilStopped(ct, stop => Run(r.GetValue(config)!, r.GetValue(listen), r.GetValue(admin), r.GetValue(seconds), r.GetValue(verbose), Console.Out, stop)))));
        return command;
    }

    /// <summary>Runs the router; returns the exit code (2 for a configuration or an address it refuses).</summary>
    /// <param name="started">Called once both listeners are up, with the router and what asks for a reload as SIGHUP does
    /// (tests use them to find port 0 and to reload without a signal to the whole test process).</param>
    public static int Run(FileInfo configFile, string? listen, string? adminListen, double? seconds, bool verbose, TextWriter output, CancellationToken cancellationToken,
        Action<RouterHost, Action>? started = null)
    {
        ArgumentNullException.ThrowIfNull(configFile);
        ArgumentNullException.ThrowIfNull(output);
        if (seconds is not null && !(seconds > 0 && seconds <= RunCommand.MaxSeconds))
            return Fail(string.Create(CultureInfo.InvariantCulture, $"--seconds {seconds}: give a number of seconds above 0 and at most {RunCommand.MaxSeconds} (one year)"));
        IPEndPoint? listenOverride = null;
        IPEndPoint? adminOverride = null;
        if (listen is not null && (!IPEndPoint.TryParse(listen, out listenOverride) || !listen.Contains(':', StringComparison.Ordinal)))
            return Fail($"--listen '{listen}': give HOST:PORT such as 127.0.0.1:8080");
        if (adminListen is not null && (!IPEndPoint.TryParse(adminListen, out adminOverride) || !IPAddress.IsLoopback(adminOverride.Address)))
            return Fail($"--admin-listen '{adminListen}': give a loopback HOST:PORT such as 127.0.0.1:9490");
        RouterConfig Load()
        {
            var c = RouterConfig.Load(configFile.FullName);
            return c with { Listen = listenOverride ?? c.Listen, AdminListen = adminOverride ?? c.AdminListen };
        }
        RouterConfig config;
        try
        {
            config = Load();
        }
        catch (RouterConfigException e)
        {
            return Fail(e.Message);
        }

        if (verbose)
            config = config with { LogLevel = "debug" };
        using var loggers = DaemonLogging.CreateConsole(config.LogLevel, verbose, config.Name);
        var log = loggers.CreateLogger("Offload.Cli.Router");
        RouterHost host;
        try
        {
            host = RouterHost.StartAsync(config, loggers, cancellationToken).GetAwaiter().GetResult();
        }
        catch (Exception e) when (e is IOException or System.Net.Sockets.SocketException)
        {
            return Fail($"cannot listen on {config.Listen}, {config.AdminListen}{(config.AgentListen is null ? "" : $" or {config.AgentListen} (agents)")}: {e.Message}");
        }
        using var hup = new SemaphoreSlim(0);
        using var sighup = ReloadSignal.Register(() =>
        {
            log.LogInformation("SIGHUP: reloading the config file");
            hup.Release();
        }, out bool hupWasIgnored);
        if (hupWasIgnored)
            log.LogInformation("SIGHUP was ignored when this process started (nohup?); here it reloads the config file");
        try
        {
            output.WriteLine($"offload: router {config.Name} proxying on {host.ProxyAddress}, admin (metrics, health, routes) on {host.AdminAddress} (SIGHUP reloads, Ctrl-C stops)");
            started?.Invoke(host, () => hup.Release());
            using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            if (seconds is { } limit)
                stop.CancelAfter(TimeSpan.FromSeconds(limit));
            while (true)
            {
                try
                {
                    hup.Wait(stop.Token);
                }
                catch (OperationCanceledException)
                {
                    break;
                }
                try
                {
                    host.Reload(Load());
                }
                catch (RouterConfigException e)
                {
                    log.LogError("Reload refused, the running configuration stays: {Problem}", e.Message);
                    host.Metrics.Reload(applied: false);
                }
            }
            output.WriteLine($"offload: router {config.Name} stopped after {host.Reloads} reload(s)");
        }
        finally
        {
            host.DisposeAsync().AsTask().GetAwaiter().GetResult();
        }
        return 0;
    }

    private static int Fail(string message)
    {
        Console.Error.WriteLine($"offload: {message}");
        return 2;
    }
}
