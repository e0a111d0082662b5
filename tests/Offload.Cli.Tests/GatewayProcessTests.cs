using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.Extensions.Logging.Abstractions;
using Offload.Cli;
using Offload.Daemon;
using Offload.Device;
using Offload.Device.Transports;
using Offload.Group;
using Offload.Protocol;
using Offload.Protocol.Glbp;

namespace Offload.Cli.Tests;

/// <summary>
/// `offload run` as its own process, on a model this test serves over TCP (<c>--device tcp://</c>) and whose segment
/// port this test wires to a GLBP peer of its own (a <see cref="GlbpGroup"/> on the system clock): SIGHUP reloads the
/// file live under an established flow, a bad file is refused and the running config stays; SIGTERM makes the gateway
/// resign, which the peer sees and acts on at once, and the process exits 0. Every wait is on an event (a log line,
/// a state change, a datagram), bounded by a generous guard.
/// </summary>
[NonParallelizable]
[Category("System")]
public sealed class GatewayProcessTests
{
    private static readonly TimeSpan Guard = TimeSpan.FromSeconds(60);
    private static readonly uint PeerIp = Ipv4Address.Parse("10.0.0.12");
    private static readonly MacAddress PeerMac = MacAddress.Parse("02:0f:00:00:00:02");

    // A fixture instance serves every test: each test gets its own model, peer, daemon and output in SetUp.
    private ModelDevice _model = null!;
    private ConcurrentQueue<byte[]> _toModel = null!;
    private BlockingCollection<string> _lines = null!;
    private List<string> _all = null!;
    private DeviceServer? _server;
    private ModelClock? _clock;
    private GlbpGroup? _peer;
    private Process? _daemon;
    private string _file = "";

    // Hellos the peer heard from the daemon: when, and the AVG state they carried.
    private ConcurrentQueue<(DateTimeOffset At, GlbpVgState State)> _daemonHellos = null!;

    // Set by the first hello in which the daemon says it is the Active AVG.
    private TaskCompletionSource _daemonActive = null!;

    [SetUp]
    public void SetUp()
    {
        _model = ModelDevice.Create();
        _toModel = new();
        _lines = [];
        _all = [];
        _daemonHellos = new();
        _daemonActive = new(TaskCreationOptions.RunContinuationsAsynchronously);
        _server = null;
        _clock = null;
        _peer = null;
        _daemon = null;
        _file = "";
    }

    [TearDown]
    public void TearDown()
    {
        if (_daemon is { HasExited: false })
            _daemon.Kill();
        _daemon?.Dispose();
        _peer?.Dispose();
        _clock?.Dispose();
        _server?.Dispose();
        _model.Dispose();
        _lines.Dispose();
        if (_file.Length > 0)
            File.Delete(_file);
    }

    private static string ExampleText() => File.ReadAllText(StandardError.ExampleGateway);

    private static JsonNode Example()
    {
        var json = JsonNode.Parse(ExampleText(), documentOptions: new JsonDocumentOptions { CommentHandling = JsonCommentHandling.Skip, AllowTrailingCommas = true })!;
        json["api"]!["listen"] = "127.0.0.1:0";
        return json;
    }

    // The model served on loopback with its clock running; what leaves its segment port goes to the peer, what the peer
    // sends goes into it.
    private void StartModelAndPeer()
    {
        _server = new DeviceServer(_model, new IPEndPoint(IPAddress.Loopback, 0));
        var options = new GlbpGroupOptions
        {
            Group = 1,
            LocalIp = PeerIp,
            LocalMac = PeerMac.Value,
            VirtualIp = Ipv4Address.Parse("10.0.0.1"),
            Priority = 100,
            HelloTime = TimeSpan.FromSeconds(1),
            HoldTime = TimeSpan.FromSeconds(3),
            Authentication = new GlbpAuthSettings(GlbpAuthMode.Md5KeyString, Encoding.UTF8.GetBytes("example-glbp-key")),
        };
        _peer = new GlbpGroup(options, TimeProvider.System, new Wire(_toModel, () => _clock), new NoPlane());
        _clock = new ModelClock(_model, TimeSpan.FromMilliseconds(5), 5_000, FromModel, beforeTick: () =>
        {
            while (_toModel.TryDequeue(out var frame))
                _model.PushFrame(0, frame);
        }, queued: () => !_toModel.IsEmpty);
        _clock.Start();
        _peer.Start();
    }

