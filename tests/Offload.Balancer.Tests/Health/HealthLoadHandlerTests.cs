using System.Net;
using System.Net.Sockets;
using System.Text;
using Offload.Balancer.Classification;
using Offload.Balancer.Health;
using Offload.Balancer.Scheduling;
using Offload.Protocol.Agent;

namespace Offload.Balancer.Tests.Health;

/// <summary>
/// The health-and-load handler with real agents (<see cref="AgentReporter"/>) and its real UDP socket on
/// 127.0.0.1, driving services on the Verilator model, on a fake clock.
/// </summary>
[NonParallelizable]
[Category("Model")]
public class HealthLoadHandlerTests
{
    private HealthRig _rig = null!;

    [TearDown]
    public void TearDown() => _rig?.Dispose();

    private sealed record BackendState(string Id, int Weight, bool Healthy, double Overload, bool Draining, long EffectiveWeight);

    private List<BackendState> ServiceState() =>
        [.. _rig.Service.Backends.OrderBy(static b => b.Id, StringComparer.Ordinal)
            .Select(b => new BackendState(b.Id, b.Config.Weight, b.Config.Healthy, b.Overload, b.Draining, _rig.EffectiveWeight(b.Id)))];

    /// <summary>The overload as the pool holds it: in 1/256 steps.</summary>
    private static double Quantized(double overload) => LoadFeedback.Quantize(overload) / (double)LoadFeedback.Steps;

    private static bool AllFresh(HealthLoadHandler h) => h.View().All(static v => v.Agent == AgentStatus.Fresh);

    [Test]
    public void Restarted_handler_rebuilds_its_cache_from_the_agents_within_one_interval()
    {
        _rig = new HealthRig(backends: 3);
        var first = _rig.NewHandler();
        // b1: operator weight 5, light load; b2: CPU 0.9 → overload (0.9 − 0.7) / 0.25 = 0.8; b3: drained, CPU 0.8 → 0.4.
        _rig.NewAgent("b1", new SetLoad(0.2, 0.5, 10), weight: 5);
        _rig.NewAgent("b2", new SetLoad(0.9, 0.5, 20));
        _rig.NewAgent("b3", new SetLoad(0.8, 0.5, 30), drain: true);
        foreach (string id in new[] { "b1", "b2", "b3" })
            _rig.Watch(first, id);
        first.Start();
        foreach (var agent in _rig.Agents.Values)
            agent.Start();
        // Each agent's first report plus its answer to the handler's query.
        _rig.ApplyUntil(() => first.ReportsAccepted == 6 && AllFresh(first), "the first handler hearing every agent");
        _rig.Advance(HealthRig.Interval, reports: 3);
        var oldView = first.View();
        var oldState = ServiceState();
        Assert.That(oldState, Is.EqualTo(new[]
        {
            new BackendState("b1", 5, true, 0, false, 5 * 256),
            new BackendState("b2", 1, true, Quantized(0.8), false, 256 - 205),
            new BackendState("b3", 0, true, Quantized(0.4), false, 0),
        }), "what the first handler made of the reports");

        // The gateway restarts: handler and services are gone; a new handler on the same port starts from an
        // empty cache and services as configured (every weight 1, no load).
        first.Dispose();
        _rig.RestartServices();
        Assert.That(ServiceState().Select(static s => (s.Weight, s.Overload)), Is.All.EqualTo((1, 0.0)), "a restarted service knows nothing");
        long sentBefore = _rig.Agents.Values.Sum(static a => a.ReportsSent);
        var second = _rig.NewHandler();
        foreach (string id in new[] { "b1", "b2", "b3" })
            _rig.Watch(second, id);
        DateTimeOffset restartedAt = _rig.Time.GetUtcNow();
        second.Start();
        _rig.ApplyUntil(() => AllFresh(second) && ServiceState().SequenceEqual(oldState), "the restarted handler matching the old view");

        using (Assert.EnterMultipleScope())
        {
            Assert.That(second.View(), Is.EqualTo(oldView), "health, agent status, weights, loads and drain");
            Assert.That(ServiceState(), Is.EqualTo(oldState));
            // The clock did not move: no periodic report was due, so the cache came from the answers to the queries.
            Assert.That(_rig.Time.GetUtcNow() - restartedAt, Is.LessThan(HealthRig.Interval));
            Assert.That(second.QueriesSent, Is.EqualTo(3));
            Assert.That(_rig.Agents.Values.Sum(static a => a.ReportsSent) - sentBefore, Is.EqualTo(3), "one answer per query");
            Assert.That(_rig.Agents.Values.Select(static a => a.QueriesAnswered), Is.All.GreaterThanOrEqualTo(2L), "once per handler start");
        }
    }

