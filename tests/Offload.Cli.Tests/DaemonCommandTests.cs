using System.Text.Json;
using Offload.Cli;
using Offload.Daemon;

namespace Offload.Cli.Tests;

/// <summary>`offload run` and `offload show` against each other over loopback, on the Verilator model and the system clock.</summary>
[NonParallelizable]
[Category("Model")]
public class DaemonCommandTests
{
    private static string Example => StandardError.ExampleGateway;


    [Test]
    public void Run_serves_the_example_gateway_and_show_reads_it_back()
    {
        var started = new TaskCompletionSource<Uri>(TaskCreationOptions.RunContinuationsAsynchronously);
        using var output = new StringWriter();
        using var cancel = new CancellationTokenSource();
        // No --seconds: the daemon runs until the checks are done and the test stops it, so a busy machine cannot
        // end it between two requests (which a fixed 2 s did once).
        var run = Task.Run(() => RunCommand.Run(new FileInfo(Example), seconds: null, verbose: false, apiListen: "127.0.0.1:0", TextWriter.Synchronized(output),
            cancel.Token, started.SetResult));
        try
        {
            // A guard against a daemon that never comes up, not a performance assertion.
            Assert.That(Task.WaitAny([started.Task, run], TimeSpan.FromSeconds(60)), Is.Zero, "the daemon started its API");
            Uri api = started.Task.Result;

            using var table = new StringWriter();
            Assert.That(ShowCommand.Run("glbp", api.ToString(), json: false, 0, table), Is.Zero);
            Assert.That(table.ToString(), Does.Contain("gw-a - Group 1").And.Contain("Virtual IP address is 10.0.0.1").And.Contain("Priority 110"));

            using var json = new StringWriter();
            Assert.That(ShowCommand.Run("glbp", api.ToString(), json: true, 0, json), Is.Zero);
            var view = JsonSerializer.Deserialize<GlbpView>(json.ToString(), LocalApi.JsonOptions)!;
            Assert.That((view.Gateway, view.LocalIp, view.Groups.Single().VirtualIp), Is.EqualTo(("gw-a", "10.0.0.11", "10.0.0.1")));

            using var backends = new StringWriter();
            Assert.That(ShowCommand.Run("backends", api.ToString(), json: false, 0, backends), Is.Zero);
            Assert.That(backends.ToString(), Does.Contain("b3").And.Contain("198.51.100.3:8080"));
            using var flows = new StringWriter();
            Assert.That(ShowCommand.Run("flows", api.ToString(), json: false, 10, flows), Is.Zero);
            Assert.That(flows.ToString(), Does.Contain("gw-a: 0 session(s)"));
        }
        finally
        {
            cancel.Cancel();
            Assert.That(run.Wait(TimeSpan.FromSeconds(60)), Is.True, "run stopped when cancelled");
        }
        Assert.That(run.Result, Is.Zero);
        Assert.That(output.ToString(), Does.Contain("offload: stopped;").And.Contain("group 1"));
    }

