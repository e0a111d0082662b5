using System.Diagnostics;
using Offload.Device.Ports;

namespace Offload.Device.Tests;

/// <summary>
/// The model's port on a real Linux interface: a host in a network namespace of the test's own, with the kernel's own
/// ARP, resolves a group's virtual IP, and the answer comes from the model's ARP responder through AF_PACKET. The
/// namespace and the veth pair are removed at the end, pass or fail; nothing leaves them.
/// </summary>
[Category("System")]
[NonParallelizable]
public class ModelPortsTests
{
    private const string HostIp = "10.77.0.2";
    private const string Vip = "10.77.0.1";
    private static readonly MacAddress Port0Mac = MacAddress.Parse("02:00:00:00:00:10");

    private string _ns = null!;
    private string _outer = null!;
    private string _inner = null!;

    [SetUp]
    public void SetUp()
    {
        if (Environment.UserName != "root")
            Assert.Fail("this test creates a network namespace, a veth pair and raw sockets and must run as root (CI does)");
        string tag = Convert.ToHexString(BitConverter.GetBytes(Random.Shared.Next()))[..6].ToLowerInvariant();
        _ns = $"oflp-{tag}";
        _outer = $"ofa{tag}";
        _inner = $"ofb{tag}";
        Must("ip", "link", "add", _outer, "type", "veth", "peer", "name", _inner);
        Must("ip", "netns", "add", _ns);
        Must("ip", "link", "set", _inner, "netns", _ns);
        Must("ip", "link", "set", _outer, "up");
        Must("ip", "-n", _ns, "link", "set", "lo", "up");
        Must("ip", "-n", _ns, "addr", "add", $"{HostIp}/24", "dev", _inner);
        Must("ip", "-n", _ns, "link", "set", _inner, "up");
    }

    [TearDown]
    public void TearDown()
    {
        if (_ns is null)
            return;
        Run("ip", "netns", "del", _ns);
        Run("ip", "link", "del", _outer);
    }

