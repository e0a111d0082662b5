using Offload.Balancer.Health;

namespace Offload.Balancer.Tests.Health;

/// <summary>A probe that returns the results it was given, one per round, so rise/fall counting can be followed on virtual time.</summary>
internal sealed class ScriptedProbe(params bool[] results) : IHealthProbe
{
    private int _next;

    public string Name => "scripted";

    public int Calls => _next;

    public ValueTask<ProbeResult> ProbeAsync(CancellationToken cancellationToken) =>
        ValueTask.FromResult(results[_next++] ? ProbeResult.Pass("ok") : ProbeResult.Fail("scripted failure"));
}

/// <summary>A probe that never answers: it waits on its token, which only the checker's timeout cancels.</summary>
internal sealed class HangingProbe : IHealthProbe
{
    public string Name => "hanging";

    public int Calls { get; private set; }

    public async ValueTask<ProbeResult> ProbeAsync(CancellationToken cancellationToken)
    {
        Calls++;
        await Task.Delay(Timeout.Infinite, cancellationToken).ConfigureAwait(false);
        return ProbeResult.Pass("unreachable");
    }
}

[NonParallelizable]
[Category("Model")]
public class CheckTests
{
    [Test]
    public void Rise_and_fall_count_consecutive_results_only()
    {
        var rf = new RiseFall(rise: 2, fall: 3, initiallyUp: true);
        bool[] results = [false, false, true, false, false, false, true, false, true, true, false];
        var states = results.Select(r => (rf.Record(r), rf.Up)).ToList();
        Assert.That(states, Is.EqualTo(new[]
        {
            (false, true), (false, true),  // two failures: not yet
            (false, true),                 // a pass resets the run
            (false, true), (false, true), (true, false), // three in a row: down
            (false, false), (false, false), // pass, fail: the run of passes restarts
            (false, false), (true, true),   // two passes in a row: up
            (false, true),
        }));
        Assert.That(new RiseFall(1, 1, initiallyUp: false).Record(true), Is.True, "initially down, one pass with rise 1 brings it up");
    }

    [Test]
    public void A_checker_on_virtual_time_drives_the_service_health_through_the_handler()
    {
        using var rig = new HealthRig(backends: 2);
        var handler = rig.NewHandler(new HealthLoadOptions { Down = DownPolicy.KeepFlows });
        bool[] script = [true, false, false, false, true, true, false, true];
        var probe = new ScriptedProbe(script);
        handler.AddBackend(rig.Service, "b1", null, new HealthCheck(probe, new CheckOptions(TimeSpan.FromSeconds(2), TimeSpan.FromSeconds(1), Rise: 2, Fall: 3)));
        handler.Start();
        var seen = new List<bool>();
        for (int round = 0; round < script.Length; round++)
        {
            if (round > 0)
                rig.Time.Advance(TimeSpan.FromSeconds(2));
            handler.Apply();
            seen.Add(rig.Service.Find("b1")!.Config.Healthy);
        }
        using (Assert.EnterMultipleScope())
        {
            Assert.That(probe.Calls, Is.EqualTo(script.Length), "one probe at start, then one per interval");
            Assert.That(seen, Is.EqualTo(new[] { true, true, true, false, false, true, true, true }));
            Assert.That(rig.Service.Find("b2")!.Config.Healthy, Is.True, "the other backend is not touched");
        }
    }

    [Test]
    public void A_real_tcp_check_takes_its_backend_out_of_the_pool_when_the_listener_goes()
    {
        using var rig = new HealthRig(backends: 2);
        using var listener = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0);
        listener.Start();
        var handler = rig.NewHandler();
        handler.AddBackend(rig.Service, "b1", null,
            new HealthCheck(new TcpConnectProbe((System.Net.IPEndPoint)listener.LocalEndpoint), new CheckOptions(TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(1), Rise: 1, Fall: 2)));
        handler.Start();
        rig.ApplyUntil(() => handler.ChecksOf(rig.Service, "b1").Single().Probes == 1, "the first probe");
        Assert.That(rig.Slots("b1"), Is.GreaterThan(0));

        var checker = handler.ChecksOf(rig.Service, "b1").Single();
        listener.Stop();
        // Each probe completes on a socket thread; the next round starts only after it, or it would be skipped as overlapping.
        rig.Time.Advance(TimeSpan.FromSeconds(1));
        rig.ApplyUntil(() => checker.Probes == 2, "the second probe");
        Assert.That(rig.Service.Find("b1")!.Config.Healthy, Is.True, "one refusal is below fall = 2");
        rig.Time.Advance(TimeSpan.FromSeconds(1));
        rig.ApplyUntil(() => !rig.Service.Find("b1")!.Config.Healthy, "b1 down after two refused connects");
        using (Assert.EnterMultipleScope())
        {
            Assert.That(rig.Slots("b1"), Is.Zero);
            Assert.That(rig.Service.Find("b1")!.Draining, Is.True, "the default down policy drains its flows");
        }
    }

    [Test]
    public void A_probe_that_hangs_fails_at_its_timeout_and_is_not_doubled_up()
    {
        using var rig = new HealthRig(backends: 1);
        var probe = new HangingProbe();
        using var checker = new HealthChecker(probe, new CheckOptions(TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(3), Rise: 1, Fall: 1), rig.Time);
        checker.Start();
        rig.Time.Advance(TimeSpan.FromSeconds(2));
        Assert.That(probe.Calls, Is.EqualTo(1), "rounds due while the probe runs are skipped");
        Assert.That(checker.Up, Is.True);
        rig.Time.Advance(TimeSpan.FromSeconds(1));
        var deadline = DateTime.UtcNow.AddSeconds(20);
        while (checker.Probes == 0 && DateTime.UtcNow < deadline)
            Thread.Sleep(5);
        using (Assert.EnterMultipleScope())
        {
            Assert.That(checker.Probes, Is.EqualTo(1));
            Assert.That(checker.Up, Is.False);
            Assert.That(checker.LastResult.Detail, Does.Contain("no answer within 3000 ms"));
        }
    }

    [Test]
    public void Check_options_are_validated()
    {
        var p = new ScriptedProbe(true);
        using (Assert.EnterMultipleScope())
        {
            Assert.That(() => new HealthChecker(p, new CheckOptions(TimeSpan.Zero, TimeSpan.FromSeconds(1))), Throws.InstanceOf<ArgumentOutOfRangeException>().With.Message.Contains("interval"));
            Assert.That(() => new HealthChecker(p, new CheckOptions(TimeSpan.FromSeconds(1), TimeSpan.Zero)), Throws.InstanceOf<ArgumentOutOfRangeException>().With.Message.Contains("timeout"));
            Assert.That(() => new HealthChecker(p, new CheckOptions(TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(1), Rise: 0)), Throws.InstanceOf<ArgumentOutOfRangeException>().With.Message.Contains("rise"));
            Assert.That(() => new HealthChecker(p, new CheckOptions(TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(1), Fall: 0)), Throws.InstanceOf<ArgumentOutOfRangeException>().With.Message.Contains("fall"));
        }
    }
}