    [Test]
    public void The_api_on_a_unix_socket_serves_show_replaces_a_stale_socket_and_is_removed_at_stop()
    {
        string dir = Directory.CreateTempSubdirectory("offload-api-").FullName;
        string socket = Path.Combine(dir, "gw.sock");
        try
        {
            // What a daemon killed with -9 leaves: a socket file nobody listens on (bound, never listening: a connect is
            // refused). Disposed only at the end, since .NET removes the path of a socket it bound when it disposes it.
            using var dead = new System.Net.Sockets.Socket(System.Net.Sockets.AddressFamily.Unix, System.Net.Sockets.SocketType.Stream, System.Net.Sockets.ProtocolType.Unspecified);
            dead.Bind(new System.Net.Sockets.UnixDomainSocketEndPoint(socket));
            Assert.That(File.Exists(socket), Is.True);

            var started = new TaskCompletionSource<Uri>(TaskCreationOptions.RunContinuationsAsynchronously);
            using var output = new StringWriter();
            using var cancel = new CancellationTokenSource();
            var run = Task.Run(() => RunCommand.Run(new FileInfo(Example), seconds: null, verbose: false, apiListen: $"unix:{socket}", TextWriter.Synchronized(output),
                cancel.Token, started.SetResult));
            try
            {
                Assert.That(Task.WaitAny([started.Task, run], TimeSpan.FromSeconds(60)), Is.Zero, "the daemon started its API");
                Assert.That(started.Task.Result.ToString(), Is.EqualTo($"unix:{socket}"));
                Assert.That(File.GetUnixFileMode(socket), Is.EqualTo(UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.GroupWrite));
                using var table = new StringWriter();
                Assert.That(ShowCommand.Run("backends", $"unix:{socket}", json: false, 0, table), Is.Zero);
                Assert.That(table.ToString(), Does.Contain("198.51.100.3:8080"));
                using var http = ShowCommand.Client(new Uri($"unix:{socket}"));
                Assert.That(http.GetStringAsync(new Uri("metrics", UriKind.Relative)).GetAwaiter().GetResult(), Does.Contain("# TYPE offload_flows_installed gauge"));

                // A second daemon on the same socket is refused by name rather than taking it over.
                var (rc, err) = StandardError.Capture(() => RunCommand.Run(new FileInfo(Example), seconds: null, verbose: false, apiListen: $"unix:{socket}",
                    new StringWriter(), CancellationToken.None));
                Assert.That(rc, Is.EqualTo(2));
                Assert.That(err, Does.Contain($"cannot serve the API on unix:{socket}").And.Contain("served by another process"));
            }
            finally
            {
                cancel.Cancel();
                Assert.That(run.Wait(TimeSpan.FromSeconds(60)), Is.True, "run stopped when cancelled");
            }
            Assert.That(run.Result, Is.Zero);
            Assert.That(File.Exists(socket), Is.False, "the socket leaves with the daemon");
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    [TestCase("unix:relative.sock", "is not unix: followed by an absolute socket path")]
    [TestCase("10.0.0.1:9480", "is not a loopback address")]
    public void An_api_listener_that_is_not_local_is_refused_by_name(string listen, string why)
    {
        var (rc, err) = StandardError.Capture(() => RunCommand.Run(new FileInfo(Example), seconds: 1, verbose: false, apiListen: listen, new StringWriter(), CancellationToken.None));
        Assert.That(rc, Is.EqualTo(2));
        Assert.That(err.Trim(), Does.StartWith($"offload: --api-listen '{listen}'").And.Contain(why));
    }

    [Test]
    public void Run_with_its_api_port_taken_exits_2_with_one_line_and_no_stack_trace()
    {
        using var taken = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0);
        taken.Start();
        int port = ((System.Net.IPEndPoint)taken.LocalEndpoint).Port;
        var savedOut = Console.Out;
        using var logs = new StringWriter();
        Console.SetOut(logs);
        try
        {
            using var output = new StringWriter();
            var (rc, err) = StandardError.Capture(() => RunCommand.Run(new FileInfo(Example), seconds: null, verbose: false, apiListen: $"127.0.0.1:{port}", output,
                CancellationToken.None));
            Assert.That(rc, Is.EqualTo(2));
            Assert.That(err.Trim(), Does.StartWith($"offload: cannot serve the API on 127.0.0.1:{port}:").And.Contain("address already in use").And.Not.Contain("\n"));
            Assert.That(logs.ToString() + output, Does.Not.Contain("   at "), "no stack trace anywhere");
        }
        finally
        {
            Console.SetOut(savedOut);
        }
    }

    [Test]
    public void Run_refuses_a_bad_config_with_the_json_path_and_exit_code_2()
    {
        string path = Path.Combine(Path.GetTempPath(), $"offload-bad-{Guid.NewGuid():N}.json");
        File.WriteAllText(path, File.ReadAllText(Example).Replace("\"vip\": \"10.0.0.1\"", "\"vip\": \"10.0.0.300\"", StringComparison.Ordinal));
        try
        {
            var (rc, err) = StandardError.Capture(() => RunCommand.Run(new FileInfo(path), 1, false, null, TextWriter.Null, CancellationToken.None));
            Assert.That(rc, Is.EqualTo(2));
            Assert.That(err, Does.Contain(path).And.Contain("groups[0].vip: '10.0.0.300' is not an IPv4 address"));
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Test]
    public void Show_without_a_daemon_says_so_and_bad_arguments_exit_2()
    {
        var (rc, err) = StandardError.Capture(() => ShowCommand.Run("glbp", "http://127.0.0.1:1/", false, 0, TextWriter.Null));
        Assert.That(rc, Is.EqualTo(1));
        Assert.That(err, Does.Contain("cannot reach the gateway's API at http://127.0.0.1:1/"));
        (rc, err) = StandardError.Capture(() => ShowCommand.Run("glbp", "ftp://x", false, 0, TextWriter.Null));
        Assert.That(rc, Is.EqualTo(2));
        Assert.That(err, Does.Contain("--api 'ftp://x'"));
        (rc, _) = StandardError.Capture(() => RunCommand.Run(new FileInfo(Example), 1, false, "10.1.2.3:80", TextWriter.Null, CancellationToken.None));
        Assert.That(rc, Is.EqualTo(2));

        using var taken = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0);
        taken.Start();
        string busy = taken.LocalEndpoint.ToString()!;
        (rc, err) = StandardError.Capture(() => RunCommand.Run(new FileInfo(Example), 1, false, busy, TextWriter.Null, CancellationToken.None));
        Assert.That(rc, Is.EqualTo(2));
        Assert.That(err, Does.Contain($"cannot serve the API on {busy}"));
    }
}
