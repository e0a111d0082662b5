namespace Offload.Device.Tests;

/// <summary>Placement logic on a register-level fake, small enough to check every lookup after every write.</summary>
public class FlowTableManagerFakeTests
{
    private static readonly DataplaneGeometry Small = new(Buckets: 16, Ways: 4, Stash: 4);

    [Test]
    public void Every_inserted_key_is_found_after_every_single_write_until_the_table_is_full()
    {
        using var dev = new FakeFlowTableDevice(Small);
        var ftm = new FlowTableManager(dev, Small, FlowTableStart.AssumeEmpty);
        var inserted = new List<FlowKey>();
        dev.MustFind = inserted;
        foreach (var k in TestKeys.Random(Small.TotalEntries + 10, seed: 1))
        {
            if (!ftm.TryInsert(k, TestKeys.ActionFor(k), out int index))
                break;
            Assert.That(dev.Lookup(k), Is.EqualTo(index), "the new key answers from the index the manager reports");
            inserted.Add(k);
        }
        Assert.Multiple(() =>
        {
            Assert.That(dev.LookupFailures, Is.Empty);
            Assert.That(ftm.Moves, Is.GreaterThan(0), "the table filled without a single cuckoo move: the test proves nothing");
            Assert.That(ftm.StashCount, Is.GreaterThan(0));
            Assert.That(ftm.LoadFactor, Is.GreaterThanOrEqualTo(0.9));
            Assert.That(ftm.VerifyAgainstHardware(), Is.Empty);
        });
    }

    [Test]
    public void Full_table_fails_clearly_and_writes_nothing()
    {
        using var dev = new FakeFlowTableDevice(Small);
        var ftm = new FlowTableManager(dev, Small, FlowTableStart.AssumeEmpty);
        var keys = TestKeys.Random(Small.TotalEntries * 2, seed: 2);
        int n = ftm.InsertMany(keys.Select(k => (k, TestKeys.ActionFor(k))));
        int commands = dev.Commands;
        var e = Assert.Throws<FlowTableFullException>(() => ftm.Insert(keys[n], default));
        Assert.Multiple(() =>
        {
            Assert.That(e!.Message, Does.Contain("flow table full").And.Contain("stash 4/4"));
            Assert.That(dev.Commands, Is.EqualTo(commands));
            Assert.That(ftm.Count, Is.EqualTo(n));
            Assert.That(ftm.VerifyAgainstHardware(), Is.Empty);
        });
    }

    [Test]
    public void Removing_frees_room_and_drains_the_stash_without_losing_a_lookup()
    {
        using var dev = new FakeFlowTableDevice(Small);
        var ftm = new FlowTableManager(dev, Small, FlowTableStart.AssumeEmpty);
        var keys = TestKeys.Random(Small.TotalEntries * 2, seed: 3);
        int n = ftm.InsertMany(keys.Select(k => (k, TestKeys.ActionFor(k))));
        var present = keys.Take(n).ToList();
        var rng = new Random(3);
        var removed = present.Where(_ => rng.Next(3) == 0).ToList();
        var kept = present.Except(removed).ToList();
        dev.MustFind = kept;
        foreach (var k in removed)
            Assert.That(ftm.Remove(k), Is.True);
        Assert.Multiple(() =>
        {
            Assert.That(dev.LookupFailures, Is.Empty);
            Assert.That(removed.Select(dev.Lookup), Is.All.Null);
            Assert.That(ftm.StashCount, Is.Zero, "a third of the table was freed, so the stash entries fit the main table again");
            Assert.That(ftm.VerifyAgainstHardware(), Is.Empty);
            Assert.That(ftm.Remove(removed[0]), Is.False);
        });
        dev.MustFind = null;
        foreach (var k in removed)
            ftm.Insert(k, TestKeys.ActionFor(k));
        Assert.That(ftm.Count, Is.EqualTo(n));
        Assert.That(ftm.VerifyAgainstHardware(), Is.Empty);
    }

    [Test]
    public void Reinserting_a_key_updates_its_action_in_place()
    {
        using var dev = new FakeFlowTableDevice(Small);
        var ftm = new FlowTableManager(dev, Small, FlowTableStart.AssumeEmpty);
        var k = TestKeys.Random(1, seed: 4)[0];
        int i = ftm.Insert(k, new FlowAction(1));
        Assert.That(ftm.Insert(k, new FlowAction(2, Nat: NatMode.Source, NatIp: 5)), Is.EqualTo(i));
        Assert.That(dev.Entry(i).Action, Is.EqualTo(new FlowAction(2, Nat: NatMode.Source, NatIp: 5)));
        Assert.That(ftm.Count, Is.EqualTo(1));
    }

    [Test]
    public void Verify_reports_an_entry_changed_behind_the_managers_back_and_load_takes_the_hardware_view()
    {
        using var dev = new FakeFlowTableDevice(Small);
        var ftm = new FlowTableManager(dev, Small, FlowTableStart.AssumeEmpty);
        var keys = TestKeys.Random(20, seed: 5);
        ftm.InsertMany(keys.Select(k => (k, TestKeys.ActionFor(k))));
        int victim = ftm.Entries.First().Index;
        dev.Write(Reg.FtIndex, (uint)victim);
        dev.Write(Reg.FtCmd, RegConst.FtCmdInvalidate);
        var diffs = ftm.VerifyAgainstHardware();
        Assert.That(diffs, Has.Count.EqualTo(1));
        Assert.That(diffs[0].Index, Is.EqualTo(victim));
        Assert.That(diffs[0].Actual, Is.EqualTo("invalid"));
        ftm.LoadFromHardware();
        Assert.That(ftm.Count, Is.EqualTo(19));
        Assert.That(ftm.VerifyAgainstHardware(), Is.Empty);
    }

    [Test]
    public void Inserting_many_uses_few_batches()
    {
        using var dev = new FakeFlowTableDevice(Small);
        var ftm = new FlowTableManager(dev, Small, FlowTableStart.AssumeEmpty);
        var keys = TestKeys.Random(40, seed: 6);
        ftm.InsertMany(keys.Select(k => (k, TestKeys.ActionFor(k))));
        Assert.That(dev.Batches, Is.EqualTo(1));
    }
}

public class FlowTableManagerLoadTests
{
    [TestCase(1)]
    [TestCase(2)]
    [TestCase(3)]
    public void Default_geometry_fills_past_95_percent_before_the_first_failure(int seed)
    {
        var g = new DataplaneGeometry();
        using var dev = new FakeFlowTableDevice(g);
        var ftm = new FlowTableManager(dev, g, FlowTableStart.AssumeEmpty);
        var keys = TestKeys.Random(g.TotalEntries + 1, seed);
        int n = ftm.InsertMany(keys.Select(k => (k, TestKeys.ActionFor(k))));
        TestContext.Out.WriteLine($"seed {seed}: {n}/{g.TotalEntries} = {ftm.LoadFactor:P2}, {ftm.Moves} moves, stash {ftm.StashCount}");
        Assert.That(ftm.LoadFactor, Is.GreaterThanOrEqualTo(0.95));
        Assert.That(ftm.VerifyAgainstHardware(), Is.Empty);
    }
}
