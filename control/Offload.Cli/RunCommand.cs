using System.CommandLine;
using System.Globalization;
using System.Net;
using System.Runtime.InteropServices;
using Offload.Daemon;
using Offload.Device;
using Offload.Device.Ports;

namespace Offload.Cli;

/// <summary>
/// <c>offload run</c>: one gateway daemon on a data plane named by a device URI (the in-process Verilator model by
/// default, or one served by <c>offload sim serve</c>), on the system clock, with its local API, until Ctrl-C, SIGTERM
/// or <c>--seconds</c>; SIGHUP reloads the config file.
/// </summary>
internal static class RunCommand
{
    /// <summary>The longest --seconds: one year, well inside what a timer takes.</summary>
    public const int MaxSeconds = 31_536_000;

    public static Command Create()
    {
        var config = new Option<FileInfo>("--config") { Description = "gateway configuration (JSON; see examples/gateway.json)", Required = true };
        var seconds = new Option<double?>("--seconds") { Description = "stop after this many seconds instead of at Ctrl-C" };
        var verbose = new Option<bool>("--verbose") { Description = "log at debug level whatever the config says" };
        var api = new Option<string?>("--api-listen") { Description = "override api.listen (loopback HOST:PORT; port 0 picks one)" };
        var device = new Option<string>("--device") { Description = $"the data plane: {Offload.Device.Transports.DeviceUri.Known}", DefaultValueFactory = _ => "model:" };
        var command = new Command("run", "run a gateway daemon on a data plane (the Verilator model by default): GLBP, balancer, session sync, metrics and the local API")
        {
            config, seconds, verbose, api, device,
        };
        command.SetAction((r, ct) => Task.FromResult(Cli.Guard(() =>
        {
            return Cli.UntilStopped(ct, stop => Run(r.GetValue(config)!, r.GetValue(seconds), r.GetValue(verbose), r.GetValue(api), Console.Out, stop,
                deviceUri: r.GetValue(device)));
        })));
        return command;
    }

