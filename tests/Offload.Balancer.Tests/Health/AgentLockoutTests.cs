using System.Net;
using System.Net.Sockets;
using Offload.Balancer.Health;
using Offload.Protocol.Agent;

namespace Offload.Balancer.Tests.Health;

/// <summary>
/// One validly signed report must not lock a backend's real agent out: a boot id or sequence pushed to the top of
/// its range is either refused outright or forgotten once it has been silent for the agent's fall time.
/// </summary>
[NonParallelizable]
[Category("Model")]
public class AgentLockoutTests
{
    private HealthRig _rig = null!;
    private UdpClient _udp = null!;

    // The rig owns and disposes its handler.
    private HealthLoadHandler Handler => _rig.Handler!;

    [SetUp]
    public void SetUp()
    {
        _rig = new HealthRig(backends: 1);
        var handler = _rig.NewHandler();
        handler.AddAgent(new AgentEndpoint("b1", null, HealthRig.Key, HealthRig.Interval));
        handler.AddBackend(_rig.Service, "b1", "b1");
        handler.Start();
        _udp = new UdpClient(new IPEndPoint(IPAddress.Loopback, 0));
    }

    [TearDown]
    public void TearDown()
    {
        _udp?.Dispose();
        _rig?.Dispose();
    }

    private static ulong Micros(DateTimeOffset t) => (ulong)((t - DateTimeOffset.UnixEpoch).Ticks / 10);

    private AgentReport Genuine(ulong boot, ulong sequence, int weight) =>
        new("b1", boot, sequence, _rig.Time.GetUtcNow(), 0.1, 0.2, 3, weight, Drain: false, HealthRig.Interval);

    private void Send(AgentReport r)
    {
        byte[] b = new byte[AgentProtocol.MaxLength];
        int n = AgentCodec.WriteReport(b, r, HealthRig.Key);
        _udp.Send(b, n, _rig.Gateway!);
    }

    private long Seen() => Handler.ReportsAccepted + Enum.GetValues<AgentReject>().Sum(Handler.Rejected);

    /// <summary>Sends and waits until the handler has taken or refused it.</summary>
    private void Deliver(AgentReport r)
    {
        long want = Seen() + 1;
        Send(r);
        _rig.ApplyUntil(() => Seen() >= want, $"report {r.BootId}/{r.Sequence} handled");
    }

    private int Weight => _rig.Service.Find("b1")!.Config.Weight;

    [Test]
    public void A_boot_id_later_than_the_reports_own_time_is_refused()
    {
        ulong boot = Micros(_rig.Time.GetUtcNow()) - 1_000_000;
        Deliver(Genuine(boot, 1, weight: 5));
        Deliver(Genuine(long.MaxValue, 1, weight: 77));
        Assert.That(Handler.Rejected(AgentReject.BootInFuture), Is.EqualTo(1));
        Deliver(Genuine(boot, 2, weight: 6));
        Assert.That(Handler.ReportsAccepted, Is.EqualTo(2), "the real agent goes on being heard");
        Assert.That(Weight, Is.EqualTo(6));
    }

    [Test]
    public void A_newer_boot_that_falls_silent_frees_the_agents_own_boot_after_the_fall_time()
    {
        ulong boot = Micros(_rig.Time.GetUtcNow()) - 10_000_000;
        Deliver(Genuine(boot, 1, weight: 5));
        // A boot id inside the window but later than the real one (a stray agent with the same id and key, a clock step).
        Deliver(Genuine(Micros(_rig.Time.GetUtcNow()), 1, weight: 77));
        Deliver(Genuine(boot, 2, weight: 6));
        Assert.That(Handler.Rejected(AgentReject.StaleBoot), Is.EqualTo(1), "refused while the other boot is fresh");

        _rig.Time.Advance(HealthRig.Interval * Handler.Options.AgentFall);
        Deliver(Genuine(boot, 3, weight: 7));
        Assert.That(Handler.ReportsAccepted, Is.EqualTo(3), "taken once the other boot was silent for the fall time");
        Deliver(Genuine(boot, 4, weight: 8));
        Assert.That((Handler.ReportsAccepted, Weight), Is.EqualTo((4L, 8)));
    }

    [Test]
    public void A_sequence_pushed_to_its_top_is_forgotten_after_the_fall_time()
    {
        ulong boot = Micros(_rig.Time.GetUtcNow()) - 10_000_000;
        Deliver(Genuine(boot, 1, weight: 5));
        Deliver(Genuine(boot, ulong.MaxValue, weight: 77));
        Deliver(Genuine(boot, 2, weight: 6));
        Assert.That(Handler.Rejected(AgentReject.Replayed), Is.EqualTo(1));

        _rig.Time.Advance(HealthRig.Interval * Handler.Options.AgentFall);
        Deliver(Genuine(boot, 3, weight: 7));
        Deliver(Genuine(boot, 4, weight: 8));
        Assert.That((Handler.ReportsAccepted, Weight), Is.EqualTo((4L, 8)));
    }

    [Test]
    public void After_the_fall_time_a_replayed_older_report_is_still_refused()
    {
        ulong boot = Micros(_rig.Time.GetUtcNow()) - 10_000_000;
        var old = Genuine(boot, 1, weight: 5);
        Deliver(old);
        _rig.Time.Advance(TimeSpan.FromSeconds(1));
        Deliver(Genuine(boot, 2, weight: 6));
        _rig.Time.Advance(HealthRig.Interval * Handler.Options.AgentFall);
        // Captured before the last report taken: its sender time is not newer, so silence does not let it in.
        Deliver(old);
        Assert.That(Handler.ReportsAccepted, Is.EqualTo(2));
    }
}
