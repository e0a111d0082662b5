using PropertyAttribute = FsCheck.NUnit.PropertyAttribute;

namespace Offload.Device.Tests;

// FsCheck supplies the arguments; NUnit's analyzer only knows NUnit's own data attributes.
#pragma warning disable NUnit1027

/// <summary>
/// Placement invariants over any sequence of inserts and removes FsCheck draws (and shrinks to the shortest that
/// breaks one): every present key answers from the index the manager reports, in one of its two buckets or the
/// stash, no two keys share an entry, the shadow matches the hardware, and a full table refuses without writing.
/// </summary>
public class FlowTablePropertyTests
{
    private static readonly DataplaneGeometry Small = new(Buckets: 8, Ways: 2, Stash: 2);

    [Property(MaxTest = 200)]
    public bool Any_sequence_of_inserts_and_removes_keeps_every_placement_invariant(byte[] keyChoices, bool[] removes)
    {
        var keys = TestKeys.Random(48, seed: 17);
        using var dev = new FakeFlowTableDevice(Small);
        var ftm = new FlowTableManager(dev, Small, FlowTableStart.AssumeEmpty);
        var present = new HashSet<FlowKey>();
        for (int i = 0; i < keyChoices.Length; i++)
        {
            FlowKey k = keys[keyChoices[i] % keys.Count];
            if (i < removes.Length && removes[i])
            {
                if (ftm.Remove(k) != present.Remove(k))
                    return false;
            }
            else
            {
                int commands = dev.Commands;
                bool fresh = !present.Contains(k);
                if (ftm.TryInsert(k, TestKeys.ActionFor(k), out _))
                    present.Add(k);
                else if (!fresh || dev.Commands != commands)
                    return false; // only a new key may be refused, and a refusal writes nothing
            }
            if (!Holds(ftm, dev, present))
                return false;
        }
        return true;
    }

    private static bool Holds(FlowTableManager ftm, FakeFlowTableDevice dev, HashSet<FlowKey> present)
    {
        if (ftm.Count != present.Count)
            return false;
        var used = new HashSet<int>();
        foreach (FlowKey k in present)
        {
            if (!ftm.TryGetIndex(k, out int index) || dev.Lookup(k) != index || !used.Add(index))
                return false;
            bool inStash = index >= Small.MainEntries;
            bool inBucket = Enumerable.Range(0, Small.Ways).Any(w => index == Small.Index(0, ftm.BucketOf(0, k), w) || index == Small.Index(1, ftm.BucketOf(1, k), w));
            if (!inStash && !inBucket)
                return false;
        }
        return ftm.VerifyAgainstHardware().Count == 0;
    }
}