    private void Enqueue(byte[] frame)
    {
        _toModel.Enqueue(frame);
        _clock!.Wake();
    }

    private void FromModel(int port, ReadOnlySpan<byte> frame)
    {
        if (port != 0 || !GlbpFrame.TryGetMessage(frame, out uint source, out var message) || source == PeerIp)
            return;
        if (GlbpPacket.TryDecode(message, out var packet).IsOk && packet.HasHello)
        {
            _daemonHellos.Enqueue((TimeProvider.System.GetUtcNow(), packet.Hello.State));
            if (packet.Hello.State == GlbpVgState.Active)
                _daemonActive.TrySetResult();
        }
        _peer!.Receive(message, source);
    }

    private void StartDaemon(JsonNode config)
    {
        _file = Path.Combine(Path.GetTempPath(), $"offload-gw-{Guid.NewGuid():N}.json");
        File.WriteAllText(_file, config.ToJsonString());
        var psi = new ProcessStartInfo("dotnet", $"\"{typeof(RunCommand).Assembly.Location}\" run --config {_file} --device {_server!.Uri}")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        _daemon = Process.Start(psi)!;
        _daemon.OutputDataReceived += (_, e) => Line(e.Data);
        _daemon.ErrorDataReceived += (_, e) => Line(e.Data);
        _daemon.BeginOutputReadLine();
        _daemon.BeginErrorReadLine();
    }

    private void Line(string? line)
    {
        if (line is null)
            return;
        lock (_all)
            _all.Add(line);
        TestContext.Progress.WriteLine($"  daemon| {line}");
        try
        {
            _lines.Add(line);
        }
        catch (ObjectDisposedException)
        {
            // A last line after the test ended: nobody awaits it.
        }
    }

    // The next output line that contains `text` (earlier ones are passed over), or a failure naming what was awaited.
    private string AwaitLine(string text)
    {
        var end = DateTime.UtcNow + Guard;
        while (DateTime.UtcNow < end)
        {
            if (_lines.TryTake(out string? line, TimeSpan.FromSeconds(1)) && line.Contains(text, StringComparison.Ordinal))
                return line;
            if (_daemon!.HasExited && _lines.Count == 0)
                Assert.Fail($"the daemon exited ({_daemon.ExitCode}) before saying '{text}'{Printed()}");
        }
        Assert.Fail($"the daemon did not say '{text}' within {Guard.TotalSeconds} s{Printed()}");
        return "";
    }

    // The daemon's last lines for a failure message: TestContext.Progress shows them live, but CI keeps only what a
    // failure says.
    private string Printed()
    {
        lock (_all)
            return "; the daemon printed:\n" + string.Join('\n', _all.TakeLast(40));
    }

    private Uri AwaitApi()
    {
        string line = AwaitLine("running on");
        var m = System.Text.RegularExpressions.Regex.Match(line, @"API at (http://\S+/)");
        Assert.That(m.Success, Is.True, line);
        return new Uri(m.Groups[1].Value);
    }

    private static void Signal(int pid, string signal)
    {
        using var kill = Process.Start("kill", $"-{signal} {pid}")!;
        kill.WaitForExit();
        Assert.That(kill.ExitCode, Is.Zero, $"kill -{signal}");
    }

    private Task<GatewayStateChanged> PeerBecomes(GatewayState state)
    {
        var seen = new TaskCompletionSource<GatewayStateChanged>(TaskCreationOptions.RunContinuationsAsynchronously);
        _peer!.Changed += (_, e) =>
        {
            if (e is GatewayStateChanged s && s.To == state)
                seen.TrySetResult(s);
        };
        if (_peer.State == state)
            seen.TrySetResult(new GatewayStateChanged(DateTimeOffset.UtcNow, 1, state, state, "already"));
        return seen.Task;
    }

    private static T Get<T>(HttpClient http, string path) =>
        JsonSerializer.Deserialize<T>(http.GetStringAsync(new Uri(path, UriKind.Relative)).GetAwaiter().GetResult(), LocalApi.JsonOptions)!;

