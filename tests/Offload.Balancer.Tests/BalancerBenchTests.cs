using Offload.Balancer.Classification;
using Offload.Benchmarks.Balancer;
using Offload.Device;
using Offload.Testing.Device;

namespace Offload.Balancer.Tests;

/// <summary>
/// The benchmark's parts that are not timing: the in-memory register file behaves like the model for what the
/// control plane does with it, and the consistency and occupancy runs measure what they claim. No wall-clock asserts.
/// </summary>
[Category("Model")]
public class BalancerBenchTests
{
    [Test]
    public void The_register_file_holds_and_looks_up_flow_entries_as_the_model_does()
    {
        using var model = ModelDevice.Create(64);
        var g = new Dataplane(model).ReadGeometry();
        var memory = new RegisterFileDevice(g);
        Assert.That(new Dataplane(memory).ReadGeometry(), Is.EqualTo(g));
        var onModel = new FlowTableManager(model, g, FlowTableStart.Clear);
        var inMemory = new FlowTableManager(memory, g, FlowTableStart.AssumeEmpty);
        var rng = new Random(3);
        var keys = new List<FlowKey>();
        for (int i = 0; i < 6000; i++)
        {
            var key = new FlowKey((byte)rng.Next(2), (uint)rng.Next(), (uint)rng.Next(), 6, (ushort)rng.Next(65536), 80);
            var action = new FlowAction((byte)rng.Next(256), rng.Next(2) == 1, (NatMode)rng.Next(3), (uint)rng.Next(), (ushort)rng.Next(65536));
            Assert.That(inMemory.TryInsert(key, action, out int a), Is.EqualTo(onModel.TryInsert(key, action, out int b)));
            Assert.That(a, Is.EqualTo(b));
            keys.Add(key);
            if (i % 3 == 2)
            {
                var gone = keys[rng.Next(keys.Count)];
                inMemory.Remove(gone);
                onModel.Remove(gone);
                keys.Remove(gone);
            }
        }
        // Both read back through FT_CMD READ: the register file keeps exactly what the hardware keeps.
        Assert.That(inMemory.VerifyAgainstHardware(), Is.Empty);
        Assert.That(onModel.VerifyAgainstHardware(), Is.Empty);
        var reloaded = new FlowTableManager(memory, g, FlowTableStart.Load);
        Assert.That(reloaded.Entries, Is.EqualTo(onModel.Entries));
        foreach (var key in keys.Take(500))
        {
            Assert.That(memory.Lookup(key, out int index, out var action), Is.True);
            Assert.That((index, action), Is.EqualTo((onModel.TryGetIndex(key, out int i) ? i : -1, onModel.EntryAt(i)!.Value.Action)));
        }
        Assert.That(memory.Lookup(new FlowKey(0, 1, 2, 17, 3, 4), out _, out _), Is.False);
    }

    [Test]
    public void The_register_file_keeps_the_frames_the_classifier_reinjects()
    {
        var memory = new RegisterFileDevice();
        var dataplane = new Dataplane(memory);
        byte[] frame = new byte[60];
        frame[0] = 0x02;
        frame[59] = 0xAB;
        Assert.That(dataplane.SendHost(1, frame), Is.True);
        Assert.That(memory.SentFrames, Is.EqualTo(1));
        Assert.That(memory.LastSentPort, Is.EqualTo(1));
        Assert.That(memory.LastSent.ToArray(), Is.EqualTo(frame));
    }

    [Test]
    public void Established_flows_keep_their_backend_through_adds_drains_weight_changes_and_health_flips()
    {
        var c = BalancerBench.Consistency(steps: 8000, seed: 11);
        Assert.That(c.PoolChanges, Is.EqualTo(16));
        Assert.That(c.Flows, Is.GreaterThan(1000));
        Assert.That(c.EstablishedPackets, Is.GreaterThan(4000));
        Assert.That(c.Violations, Is.Zero);
    }

    [Test]
    public void The_consistency_run_sees_backend_changes_of_flows_forwarded_without_an_entry()
    {
        // Over the install limit flows follow the Maglev table, which pool changes move: the run must notice.
        var c = BalancerBench.Consistency(steps: 8000, seed: 11, installsPerSecond: 50);
        Assert.That(c.ReclassifiedPackets, Is.GreaterThan(1000));
        Assert.That(c.Violations, Is.GreaterThan(0));
    }

    [Test]
    public void Classification_runs_install_every_flow_and_occupancy_stops_at_the_first_failed_insert()
    {
        var nat = BalancerBench.Classify(ForwardingMode.Nat, 5000);
        Assert.That(nat.Flows, Is.EqualTo(5000));
        Assert.That(nat.Installed, Is.EqualTo(5000), "rounds stay at 40 % load, so nothing is full");
        var occupancy = BalancerBench.Occupancy(fills: 2);
        Assert.That(occupancy.Capacity, Is.EqualTo(new DataplaneGeometry().TotalEntries));
        Assert.That(occupancy.MinOccupancy, Is.InRange(0.5, 1.0));
        Assert.That(occupancy.MeanOccupancy, Is.GreaterThanOrEqualTo(occupancy.MinOccupancy));
    }
}
