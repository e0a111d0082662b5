namespace Offload.Group.Tests;

public class GlbpWeightingTests
{
    [Test]
    public void Defaults_are_ciscos()
    {
        var w = new GlbpWeighting();
        Assert.That((w.Maximum, w.LowerThreshold, w.UpperThreshold, w.Current, w.Forwarding), Is.EqualTo(((byte)100, (byte)1, (byte)100, (byte)100, true)));
    }

    [Test]
    public void Tracked_objects_down_lower_the_weighting_and_thresholds_have_hysteresis()
    {
        var w = new GlbpWeighting(100, lower: 60, upper: 90);
        w.Track(1, 20);
        w.Track(2, 30);
        w.SetTracked(1, up: false);
        Assert.That((w.Current, w.Forwarding), Is.EqualTo(((byte)80, true)));
        w.SetTracked(2, up: false);
        Assert.That((w.Current, w.Forwarding), Is.EqualTo(((byte)50, false)), "below the lower threshold");
        w.SetTracked(2, up: true);
        Assert.That((w.Current, w.Forwarding), Is.EqualTo(((byte)80, false)), "between thresholds: still off");
        w.SetTracked(1, up: true);
        Assert.That((w.Current, w.Forwarding), Is.EqualTo(((byte)100, true)), "at/above the upper threshold: on");
    }

    [Test]
    public void Weighting_floors_at_zero_and_unknown_objects_are_ignored()
    {
        var w = new GlbpWeighting(10);
        w.Track(1, 200);
        Assert.That(w.SetTracked(9, false), Is.False);
        w.SetTracked(1, false);
        Assert.That((w.Current, w.Forwarding), Is.EqualTo(((byte)0, false)));
    }

    [Test]
    public void Bad_thresholds_are_rejected()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => _ = new GlbpWeighting(255));
        Assert.Throws<ArgumentOutOfRangeException>(() => _ = new GlbpWeighting(100, lower: 50, upper: 40));
        Assert.Throws<ArgumentOutOfRangeException>(() => _ = new GlbpWeighting(100, lower: 1, upper: 101));
    }
}