    [Test]
    public void Sighup_reloads_live_under_an_established_flow_and_a_bad_file_is_refused_with_the_running_config_kept()
    {
        StartModelAndPeer();
        var config = Example();
        StartDaemon(config);
        using var http = new HttpClient { BaseAddress = AwaitApi() };
        Assert.That(_daemonActive.Task.Wait(Guard) && PeerBecomes(GatewayState.Standby).Wait(Guard), Is.True, "the election settled: the daemon (priority 110) is the AVG");
        GlbpForwarderView? own = null;
        Assert.That(SpinWait.SpinUntil(() => (own = Get<GlbpView>(http, "/api/glbp").Groups.Single().Forwarders.FirstOrDefault(f => f.Owned && f.State == "Active")) is not null, Guard),
            Is.True, "the daemon forwards its own vMAC");

        // A client opens a connection through the daemon's vMAC: the SYN is classified and installed in the model.
        var client = MacAddress.Parse("02:aa:00:00:00:01");
        Enqueue(FrameBuilder.BuildTcp(new EthernetHeader(MacAddress.Parse(own!.Vmac).Value, client.Value),
            new Ipv4Header(Ipv4Address.Parse("10.0.0.101"), Ipv4Address.Parse("192.0.2.10"), IpProtocol.Tcp),
            new TcpHeader(40001, 80) { Flags = TcpFlags.Syn, Sequence = 1000 }, []));
        // The daemon logs nothing per flow: the condition itself is what is awaited.
        Assert.That(SpinWait.SpinUntil(() => Get<FlowsView>(http, "/api/flows").Entries >= 2, Guard), Is.True, "the SYN was installed (forward and reverse entry)");

        // A good file: a fourth backend, another weight, another priority.
        var services = config["services"]![0]!["backends"]!.AsArray();
        services[0]!["weight"] = 5;
        services.Add(JsonNode.Parse("""{ "id": "b4", "address": "198.51.100.4", "port": 8080, "mac": "02:00:00:00:01:04", "nextHop": 4, "weight": 1 }"""));
        config["groups"]![0]!["priority"] = 120;
        File.WriteAllText(_file, config.ToJsonString());
        Signal(_daemon!.Id, "HUP");
        string applied = AwaitLine("Reload applied");
        Assert.That(applied, Does.Contain("backend b4 of 192.0.2.10:80/tcp added").And.Contain("group 1 retuned"));
        var backends = Get<BackendsView>(http, "/api/backends");
        Assert.That(backends.Backends.Select(b => (b.Id, b.Weight)), Is.EqualTo(new[] { ("b1", 5), ("b2", 1), ("b3", 2), ("b4", 1) }));
        var flows = Get<FlowsView>(http, "/api/flows");
        Assert.That((flows.Sessions, flows.Entries), Is.EqualTo((1, 2)), "the established flow is still there");
        Assert.That(Get<GlbpView>(http, "/api/glbp").Groups.Single().State, Is.EqualTo("Active"), "and the AVG kept its role");

        // A file that cannot apply live (another VIP) and one that is not valid: both refused, the running config stays.
        config["groups"]![0]!["vip"] = "10.0.0.2";
        File.WriteAllText(_file, config.ToJsonString());
        Signal(_daemon.Id, "HUP");
        Assert.That(AwaitLine("Reload refused"), Does.Contain("groups (number 1).vip: 10.0.0.1 -> 10.0.0.2"));
        File.WriteAllText(_file, "{ \"gateway\": ");
        Signal(_daemon.Id, "HUP");
        Assert.That(AwaitLine("Reload refused"), Does.Contain("not valid JSON"));
        Assert.That(_daemon.HasExited, Is.False, "SIGHUP never ends the daemon");
        Assert.That(Get<BackendsView>(http, "/api/backends").Backends, Has.Count.EqualTo(4), "the last applied config runs");
        Assert.That(http.GetStringAsync(new Uri("/metrics", UriKind.Relative)).GetAwaiter().GetResult(),
            Does.Contain("offload_config_reloads_total{result=\"applied\",gateway=\"gw-a\"} 1").And.Contain("result=\"refused\",gateway=\"gw-a\"} 2"));
        Assert.That(Get<FlowsView>(http, "/api/flows").Entries, Is.EqualTo(2));

        Signal(_daemon.Id, "TERM");
        Assert.That(_daemon.WaitForExit(Guard), Is.True);
        Assert.That(_daemon.ExitCode, Is.Zero);
    }

