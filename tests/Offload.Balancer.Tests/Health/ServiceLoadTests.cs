using Offload.Balancer.Scheduling;

namespace Offload.Balancer.Tests.Health;

/// <summary><c>Service.SetLoad</c>: load feedback into the pool, with hysteresis (on the Verilator model's service table).</summary>
[NonParallelizable]
[Category("Model")]
public class ServiceLoadTests
{
    private HealthRig _rig = null!;

    [SetUp]
    public void SetUp() => _rig = new HealthRig(backends: 2);

    [TearDown]
    public void TearDown() => _rig.Dispose();

    [Test]
    public void Load_lowers_the_effective_weight_and_small_moves_do_not_rebuild()
    {
        var s = _rig.Service;
        int r0 = s.Rebuilds;
        var steps = new List<(double Load, bool Rebuilt, double Held)>();
        foreach (double load in new[] { 0.5, 0.51, 0.48, 0.52, 0.47, 1.0, 0.99, 0.97, 0.0, 0.02, 0.03 })
        {
            int before = s.Rebuilds;
            Assert.That(s.SetLoad("b1", load), Is.True);
            steps.Add((load, s.Rebuilds != before, s.Find("b1")!.Overload));
        }
        Assert.That(steps, Is.EqualTo(new[]
        {
            (0.5, true, 0.5),           // 128 steps from 0
            (0.51, false, 0.5),         // 131: within 8 steps
            (0.48, false, 0.5),         // 123
            (0.52, false, 0.5),         // 133
            (0.47, true, 120 / 256.0),  // 120: 8 below what is held
            (1.0, true, 1.0),           // the end always counts
            (0.99, false, 1.0),         // 253: within the band, from the end
            (0.97, true, 248 / 256.0),  // 248: 8 steps
            (0.0, true, 0.0),           // the other end
            (0.02, false, 0.0),         // 5
            (0.03, true, 8 / 256.0),    // 8
        }).Using<(double, bool, double)>((a, b) => a.Item1 == b.Item1 && a.Item2 == b.Item2 && Math.Abs(a.Item3 - b.Item3) < 1e-12));
        Assert.That(s.Rebuilds - r0, Is.EqualTo(steps.Count(static x => x.Rebuilt)));
    }

    [Test]
    public void The_pool_carries_the_load_into_the_maglev_table()
    {
        var s = _rig.Service;
        s.SetLoad("b1", 0.75);
        var pool = _rig.Pool;
        using (Assert.EnterMultipleScope())
        {
            Assert.That(pool[pool.IndexOf("b1")].Overload, Is.EqualTo(0.75));
            Assert.That(_rig.EffectiveWeight("b1"), Is.EqualTo(64));
            Assert.That(_rig.EffectiveWeight("b2"), Is.EqualTo(256));
            // Maglev slots follow the effective weights 64 : 256 = 1 : 4, to within a slot or so per backend.
            Assert.That(_rig.Slots("b1") / (double)MaglevTable.DefaultSize, Is.EqualTo(0.2).Within(0.002));
        }
    }

    [Test]
    public void Zero_hysteresis_rebuilds_on_every_change_and_bad_input_is_refused()
    {
        var s = _rig.Service;
        s.LoadHysteresisSteps = 0;
        int r0 = s.Rebuilds;
        s.SetLoad("b1", 0.5);
        s.SetLoad("b1", 0.505);
        s.SetLoad("b1", 0.505);
        using (Assert.EnterMultipleScope())
        {
            Assert.That(s.Rebuilds - r0, Is.EqualTo(2), "a repeat of the same value never rebuilds");
            Assert.That(s.SetLoad("nobody", 0.5), Is.False);
            Assert.That(() => s.SetLoad("b1", 1.5), Throws.InstanceOf<ArgumentOutOfRangeException>());
            Assert.That(() => s.SetLoad("b1", double.NaN), Throws.InstanceOf<ArgumentOutOfRangeException>());
            Assert.That(() => s.LoadHysteresisSteps = -1, Throws.InstanceOf<ArgumentOutOfRangeException>());
        }
    }
}
