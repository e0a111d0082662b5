using System.CommandLine;
using System.Net;
using Offload.Daemon;
using Offload.Device;
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
        var command = new Command("serve", "serve the model's registers over TCP (tcp://HOST:PORT) with its clock running, for `offload run --device`") { listen, width, seconds };
        command.SetAction((r, ct) => Task.FromResult(Cli.Guard(() =>
            Cli.UntilStopped(ct, stop => Run(r.GetValue(listen)!, r.GetValue(width), r.GetValue(seconds), Console.Out, stop)))));
        return command;
    }

    /// <param name="ready">Called with the served URI once it listens (tests use it to find port 0).</param>
    public static int Run(string listen, int width, double? seconds, TextWriter output, CancellationToken cancellationToken, Action<string>? ready = null)
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
        using (server)
        using (var clock = ModelClock.Start(model))
        {
            output.WriteLine($"offload: model (DATA_W {geometry.DataWidth}, {geometry.TotalEntries} flow entries) served at {server.Uri} (Ctrl-C stops)");
            output.Flush();
            ready?.Invoke(server.Uri);
            using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            if (seconds is { } limit)
                stop.CancelAfter(TimeSpan.FromSeconds(limit));
            stop.Token.WaitHandle.WaitOne();
            output.WriteLine($"offload: stopped; {server.Requests} request(s) served ({server.Refused} refused), {model.Cycles} cycles, " +
                $"{clock.FramesOut(0)} frame(s) out port 0, {clock.FramesOut(1)} out port 1{(clock.Fault is { } f ? $"; the model failed: {f.Message}" : "")}");
        }
        return 0;
    }

    private static int Fail(string message)
    {
        Console.Error.WriteLine($"offload: {message}");
        return 2;
    }
}