    [Test]
    public void Sigterm_resigns_so_the_peer_takes_the_avg_role_at_once_and_the_process_exits_0()
    {
        StartModelAndPeer();
        // No sync section here: the peer speaks GLBP only, and a sync peer that never acknowledges holds a leaving
        // gateway's resign back for the hand-over time (2 s), which is not what this test measures.
        var config = Example();
        config.AsObject().Remove("sync");
        StartDaemon(config);
        AwaitApi();
        Assert.That(_daemonActive.Task.Wait(Guard) && PeerBecomes(GatewayState.Standby).Wait(Guard), Is.True, "the daemon (priority 110) is the AVG, the peer Standby");
        var active = PeerBecomes(GatewayState.Active);

        var signalled = TimeProvider.System.GetUtcNow();
        Signal(_daemon!.Id, "TERM");
        Assert.That(active.Wait(Guard), Is.True, "the peer took the AVG role");
        var tookOver = active.Result.At;
        Assert.That(_daemon.WaitForExit(Guard), Is.True, "SIGTERM ends the daemon");
        _daemon.WaitForExit();
        Assert.That(_daemon.ExitCode, Is.Zero);

        // The takeover followed the daemon's resign hello (AVG state Listen), not the end of a hold time after its last hello.
        var hellos = _daemonHellos.ToArray();
        var resign = hellos.FirstOrDefault(h => h.At > signalled && h.State == GlbpVgState.Listen);
        Assert.That(resign.At, Is.Not.EqualTo(default(DateTimeOffset)), "the peer heard a resign hello after SIGTERM");
        var lastActive = hellos.Where(h => h.State == GlbpVgState.Active).Max(h => h.At);
        TestContext.Out.WriteLine($"SIGTERM to resign hello {(resign.At - signalled).TotalMilliseconds:0} ms, resign hello to takeover {(tookOver - resign.At).TotalMilliseconds:0} ms; " +
            $"last Active hello {(tookOver - lastActive).TotalMilliseconds:0} ms before the takeover (hold 3000 ms)");
        Assert.That(tookOver - resign.At, Is.LessThan(TimeSpan.FromMilliseconds(500)), "the peer acted on the resign hello itself");
        Assert.That(tookOver - lastActive, Is.LessThan(TimeSpan.FromSeconds(3)), "well before the hold time of the daemon's last Active hello ran out");
        Assert.That(_peer!.Snapshot().Forwarders.All(f => f.State == ForwarderState.Active), Is.True, "the peer forwards the daemon's vMAC too");
        string[] all;
        lock (_all)
            all = [.. _all];
        Assert.That(all, Has.Some.Contains("Stopping: handing sessions over and resigning"));
        Assert.That(all, Has.Some.Contains("offload: stopped; resigned from 1 group(s) (group 1 AVG)"));
    }

