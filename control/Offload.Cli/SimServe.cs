using System.CommandLine;
using System.Net;
using Offload.Daemon;
using Offload.Device;
using Offload.Device.Ports;
using Offload.Device.Transports;

namespace Offload.Cli;

/// <summary>
/// <c>offload sim serve</c>: the Verilator model as a device of its own, its clock running in real time, its
/// registers served over TCP in the command framing, so a gateway in another process (<c>offload run --device
/// tcp://…</c>) or a benchmark drives it as it would drive a board.
/// </summary>
internal static class SimServe
{
    public static Command Create(Option<int> width)
    {
        var listen = new Option<string>("--listen") { Description = "loopback HOST:PORT to serve on (port 0 picks one)", DefaultValueFactory = _ => "127.0.0.1:9470" };
        var seconds = new Option<double?>("--seconds") { Description = "stop after this many seconds instead of at Ctrl-C" };
        var port0 = new Option<string?>("--port0") { Description = "Linux interface for network port 0 (the segment), through AF_PACKET (root or CAP_NET_RAW)" };
        var port1 = new Option<string?>("--port1") { Description = "Linux interface for network port 1 (toward the backends)" };
        var mtu = new Option<int>("--mtu") { Description = "largest IP packet the ports take (68..9000); longer frames are dropped and counted", DefaultValueFactory = _ => 1500 };
        mtu.Validators.Add(r =>
        {
            int m = r.GetValueOrDefault<int>();
            if (m is < 68 or > 9000)
                r.AddError($"--mtu {m}: give 68..9000");
        });
        var command = new Command("serve", "serve the model's registers over TCP (tcp://HOST:PORT) with its clock running, for `offload run --device`; its ports on Linux interfaces if given")
        {
            listen, width, seconds, port0, port1, mtu,
        };
        command.SetAction((r, ct) => Task.FromResult(Cli.Guard(() =>
            Cli.UntilStopped(ct, stop => Run(r.GetValue(listen)!, r.GetValue(width), r.GetValue(seconds), Console.Out, stop,
                ports: Bindings(r.GetValue(port0), r.GetValue(port1), r.GetValue(mtu)))))));
        return command;
    }

    private static PortBinding[] Bindings(string? port0, string? port1, int mtu) =>
        [.. new[] { port0, port1 }.Select((name, port) => (name, port)).Where(b => b.name is not null).Select(b => new PortBinding(b.port, b.name!, mtu))];

    /// <param name="ready">Called with the served URI once it listens (tests use it to find port 0).</param>
    /// <param name="ports">Model ports to bind to Linux interfaces; none leaves them unattached (what leaves them is counted).</param>
    public static int Run(string listen, int width, double? seconds, TextWriter output, CancellationToken cancellationToken, Action<string>? ready = null,
        IReadOnlyList<PortBinding>? ports = null)
    {
        ArgumentNullException.ThrowIfNull(output);
        // The register bus has no authentication: whoever reaches it owns the data plane, so only this host may.
        if (!IPEndPoint.TryParse(listen, out var ep) || !IPAddress.IsLoopback(ep.Address))
            return Fail($"--listen '{listen}': give a loopback HOST:PORT such as 127.0.0.1:9470 (the register bus has no authentication)");
        if (seconds is <= 0 or > 31_536_000 || (seconds is { } s && double.IsNaN(s)))
            return Fail($"--seconds {seconds}: give 0 < seconds <= 31536000 (a year)");
        using var loggers = DaemonLogging.CreateConsole("information", verbose: false, "sim");
        using var model = ModelDevice.Create(width);
        var geometry = new Dataplane(model).ReadGeometry();
        DeviceServer server;
        try
        {
            server = new DeviceServer(model, ep, loggers.CreateLogger("Offload.Sim"));
        }
        catch (System.Net.Sockets.SocketException e)
        {
            return Fail($"cannot listen on {ep}: {e.Message}");
        }
        ModelPorts? wires = null;
        try
        {
            if (ports is { Count: > 0 })
                wires = new ModelPorts(model, ports);
        }
        catch (ArgumentException e)
        {
            server.Dispose();
            return Fail(e.ParamName is null ? e.Message : e.Message.Replace($" (Parameter '{e.ParamName}')", "", StringComparison.Ordinal));
        }
        catch (DeviceException e)
        {
            server.Dispose();
            return Fail(e.Message);
        }
        using (server)
        using (wires)
        using (var clock = wires?.AttachTo() ?? ModelClock.Start(model))
        {
            string attached = ports is { Count: > 0 } ? "; " + string.Join(", ", ports.Select(p => $"port {p.Port} on {p.Interface} (MTU {p.Mtu})")) : "";
            output.WriteLine($"offload: model (DATA_W {geometry.DataWidth}, {geometry.TotalEntries} flow entries) served at {server.Uri}{attached} (Ctrl-C stops)");
            output.Flush();
            ready?.Invoke(server.Uri);
            using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            if (seconds is { } limit)
                stop.CancelAfter(TimeSpan.FromSeconds(limit));
            stop.Token.WaitHandle.WaitOne();
            output.WriteLine($"offload: stopped; {server.Requests} request(s) served ({server.Refused} refused), {model.Cycles} cycles, " +
                $"{clock.FramesOut(0)} frame(s) out port 0, {clock.FramesOut(1)} out port 1{(clock.Fault is { } f ? $"; the model failed: {f.Message}" : "")}");
            for (int p = 0; p < 2; p++)
            {
                if (wires?.Counters(p) is { } c)
                {
                    output.WriteLine($"offload: port {p} ({c.Interface}): {c.RxFrames} in, {c.TxFrames} out; dropped: {c.RxQueueFull} queue full, {c.RxTooLong} over the MTU, " +
                        $"{c.RxTruncated} truncated, {c.RxRunt} runt, {c.TxDropped} not sent");
                }
            }
        }
        return 0;
    }

    private static int Fail(string message)
    {
        Console.Error.WriteLine($"offload: {message}");
        return 2;
    }
}
