namespace Offload.Group.Tests;

public class SlotTableBuilderTests
{
    private static int[] Counts(byte[] slots, int max = 256)
    {
        var c = new int[max];
        foreach (byte s in slots)
            c[s]++;
        return c;
    }

    [Test]
    public void Equal_shares_alternate_forwarders_slot_by_slot()
    {
        var slots = new byte[256];
        Assert.That(SlotTableBuilder.BuildEqual([1, 2, 3], slots), Is.EqualTo(256));
        Assert.That(slots[..6], Is.EqualTo(new byte[] { 1, 2, 3, 1, 2, 3 }));
        var c = Counts(slots);
        Assert.That(new[] { c[1], c[2], c[3] }, Is.EqualTo(new[] { 86, 85, 85 }));
    }

    [Test]
    public void Weighted_shares_follow_weights_and_interleave()
    {
        var slots = new byte[256];
        SlotTableBuilder.Build([1, 2], [100, 50], slots);
        var c = Counts(slots);
        Assert.That(c[1], Is.EqualTo(171));
        Assert.That(c[2], Is.EqualTo(85));
        // Interleaved: the lighter forwarder never waits more than three slots.
        for (int i = 0; i + 3 < 256; i++)
            Assert.That(slots[i..(i + 4)], Does.Contain((byte)2), $"window at {i}");
    }

    [Test]
    public void Every_forwarder_with_weight_gets_a_slot_even_when_tiny()
    {
        var slots = new byte[256];
        SlotTableBuilder.Build([1, 2, 3], [254, 1, 0], slots);
        var c = Counts(slots);
        Assert.That(c[2], Is.GreaterThanOrEqualTo(1));
        Assert.That(c[3], Is.Zero);
        Assert.That(c[1] + c[2], Is.EqualTo(256));
    }

    [Test]
    public void Two_hundred_fifty_five_forwarders_fit()
    {
        var numbers = Enumerable.Range(1, 255).Select(i => (byte)i).ToArray();
        var slots = new byte[256];
        SlotTableBuilder.BuildEqual(numbers, slots);
        var c = Counts(slots);
        Assert.That(c.Skip(1).All(x => x >= 1), Is.True);
    }

    [Test]
    public void Load_based_gives_the_lightly_loaded_forwarder_more_slots()
    {
        var slots = new byte[256];
        SlotTableBuilder.BuildLoadBased([1, 2], [100, 100], [30, 10], slots);
        var c = Counts(slots);
        Assert.That(c[2], Is.EqualTo(192));
        Assert.That(c[1], Is.EqualTo(64));
    }

    [Test]
    public void Load_based_without_load_reports_is_weighted()
    {
        byte[] a = new byte[256], b = new byte[256];
        SlotTableBuilder.BuildLoadBased([1, 2], [100, 50], [0, 0], a);
        SlotTableBuilder.Build([1, 2], [100, 50], b);
        Assert.That(a, Is.EqualTo(b));
    }

    [Test]
    public void No_forwarders_means_no_table()
    {
        Assert.That(SlotTableBuilder.BuildEqual([], new byte[256]), Is.Zero);
        Assert.That(SlotTableBuilder.Build([1], [0], new byte[256]), Is.Zero);
    }
}