    private static (int Rc, string Out) Run(params string[] args)
    {
        var psi = new ProcessStartInfo(args[0]) { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (string a in args[1..])
            psi.ArgumentList.Add(a);
        using var p = Process.Start(psi)!;
        string output = p.StandardOutput.ReadToEnd() + p.StandardError.ReadToEnd();
        p.WaitForExit();
        return (p.ExitCode, output);
    }

    private static void Must(params string[] args)
    {
        var (rc, output) = Run(args);
        Assert.That(rc, Is.Zero, $"{string.Join(' ', args)}: {output}");
    }

    private static DataplaneConfig GroupOnPort0(Dataplane dp)
    {
        var g = dp.ReadGeometry();
        var cfg = new DataplaneConfig(g);
        cfg.PortMacs[0] = Port0Mac;
        var slots = new byte[g.Slots];
        Array.Fill(slots, (byte)1);
        cfg.Groups[0] = new GroupConfig(Offload.Protocol.Ipv4Address.Parse(Vip), GroupId: 1, ArpMode.RoundRobin, CopyRequests: false, Enabled: true, slots);
        return cfg;
    }

    /// <summary>Polls (bounded) until <paramref name="done"/> holds: waits on the event, not for a fixed time.</summary>
    private static bool Eventually(Func<bool> done)
    {
        var sw = Stopwatch.StartNew();
        while (sw.Elapsed < TimeSpan.FromSeconds(60))
        {
            if (done())
                return true;
            Thread.Sleep(50);
        }
        return done();
    }

    [Test]
    public void A_kernel_host_resolves_the_virtual_ip_to_the_vmac_through_the_model()
    {
        using var model = ModelDevice.Create(64);
        var dp = new Dataplane(model);
        dp.Apply(GroupOnPort0(dp));
        using var ports = new ModelPorts(model, [new PortBinding(0, _outer)]);
        using (var clock = ports.AttachTo())
        {
            // The kernel ARPs for the VIP before it sends the echo; the echo itself is a miss the host queue takes.
            Run("ip", "netns", "exec", _ns, "ping", "-c", "1", "-W", "1", Vip);
            string vmac = MacAddress.Glbp(1, 1).ToString().ToLowerInvariant();
            Assert.That(Eventually(() => Run("ip", "-n", _ns, "neigh", "show", Vip).Out.Contains($"lladdr {vmac}", StringComparison.Ordinal)), Is.True,
                $"the host's neighbour table holds {Vip} at {vmac}: {Run("ip", "-n", _ns, "neigh").Out}; {ports.Counters(0)}; {dp.ReadCounters().Port0}");
            Assert.That(clock.Fault, Is.Null);
        }
        var c = ports.Counters(0)!;
        Assert.That(c.RxFrames, Is.GreaterThanOrEqualTo(1), "the ARP request came in");
        Assert.That(c.TxFrames, Is.GreaterThanOrEqualTo(1), "the reply went out");
        Assert.That(dp.ReadCounters().Port0.ArpReplies, Is.GreaterThanOrEqualTo(1), "and it was the model's responder that answered");
    }

    [Test]
    public void Frames_over_the_port_mtu_are_dropped_and_counted()
    {
        using var model = ModelDevice.Create(64);
        var dp = new Dataplane(model);
        dp.Apply(GroupOnPort0(dp));
        using var ports = new ModelPorts(model, [new PortBinding(0, _outer, Mtu: 200)]);
        using (ports.AttachTo())
        {
            Run("ip", "netns", "exec", _ns, "ping", "-c", "1", "-W", "1", Vip);
            Run("ip", "netns", "exec", _ns, "ping", "-c", "2", "-s", "1000", "-W", "1", Vip);
            Assert.That(Eventually(() => ports.Counters(0)!.RxTooLong >= 1), Is.True, $"{ports.Counters(0)}");
        }
        Assert.That(ports.Counters(0)!.RxFrames, Is.GreaterThanOrEqualTo(1), "the small ARP request still came in");
    }

    [Test]
    public void A_burst_beyond_the_queue_is_dropped_and_counted_and_the_model_is_fed_only_a_few_at_a_time()
    {
        using var model = ModelDevice.Create(64);
        var dp = new Dataplane(model);
        dp.Apply(GroupOnPort0(dp));
        using var ports = new ModelPorts(model, [new PortBinding(0, _outer)], queueFrames: 8);
        // No clock: nothing drains the queue while the burst arrives. The host knows the vMAC, so it sends at once.
        ports.StartReceiving();
        Must("ip", "-n", _ns, "neigh", "add", Vip, "lladdr", MacAddress.Glbp(1, 1).ToString(), "dev", _inner);
        Run("ip", "netns", "exec", _ns, "ping", "-c", "40", "-i", "0.002", "-W", "1", Vip);
        Assert.That(Eventually(() => ports.Counters(0)!.RxFrames + ports.Counters(0)!.RxQueueFull >= 40), Is.True, $"{ports.Counters(0)}");
        var c = ports.Counters(0)!;
        Assert.That(c.RxFrames, Is.EqualTo(8), "eight queued");
        Assert.That(c.RxQueueFull, Is.GreaterThanOrEqualTo(32), "the rest of the burst dropped and counted");
        ports.Feed();
        Assert.That(model.RxPending(0), Is.EqualTo(4), "the model's own (unbounded) ingress queue is kept short");
        ports.Feed();
        Assert.That(model.RxPending(0), Is.EqualTo(4), "until the clock runs, nothing more goes in");
    }

    [Test]
    public void An_interface_that_does_not_exist_is_named()
    {
        using var model = ModelDevice.Create(64);
        var e = Assert.Throws<DeviceException>(() => new ModelPorts(model, [new PortBinding(0, "ofl-nothere")]));
        Assert.That((e!.Error, e.Message), Is.EqualTo((DeviceError.Absent, "interface 'ofl-nothere': no such interface (ip link lists them)")));
    }
}
