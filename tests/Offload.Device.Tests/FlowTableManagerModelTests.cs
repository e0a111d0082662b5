using Offload.HwModel;

namespace Offload.Device.Tests;

/// <summary>Placement on the real RTL: the table the hardware looks up must equal the shadow at all times.</summary>
[Category("Model")]
public class FlowTableManagerModelTests
{
    private static readonly MacAddress Port0Mac = MacAddress.Parse("02:00:00:00:00:10");
    private static readonly MacAddress Port1Mac = MacAddress.Parse("02:00:00:00:01:10");

    private ModelDevice _dev = null!;
    private Dataplane _dp = null!;
    private DataplaneGeometry _g = null!;

    [SetUp]
    public void SetUp()
    {
        _dev = ModelDevice.Create(64);
        _dp = new Dataplane(_dev);
        _g = _dp.ReadGeometry();
    }

    [TearDown]
    public void TearDown() => _dev?.Dispose();

    [Test]
    public void Random_keys_fill_past_95_percent_and_the_hardware_equals_the_shadow()
    {
        var ftm = new FlowTableManager(_dev, _g, FlowTableStart.Load);
        Assert.That(ftm.Count, Is.Zero, "a reset table reads back empty");
        var keys = TestKeys.Random(_g.TotalEntries + 1, seed: 21);
        int n = 0;
        foreach (var k in keys)
        {
            if (!ftm.TryInsert(k, TestKeys.ActionFor(k), out _))
                break;
            n++;
        }
        TestContext.Out.WriteLine($"{n}/{_g.TotalEntries} = {ftm.LoadFactor:P2} before the first failure, {ftm.Moves} moves, stash {ftm.StashCount}, {_dev.Model.Cycles} cycles");
        Assert.That(ftm.LoadFactor, Is.GreaterThanOrEqualTo(0.95));
        Assert.That(ftm.VerifyAgainstHardware(), Is.Empty);

        var fresh = new FlowTableManager(_dev, _g, FlowTableStart.Load);
        Assert.That(fresh.Count, Is.EqualTo(n), "a manager loading from hardware sees the same entries");
        Assert.That(fresh.Entries.Select(e => e.Index), Is.EqualTo(ftm.Entries.Select(e => e.Index)));
    }

    [Test]
    public void Remove_and_reinsert_keep_hardware_and_shadow_equal()
    {
        var ftm = new FlowTableManager(_dev, _g, FlowTableStart.AssumeEmpty);
        var keys = TestKeys.Random((int)(_g.TotalEntries * 0.9), seed: 22);
        Assert.That(ftm.InsertMany(keys.Select(k => (k, TestKeys.ActionFor(k)))), Is.EqualTo(keys.Count));
        var rng = new Random(22);
        var removed = keys.Where(_ => rng.Next(2) == 0).ToList();
        foreach (var k in removed)
            Assert.That(ftm.Remove(k), Is.True);
        Assert.That(ftm.VerifyAgainstHardware(), Is.Empty);
        Assert.That(ftm.InsertMany(removed.Select(k => (k, TestKeys.ActionFor(k)))), Is.EqualTo(removed.Count));
        Assert.That(ftm.Count, Is.EqualTo(keys.Count));
        Assert.That(ftm.VerifyAgainstHardware(), Is.Empty);
    }

    [Test]
    public void Cuckoo_moves_while_traffic_flows_never_cause_a_miss()
    {
        var cfg = new DataplaneConfig(_g);
        cfg.PortMacs[0] = Port0Mac;
        cfg.PortMacs[1] = Port1Mac;
        _dp.Apply(cfg);
        var ftm = new FlowTableManager(_dev, _g, FlowTableStart.AssumeEmpty);
        var keys = TestKeys.Random(_g.TotalEntries, seed: 23);
        int first = (int)(_g.MainEntries * 0.85);
        Assert.That(ftm.InsertMany(keys.Take(first).Select(k => (k, TestKeys.ActionFor(k)))), Is.EqualTo(first));
        var before = keys.Take(first).ToDictionary(k => k, k => { ftm.TryGetIndex(k, out int i); return i; });
        _dp.ClearCounters();
        var buf = new byte[16384];

        // Frames of already-placed keys stream in while more keys are inserted one by one; register
        // accesses tick the clock, so lookups happen between (and during) the writes of every move.
        long moves0 = ftm.Moves;
        int sent = 0;
        var rng = new Random(23);
        for (int i = first; i < first + 600 && i < keys.Count; i++)
        {
            for (int j = 0; j < 4; j++)
            {
                var k = keys[rng.Next(first)];
                _dev.Model.PushFrame(k.InPort, Packets.Ipv4(k.InPort == 0 ? Port0Mac : Port1Mac, MacAddress.Parse("02:aa:00:00:00:01"), k));
                sent++;
            }
            if (!ftm.TryInsert(keys[i], TestKeys.ActionFor(keys[i]), out _))
                break;
            for (int p = 0; p < 2; p++)
            {
                while (_dev.Model.PopFrame(p, buf) >= 0)
                {
                }
            }
        }
        _dev.Model.RunUntilIdle(10_000_000);
        var moved = before.Where(kv => ftm.TryGetIndex(kv.Key, out int now) && now != kv.Value).Select(kv => kv.Key).ToList();
        var c = _dp.ReadCounters();
        TestContext.Out.WriteLine($"{ftm.Moves - moves0} moves during traffic, {moved.Count} keys changed place, {sent} frames, hits {c.Port0.FlowHit + c.Port1.FlowHit}");
        Assert.Multiple(() =>
        {
            Assert.That(ftm.Moves - moves0, Is.GreaterThan(50), "too few cuckoo moves for the test to mean anything");
            Assert.That(c.Port0.FlowMiss + c.Port1.FlowMiss, Is.Zero, "a lookup missed while entries moved");
            Assert.That(c.Port0.FlowHit + c.Port1.FlowHit, Is.EqualTo((ulong)sent));
        });

        // And every key that moved still answers from its new place.
        _dp.ClearCounters();
        foreach (var k in moved)
            _dev.Model.PushFrame(k.InPort, Packets.Ipv4(k.InPort == 0 ? Port0Mac : Port1Mac, MacAddress.Parse("02:aa:00:00:00:01"), k));
        _dev.Model.RunUntilIdle(10_000_000);
        c = _dp.ReadCounters();
        Assert.That(c.Port0.FlowHit + c.Port1.FlowHit, Is.EqualTo((ulong)moved.Count));
        Assert.That(ftm.VerifyAgainstHardware(), Is.Empty);
    }
}
