using Offload.Cli;

namespace Offload.Cli.Tests;

/// <summary>`offload sim serve` and `offload run --device tcp://…`: a gateway driving a model that another component serves.</summary>
[NonParallelizable]
[Category("Model")]
public class SimServeTests
{
    private static string Example => StandardError.ExampleGateway;


    [Test]
    public void A_gateway_runs_on_a_served_model_over_tcp()
    {
        var ready = new TaskCompletionSource<string>(TaskCreationOptions.RunContinuationsAsynchronously);
        using var serveOut = new StringWriter();
        using var stopServer = new CancellationTokenSource();
        var serve = Task.Run(() => SimServe.Run("127.0.0.1:0", 64, null, TextWriter.Synchronized(serveOut), stopServer.Token, ready.SetResult));
        try
        {
            // A guard against a server that never comes up, not a performance assertion.
            Assert.That(Task.WaitAny([ready.Task, serve], TimeSpan.FromSeconds(60)), Is.Zero, "the model is served");
            string uri = ready.Task.Result;
            Assert.That(uri, Does.Match(@"^tcp://127\.0\.0\.1:\d+$"));

            var api = new TaskCompletionSource<Uri>(TaskCreationOptions.RunContinuationsAsynchronously);
            using var runOut = new StringWriter();
            using var stopRun = new CancellationTokenSource();
            var run = Task.Run(() => RunCommand.Run(new FileInfo(Example), null, false, "127.0.0.1:0", TextWriter.Synchronized(runOut), stopRun.Token,
                api.SetResult, deviceUri: uri));
            Assert.That(Task.WaitAny([api.Task, run], TimeSpan.FromSeconds(60)), Is.Zero, "the gateway started on the served model");
            using var table = new StringWriter();
            Assert.That(ShowCommand.Run("glbp", api.Task.Result.ToString(), json: false, 0, table), Is.Zero);
            Assert.That(table.ToString(), Does.Contain("gw-a - Group 1"));
            stopRun.Cancel();
            Assert.That(run.Wait(TimeSpan.FromSeconds(60)), Is.True);
            Assert.That(run.Result, Is.Zero);
            Assert.That(runOut.ToString(), Does.Contain($"running on {uri}").And.Contain("offload: stopped;"));
        }
        finally
        {
            stopServer.Cancel();
            Assert.That(serve.Wait(TimeSpan.FromSeconds(60)), Is.True);
        }
        Assert.That(serve.Result, Is.Zero);
        // The gateway's start-up alone reads the geometry, the flow table and the vMAC filter: many requests, none refused.
        Assert.That(serveOut.ToString(), Does.Match(@"offload: stopped; [1-9]\d* request\(s\) served \(0 refused\)"));
    }

    [Test]
    public void Bad_device_arguments_are_refused_by_name_with_exit_2()
    {
        Assert.Multiple(() =>
        {
            var (rc, err) = StandardError.Capture(() => SimServe.Run("0.0.0.0:9470", 64, 1, TextWriter.Null, CancellationToken.None));
            Assert.That((rc, err.Trim()), Is.EqualTo((2, "offload: --listen '0.0.0.0:9470': give a loopback HOST:PORT such as 127.0.0.1:9470 (the register bus has no authentication)")));
            (rc, err) = StandardError.Capture(() => RunCommand.Run(new FileInfo(Example), 1, false, "127.0.0.1:0", TextWriter.Null, CancellationToken.None, deviceUri: "usb:0403"));
            Assert.That((rc, err.Trim()), Is.EqualTo((2, "offload: --device: device 'usb:0403': give usb:VID:PID or usb:VID:PID:SERIAL (four hex digits each, e.g. usb:0403:6010; `offload devices` prints them)")));
            (rc, err) = StandardError.Capture(() => RunCommand.Run(new FileInfo(Example), 1, false, "127.0.0.1:0", TextWriter.Null, CancellationToken.None, deviceUri: "tcp://127.0.0.1:0"));
            Assert.That((rc, err.Trim()), Is.EqualTo((2, "offload: --device: device 'tcp://127.0.0.1:0': give tcp://HOST:PORT with a port of 1..65535")));
        });
    }

    [Test]
    public void A_device_that_is_not_there_is_one_line_and_exit_2()
    {
        var probe = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0);
        probe.Start();
        int port = ((System.Net.IPEndPoint)probe.LocalEndpoint).Port;
        probe.Stop();
        var (rc, err) = StandardError.Capture(() => Cli.Guard(() =>
            RunCommand.Run(new FileInfo(Example), 1, false, "127.0.0.1:0", TextWriter.Null, CancellationToken.None, deviceUri: $"tcp://127.0.0.1:{port}")));
        Assert.That(rc, Is.EqualTo(2));
        Assert.That(err.Trim(), Is.EqualTo($"offload: tcp://127.0.0.1:{port}: nothing listens there (serve a model with `offload sim serve --listen 127.0.0.1:{port}`)"));
    }
}

/// <summary>`offload bench device --json`: every transport that runs here (USB through the software FTDI), batched and not, and the flash figures, from a real run.</summary>
[Category("Model")]
public class BenchDeviceTests
{
    [Test]
    public void Bench_device_prints_every_transport_batched_and_not()
    {
        using var output = new StringWriter();
        Assert.That(BenchDevice.Run(asJson: true, quick: true, output), Is.Zero);
        var json = System.Text.Json.Nodes.JsonNode.Parse(output.ToString())!;
        var rows = json["transports"]!.AsArray();
        Assert.That(rows.Select(r => ((string)r!["uri"]!).Split(':')[0] + "/" + (bool)r!["batched"]!),
            Is.EqualTo(new[] { "model/False", "model/True", "tcp/False", "tcp/True", "usb/False", "usb/True" }));
        foreach (var r in rows)
        {
            foreach (string key in new[] { "csr_ops_per_second", "flow_inserts_per_second", "miss_frames_per_second" })
                Assert.That((double)r![key]!, Is.GreaterThan(0), $"{r["uri"]} {key}");
        }
        var flash = json["flash"]!;
        Assert.That(((int)flash["bytes"]!, (bool)flash["verified"]!), Is.EqualTo((1 << 20, true)));
        Assert.That((ulong)flash["program_verify_cycles"]!, Is.GreaterThan(1UL << 20), "at least a cycle a byte");
    }
}