    /// <summary>Runs the daemon; returns the exit code (2 for a configuration it refuses).</summary>
    /// <param name="started">Called with the API's address once it listens (tests use it to find port 0).</param>
    /// <param name="deviceUri">The data plane (<see cref="Offload.Device.Transports.DeviceUri"/>); null for the in-process model.</param>
    public static int Run(FileInfo configFile, double? seconds, bool verbose, string? apiListen, TextWriter output, CancellationToken cancellationToken,
        Action<Uri>? started = null, string? deviceUri = null)
    {
        ArgumentNullException.ThrowIfNull(configFile);
        ArgumentNullException.ThrowIfNull(output);
        if (seconds is not null && !(seconds > 0 && seconds <= MaxSeconds))
            return Fail(string.Create(CultureInfo.InvariantCulture, $"--seconds {seconds}: give a number of seconds above 0 and at most {MaxSeconds} (one year)"));
        EndPoint? apiOverride = null;
        if (apiListen is not null && !ApiEndPoint.TryParse(apiListen, out apiOverride, out string? why))
            return Fail($"--api-listen {why}");
        // The file as SIGHUP reads it again: the command line's override applies to every reading alike.
        GatewayConfig Load()
        {
            var c = GatewayConfig.Load(configFile.FullName);
            return apiOverride is null ? c : c with { ApiListen = apiOverride };
        }
        GatewayConfig config;
        try
        {
            config = Load();
        }
        catch (GatewayConfigException e)
        {
            return Fail(e.Message);
        }
        foreach (string warning in config.Warnings)
            Console.Error.WriteLine($"offload: warning: {configFile.FullName}: {warning}");

        Offload.Device.Transports.DeviceUri where;
        try
        {
            where = deviceUri is null ? Offload.Device.Transports.DeviceUri.Model() : Offload.Device.Transports.DeviceUri.Parse(deviceUri);
        }
        catch (FormatException e)
        {
            return Fail($"--device: {e.Message}");
        }
        if (config.Ports.Count > 0 && where.Scheme != "model")
            return Fail($"{configFile.FullName}: dataplane.ports binds the in-process model's ports; a device at {where} has its own (for a served model: offload sim serve --port0/--port1)");
        using var loggers = DaemonLogging.CreateConsole(config.LogLevel, verbose, config.Name, out var level);
        // The device, its ports and its clock: made here, in this one place, and kept until the daemon has resigned
        // (its resign hellos leave through them).
        using var device = DeviceOpener.Open(where);
        ModelPorts? wires = null;
        if (config.Ports.Count > 0)
        {
            try
            {
                wires = new ModelPorts((ModelDevice)device, config.Ports.Select(p => new PortBinding(p.Port, p.Interface, p.Mtu)));
            }
            catch (DeviceException e)
            {
                return Fail($"{configFile.FullName}: dataplane.ports: {e.Message}");
            }
        }
        using var ownedWires = wires;
        GatewayNode node;
        try
        {
            node = new GatewayNode(config, device, TimeProvider.System, loggers);
        }
        catch (GatewayConfigException e)
        {
            return Fail(e.Message);
        }
        catch (System.Net.Sockets.SocketException e)
        {
            return Fail($"cannot listen for agent reports on {config.AgentListen}: {e.Message}");
        }
        using (node)
        {
            // An in-process model's clock runs by itself, as a board's would: on the interfaces dataplane.ports names, or
            // with nothing attached, when what leaves a port is counted and dropped as an unplugged wire would. A served
            // model runs in its server.
            using var clock = wires is not null ? wires.AttachTo() : device is ModelDevice model ? ModelClock.Start(model) : null;
            using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            if (seconds is { } limit)
                stop.CancelAfter(TimeSpan.FromSeconds(limit));
            if (wires is not null)
                node.WireMetrics = m => WriteWireMetrics(m, wires, clock!);
            DaemonRun run;
            try
            {
                run = GatewayDaemon.Run(node, loggers, Load, next =>
                {
                    if (!verbose)
                        level.MinimumLevel = DaemonLogging.ParseLevel(next.LogLevel) ?? level.MinimumLevel;
                }, stop.Token, api =>
                {
                    output.WriteLine($"offload: gateway {config.Name} running on {(device is ModelDevice ? "the Verilator model" : where.ToString())}; API at {api} (SIGHUP reloads, Ctrl-C or SIGTERM stops)");
                    output.Flush();
                    started?.Invoke(api);
                });
            }
            catch (IOException e)
            {
                return Fail($"cannot serve the API on {ApiEndPoint.Format(config.ApiListen)}: {e.Message} (another daemon there? use --api-listen)");
            }
            var glbp = node.GlbpView();
            var flows = node.FlowsView(0);
            string resigned = run.Resigned is { } r
                ? $"resigned from {r.Groups} group(s){(r.WasActiveIn.Count > 0 ? $" ({string.Join(", ", r.WasActiveIn)})" : "")}, {r.Sessions} session(s) {(r.HandedOver ? "handed over" : "not all acknowledged")}"
                : "did not resign";
            output.WriteLine($"offload: stopped; {resigned}; {string.Join(", ", glbp.Groups.Select(g => $"group {g.Group} {g.State}"))}; {flows.Sessions} session(s), " +
                $"{node.ReloadsApplied} reload(s) applied, {node.ReloadsRefused} refused, {run.ApiRequests} API request(s), " +
                $"{(clock is null ? "frames counted by the device's server" : $"{clock.FramesOut(0)} frame(s) out port 0, {clock.FramesOut(1)} out port 1")}");
            if (run.Fault is { } fault)
            {
                Console.Error.WriteLine($"offload: the gateway loop failed: {fault.Message}");
                return 1;
            }
        }
        return 0;
    }

    // What crossed each bound interface and what was dropped before the model, by reason.
    private static void WriteWireMetrics(PrometheusWriter m, ModelPorts wires, ModelClock clock)
    {
        m.Help("offload_model_cycles_total", "counter", "clock cycles the model has run (it runs only while something is in flight)");
        m.Sample("offload_model_cycles_total", clock.CyclesRun);
        m.Help("offload_wire_frames_total", "counter", "frames the model's ports took from and gave to their Linux interfaces");
        m.Help("offload_wire_dropped_total", "counter", "frames dropped between a Linux interface and the model, by reason");
        for (int p = 0; p < 2; p++)
        {
            if (wires.Counters(p) is not { } c)
                continue;
            string port = p.ToString(CultureInfo.InvariantCulture);
            m.Sample("offload_wire_frames_total", c.RxFrames, ("port", port), ("interface", c.Interface), ("direction", "rx"));
            m.Sample("offload_wire_frames_total", c.TxFrames, ("port", port), ("interface", c.Interface), ("direction", "tx"));
            foreach (var (reason, n) in (ReadOnlySpan<(string, long)>)[("queue_full", c.RxQueueFull), ("too_long", c.RxTooLong), ("truncated", c.RxTruncated),
                ("runt", c.RxRunt), ("tx_refused", c.TxDropped), ("socket_error", c.SocketErrors)])
                m.Sample("offload_wire_dropped_total", n, ("port", port), ("interface", c.Interface), ("reason", reason));
        }
    }

    private static int Fail(string message)
    {
        Console.Error.WriteLine($"offload: {message}");
        return 2;
    }
}