    [TestCase(DownPolicy.Drain)]
    [TestCase(DownPolicy.KeepFlows)]
    public void A_silent_agent_takes_its_backend_out_of_the_pool_within_its_fall_time(DownPolicy policy)
    {
        _rig = new HealthRig(backends: 2, drainTimeout: TimeSpan.FromSeconds(30));
        var handler = _rig.NewHandler(new HealthLoadOptions { AgentFall = 3, Down = policy });
        _rig.NewAgent("b1", new SetLoad(0.1, 0.5, 1));
        var b2 = _rig.NewAgent("b2", new SetLoad(0.1, 0.5, 1));
        _rig.Watch(handler, "b1");
        _rig.Watch(handler, "b2");
        handler.Start();
        _rig.Agents["b1"].Start();
        b2.Start();
        // First reports and the answers to the handler's queries, all in before the clock moves.
        _rig.ApplyUntil(() => handler.ReportsAccepted == 4 && AllFresh(handler), "both agents heard");
        _rig.Advance(HealthRig.Interval, reports: 2);
        int slotsBefore = _rig.Slots("b2");

        // b2's agent dies right after its last report; b1 keeps reporting.
        b2.Dispose();
        for (int i = 0; i < 3; i++)
        {
            _rig.Advance(HealthRig.Interval, reports: 1);
            Assert.That(_rig.Service.Find("b2")!.Config.Healthy, Is.True, $"{i + 1} interval(s) of silence is within fall = 3");
        }
        Assert.That(_rig.Slots("b2"), Is.EqualTo(slotsBefore), "still in the Maglev table at exactly the fall time");
        _rig.Time.Advance(TimeSpan.FromMilliseconds(1));
        handler.Apply();

        var b = _rig.Service.Find("b2")!;
        using (Assert.EnterMultipleScope())
        {
            Assert.That(handler.View().Single(v => v.Id == "b2").Agent, Is.EqualTo(AgentStatus.Silent));
            Assert.That(b.Config.Healthy, Is.False);
            Assert.That(_rig.EffectiveWeight("b2"), Is.Zero);
            Assert.That(_rig.Slots("b2"), Is.Zero, "out of the Maglev table: no new flows");
            Assert.That(_rig.Slots("b1"), Is.EqualTo(MaglevTable.DefaultSize), "b1 takes every slot");
            Assert.That(_rig.Service.Find("b1")!.Config.Healthy, Is.True);
            if (policy == DownPolicy.Drain)
            {
                Assert.That(b.Draining, Is.True, "established flows drain");
                Assert.That(b.DrainDeadline, Is.EqualTo(_rig.Services.Now + TimeSpan.FromSeconds(30)), "for the service's drain timeout");
            }
            else
            {
                Assert.That(b.Draining, Is.False, "established flows are left to end by themselves");
            }
        }

        // The agent comes back (a new boot): the backend is back in the pool with its flows' drain cancelled.
        _rig.Time.Advance(TimeSpan.FromSeconds(1));
        var again = _rig.NewAgent("b2", new SetLoad(0.1, 0.5, 1));
        Assert.That(again.BootId, Is.GreaterThan(b2.BootId));
        long want = handler.ReportsAccepted + 1;
        again.Start();
        _rig.ApplyUntil(() => handler.ReportsAccepted >= want && _rig.Service.Find("b2") is { Config.Healthy: true }, "b2 back after its agent restarted");
        var back = _rig.Service.Find("b2")!;
        using (Assert.EnterMultipleScope())
        {
            Assert.That(back.Draining, Is.False);
            Assert.That(_rig.Slots("b2"), Is.EqualTo(slotsBefore), "the same slots as before: Maglev is deterministic");
        }
    }

    [Test]
    public void The_drain_flag_gives_weight_zero_without_a_deadline_and_clearing_it_restores_the_weight()
    {
        _rig = new HealthRig(backends: 2);
        var handler = _rig.NewHandler();
        var b1 = _rig.NewAgent("b1", new SetLoad(0.1, 0.5, 1), weight: 7);
        _rig.NewAgent("b2", new SetLoad(0.1, 0.5, 1));
        _rig.Watch(handler, "b1");
        _rig.Watch(handler, "b2");
        handler.Start();
        foreach (var a in _rig.Agents.Values)
            a.Start();
        _rig.ApplyUntil(() => _rig.Service.Find("b1")!.Config.Weight == 7, "the operator weight applied");

        b1.Drain = true;
        b1.ReportNow();
        _rig.ApplyUntil(() => _rig.Service.Find("b1")!.Config.Weight == 0, "drain applied");
        var drained = _rig.Service.Find("b1")!;
        using (Assert.EnterMultipleScope())
        {
            Assert.That(drained.Draining, Is.False, "not removed: flows are not cut at a deadline");
            Assert.That(drained.Config.Healthy, Is.True);
            Assert.That(_rig.Slots("b1"), Is.Zero);
            Assert.That(handler.View().Single(v => v.Id == "b1").Drain, Is.True);
        }

        b1.Drain = false;
        b1.Weight = null;
        b1.ReportNow();
        _rig.ApplyUntil(() => _rig.Service.Find("b1")!.Config.Weight == 1, "weight back to the configured 1 once drain and operator weight are cleared");
        Assert.That(_rig.Slots("b1"), Is.GreaterThan(30_000), "b1 has its half of the table back");
    }