    [Test]
    public void Under_systemd_it_says_ready_keeps_the_watchdog_fed_and_says_stopping()
    {
        // systemd is not PID 1 here; the hosting's systemd lifetime looks for a parent named systemd and NOTIFY_SOCKET,
        // so the daemon is started by a shell under that name with a socket of the test's own.
        string dir = Directory.CreateTempSubdirectory("offload-notify-").FullName;
        try
        {
            string shell = Path.Combine(dir, "systemd");
            File.CreateSymbolicLink(shell, "/bin/sh");
            string socketPath = Path.Combine(dir, "notify");
            using var notify = new Socket(AddressFamily.Unix, SocketType.Dgram, ProtocolType.Unspecified);
            notify.Bind(new UnixDomainSocketEndPoint(socketPath));
            var said = new BlockingCollection<string>();
            var reader = Task.Run(() =>
            {
                var buffer = new byte[4096];
                try
                {
                    while (true)
                    {
                        int n = notify.Receive(buffer);
                        said.Add(Encoding.UTF8.GetString(buffer, 0, n));
                    }
                }
                catch (Exception e) when (e is SocketException or ObjectDisposedException)
                {
                    // The socket closed at the end of the test.
                }
            });

            StartModelAndPeer();
            _file = Path.Combine(dir, "gw.json");
            File.WriteAllText(_file, Example().ToJsonString());
            // The shell forks the daemon (it does not exec it: `wait` follows), prints its pid and waits for it.
            string command = $"dotnet \"{typeof(RunCommand).Assembly.Location}\" run --config {_file} --device {_server!.Uri} & echo pid=$!; wait $!";
            var psi = new ProcessStartInfo(shell, ["-c", command]) { RedirectStandardOutput = true, RedirectStandardError = true };
            psi.Environment["NOTIFY_SOCKET"] = socketPath;
            psi.Environment["WATCHDOG_USEC"] = "400000";
            _daemon = Process.Start(psi)!;
            _daemon.OutputDataReceived += (_, e) => Line(e.Data);
            _daemon.ErrorDataReceived += (_, e) => Line(e.Data);
            _daemon.BeginOutputReadLine();
            _daemon.BeginErrorReadLine();
            int pid = int.Parse(AwaitLine("pid=")["pid=".Length..], System.Globalization.CultureInfo.InvariantCulture);

            string Next(string what)
            {
                Assert.That(said.TryTake(out string? s, Guard), Is.True, $"the daemon notified {what}");
                return s!;
            }
            Assert.That(Next("READY=1"), Is.EqualTo("READY=1"), "READY is the first thing said, once the node runs and the API listens");
            Assert.That(AwaitLine("systemd notified, watchdog every 200 ms"), Is.Not.Empty);
            Assert.That(Next("WATCHDOG=1"), Is.EqualTo("WATCHDOG=1"));
            Assert.That(Next("WATCHDOG=1"), Is.EqualTo("WATCHDOG=1"), "and keeps it fed");

            Signal(pid, "TERM");
            string s;
            do
                s = Next("STOPPING=1");
            while (s == "WATCHDOG=1");
            Assert.That(s, Is.EqualTo("STOPPING=1"));
            Assert.That(_daemon.WaitForExit(Guard), Is.True);
            Assert.That(_daemon.ExitCode, Is.Zero, "the shell passed on the daemon's exit code");
            notify.Dispose();
            reader.Wait(Guard);
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
            _file = "";
        }
    }

    [Test]
    public void The_unit_file_passes_systemd_analyze_verify()
    {
        string unit = Path.Combine(TablesFileTests.RepoRoot(), "deploy", "systemd", "offload-gateway@.service");
        string dir = Directory.CreateTempSubdirectory("offload-unit-").FullName;
        try
        {
            // verify checks that ExecStart's program exists and is executable: the built `offload` stands in for the
            // installed one, nothing else in the file changes.
            string offload = Path.Combine(Path.GetDirectoryName(typeof(RunCommand).Assembly.Location)!, "offload");
            Assert.That(File.Exists(offload), Is.True, offload);
            string text = File.ReadAllText(unit).Replace("/usr/local/bin/offload", offload, StringComparison.Ordinal);
            string instance = Path.Combine(dir, "offload-gateway@gw-a.service");
            File.WriteAllText(instance, text);
            var psi = new ProcessStartInfo("systemd-analyze", ["verify", instance]) { RedirectStandardOutput = true, RedirectStandardError = true };
            Process p;
            try
            {
                p = Process.Start(psi)!;
            }
            catch (System.ComponentModel.Win32Exception e)
            {
                Assert.Fail($"systemd-analyze is not installed ({e.Message}); ci/setup.sh installs Debian's systemd package");
                return;
            }
            using (p)
            {
                string said = p.StandardOutput.ReadToEnd() + p.StandardError.ReadToEnd();
                p.WaitForExit();
                // verify exits 0 on some problems it only warns about ("ignoring"): any word from it is a problem.
                Assert.That((p.ExitCode, said.Trim()), Is.EqualTo((0, "")));
            }
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    // The peer's frames wait for the model clock's thread, which is woken for them (an idle clock sleeps).
    private sealed class Wire(ConcurrentQueue<byte[]> toModel, Func<ModelClock?> clock) : IGlbpTransport
    {
        public void Send(ReadOnlySpan<byte> glbpMessage, ulong ethernetSource)
        {
            toModel.Enqueue(GlbpFrame.Build(ethernetSource, PeerIp, glbpMessage));
            clock()?.Wake();
        }
    }

    private sealed class NoPlane : IForwardingPlane
    {
        public void SetVmacs(ushort group, IReadOnlyList<ulong> vmacs)
        {
            // The peer has no data plane: its roles are what the test reads.
        }

        public void SetArpResponder(ushort group, uint virtualIp, bool enabled, ReadOnlySpan<byte> slots, GlbpLoadBalancing mode)
        {
            // As above.
        }
    }
}