    [Test]
    public void Load_reports_lower_the_share_and_a_hovering_load_does_not_rebuild_the_pool()
    {
        _rig = new HealthRig(backends: 2);
        var handler = _rig.NewHandler();
        var load = new SetLoad(0.5, 0.5, 1);
        var b1 = _rig.NewAgent("b1", load);
        _rig.NewAgent("b2", new SetLoad(0.1, 0.5, 1));
        _rig.Watch(handler, "b1");
        _rig.Watch(handler, "b2");
        handler.Start();
        foreach (var a in _rig.Agents.Values)
            a.Start();
        _rig.ApplyUntil(() => handler.ReportsAccepted == 4 && AllFresh(handler), "both agents heard, and their answers to the queries");

        load.Value = new HostLoad(0.825, 0.5, 1); // overload (0.825 − 0.7) / 0.25 = 0.5
        b1.ReportNow();
        _rig.ApplyUntil(() => _rig.Service.Find("b1")!.Overload == 0.5, "overload 0.5 applied");
        int rebuilds = _rig.Service.Rebuilds;
        Assert.That(_rig.EffectiveWeight("b1"), Is.EqualTo(128), "half the share of an idle backend (256)");

        // Reports hovering within the hysteresis band around 0.5.
        foreach (double cpu in new[] { 0.826, 0.824, 0.829, 0.821, 0.827 })
        {
            load.Value = new HostLoad(cpu, 0.5, 1);
            long want = handler.ReportsAccepted + 1;
            b1.ReportNow();
            _rig.ApplyUntil(() => handler.ReportsAccepted >= want, "the report taken");
        }
        Assert.That(_rig.Service.Rebuilds, Is.EqualTo(rebuilds), "no rebuild for a hovering load");

        load.Value = new HostLoad(0.95, 0.5, 1);
        b1.ReportNow();
        _rig.ApplyUntil(() => _rig.Service.Find("b1")!.Overload == 1, "saturated");
        using (Assert.EnterMultipleScope())
        {
            Assert.That(_rig.Service.Rebuilds, Is.EqualTo(rebuilds + 1));
            Assert.That(_rig.Slots("b1"), Is.Zero, "a saturated backend gets no new flows while another has room");
        }
    }

    [Test]
    public void Forged_replayed_stale_and_unknown_reports_are_refused_with_their_reason()
    {
        _rig = new HealthRig(backends: 1);
        var handler = _rig.NewHandler();
        handler.AddAgent(new AgentEndpoint("b1", null, HealthRig.Key, HealthRig.Interval));
        handler.AddBackend(_rig.Service, "b1", "b1");
        handler.Start();
        using var udp = new UdpClient(new IPEndPoint(IPAddress.Loopback, 0));
        var now = _rig.Time.GetUtcNow();
        var report = new AgentReport("b1", BootId: 100, Sequence: 5, now, 0.1, 0.5, 3, Weight: 9, Drain: false, HealthRig.Interval);
        byte[] Sign(AgentReport r, byte[]? key = null)
        {
            byte[] b = new byte[AgentProtocol.MaxLength];
            return b[..AgentCodec.WriteReport(b, r, key ?? HealthRig.Key)];
        }
        void Send(byte[] d) => udp.Send(d, d.Length, _rig.Gateway!);

        Send(Sign(report));
        _rig.ApplyUntil(() => handler.ReportsAccepted == 1, "the genuine report");
        Send(Sign(report));                                                      // the same datagram again
        Send(Sign(report with { Sequence = 4 }));                                // older
        Send(Sign(report with { BootId = 99, Sequence = 50 }));                  // an earlier boot
        Send(Sign(report with { Sequence = 6, Weight = 60_000 }, Encoding.ASCII.GetBytes("guessed")));
        Send(Sign(report with { Id = "nobody", Sequence = 7 }));
        Send(Sign(report with { Sequence = 8, Time = now - TimeSpan.FromMinutes(5) }));
        Send("not an agent message at all, only some text"u8.ToArray());
        Send([1, 2, 3]);
        long Refused() => Enum.GetValues<AgentReject>().Sum(handler.Rejected);
        _rig.ApplyUntil(() => Refused() == 8, "eight refusals");
        using (Assert.EnterMultipleScope())
        {
            Assert.That(handler.Rejected(AgentReject.Replayed), Is.EqualTo(2));
            Assert.That(handler.Rejected(AgentReject.StaleBoot), Is.EqualTo(1));
            Assert.That(handler.Rejected(AgentReject.BadMac), Is.EqualTo(1));
            Assert.That(handler.Rejected(AgentReject.UnknownAgent), Is.EqualTo(1));
            Assert.That(handler.Rejected(AgentReject.ClockSkew), Is.EqualTo(1));
            Assert.That(handler.Rejected(AgentReject.BadMagic), Is.EqualTo(1));
            Assert.That(handler.Rejected(AgentReject.TooShort), Is.EqualTo(1));
            Assert.That(handler.ReportsAccepted, Is.EqualTo(1));
            Assert.That(_rig.Service.Find("b1")!.Config.Weight, Is.EqualTo(9), "only the genuine report's weight, not the forged 60000");
        }
    }

    [Test]
    public void An_agent_that_never_answers_takes_its_backend_down_after_fall_intervals_from_start()
    {
        _rig = new HealthRig(backends: 1);
        var handler = _rig.NewHandler(new HealthLoadOptions { AgentFall = 2 });
        // Nobody listens at this address: the query goes nowhere.
        using var nobody = new UdpClient(new IPEndPoint(IPAddress.Loopback, 0));
        var silentAt = (IPEndPoint)nobody.Client.LocalEndPoint!;
        nobody.Client.ReceiveTimeout = 20_000;
        handler.AddAgent(new AgentEndpoint("b1", silentAt, HealthRig.Key, HealthRig.Interval));
        handler.AddBackend(_rig.Service, "b1", "b1");
        handler.Start();
        handler.Apply();
        Assert.That(handler.View().Single().Agent, Is.EqualTo(AgentStatus.Waiting));
        _rig.Time.Advance(TimeSpan.FromSeconds(2));
        handler.Apply();
        Assert.That(_rig.Service.Find("b1")!.Config.Healthy, Is.True, "two expected intervals: still waiting");
        _rig.Time.Advance(TimeSpan.FromMilliseconds(1));
        handler.Apply();
        using (Assert.EnterMultipleScope())
        {
            Assert.That(handler.View().Single().Agent, Is.EqualTo(AgentStatus.Silent));
            Assert.That(_rig.Service.Find("b1")!.Config.Healthy, Is.False);
            Assert.That(handler.QueriesSent, Is.GreaterThanOrEqualTo(2), "asked at start and again while silent");
        }
        // The queries really went out, signed, to the configured address.
        byte[] got = nobody.Receive(ref silentAt);
        Assert.That(AgentCodec.TryDecode(got, HealthRig.Key, out AgentFrame q), Is.EqualTo(AgentReject.None));
        Assert.That(q.Type, Is.EqualTo(AgentMessageType.Query));
    }

    [Test]
    public void Configuration_mistakes_are_named()
    {
        _rig = new HealthRig(backends: 1);
        var handler = _rig.NewHandler();
        handler.AddAgent(new AgentEndpoint("b1", null, HealthRig.Key, HealthRig.Interval));
        using (Assert.EnterMultipleScope())
        {
            Assert.That(() => handler.AddAgent(new AgentEndpoint("b1", null, HealthRig.Key, HealthRig.Interval)),
                Throws.ArgumentException.With.Message.Contains("'b1' is configured twice"));
            Assert.That(() => handler.AddAgent(new AgentEndpoint("b 2", null, HealthRig.Key, HealthRig.Interval)),
                Throws.ArgumentException.With.Message.Contains("printable ASCII"));
            Assert.That(() => handler.AddAgent(new AgentEndpoint("b3", null, ReadOnlyMemory<byte>.Empty, HealthRig.Interval)),
                Throws.ArgumentException.With.Message.Contains("non-empty HMAC key"));
            Assert.That(() => handler.AddBackend(_rig.Service, "b9", null), Throws.ArgumentException.With.Message.Contains("no backend 'b9'"));
            Assert.That(() => handler.AddBackend(_rig.Service, "b1", "ghost"), Throws.ArgumentException.With.Message.Contains("agent 'ghost'"));
            handler.AddBackend(_rig.Service, "b1", "b1");
            Assert.That(() => handler.AddBackend(_rig.Service, "b1", null), Throws.ArgumentException.With.Message.Contains("watched already"));
        }
        handler.Start();
        Assert.That(() => handler.AddAgent(new AgentEndpoint("b4", null, HealthRig.Key, HealthRig.Interval)),
            Throws.InvalidOperationException.With.Message.Contains("before Start"));
    }
}
