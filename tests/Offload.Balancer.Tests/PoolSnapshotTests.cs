using Offload.Balancer.Scheduling;

namespace Offload.Balancer.Tests;

public class PoolSnapshotTests
{
    [Test]
    public void Empty_pool_is_rejected_with_a_clear_message()
    {
        var ex = Assert.Throws<ArgumentException>(() => _ = new PoolSnapshot([]));
        Assert.That(ex!.Message, Does.Contain("at least one backend"));
    }

    [Test]
    public void Duplicate_ids_are_rejected_naming_the_id()
    {
        var ex = Assert.Throws<ArgumentException>(() =>
            _ = new PoolSnapshot([new Backend("b"), new Backend("a"), new Backend("b", weight: 3)]));
        Assert.That(ex!.Message, Does.Contain("'b'").And.Contain("more than once"));
    }

    [Test]
    public void Ids_differing_only_in_case_are_distinct()
    {
        var pool = new PoolSnapshot([new Backend("A"), new Backend("a")]);
        Assert.That(pool.Count, Is.EqualTo(2));
    }

    [Test]
    public void Invalid_backend_fields_are_rejected()
    {
        Assert.Multiple(() =>
        {
            Assert.Throws<ArgumentException>(() => _ = new Backend(""));
            Assert.Throws<ArgumentNullException>(() => _ = new Backend(null!));
            Assert.Throws<ArgumentOutOfRangeException>(() => _ = new Backend("a", weight: -1));
            Assert.Throws<ArgumentOutOfRangeException>(() => _ = new Backend("a", weight: Backend.MaxWeight + 1));
            Assert.Throws<ArgumentOutOfRangeException>(() => _ = new Backend("a", overload: 1.5));
            Assert.Throws<ArgumentOutOfRangeException>(() => _ = new Backend("a", overload: double.NaN));
            Assert.Throws<ArgumentOutOfRangeException>(() => _ = new Backend("a") with { Overload = -0.1 });
        });
    }

    [Test]
    public void Order_is_canonical_whatever_order_the_backends_come_in()
    {
        Backend[] backends = [new("c", 2), new("a", 1), new("b", 3, healthy: false)];
        var pool = new PoolSnapshot(backends);
        var reversed = new PoolSnapshot(backends.Reverse());
        Assert.Multiple(() =>
        {
            Assert.That(pool.Backends.Select(b => b.Id), Is.EqualTo(new[] { "a", "b", "c" }));
            Assert.That(reversed.Backends, Is.EqualTo(pool.Backends));
            Assert.That(pool.IndexOf("b"), Is.EqualTo(1));
            Assert.That(pool.IndexOf("z"), Is.EqualTo(-1));
        });
    }

    [Test]
    public void Effective_weight_follows_health_weight_and_load()
    {
        var pool = new PoolSnapshot([
            new Backend("a", 4),
            new Backend("b", 4, overload: 0.5),
            new Backend("c", 4, overload: 1),
            new Backend("d", 4, healthy: false),
            new Backend("e", 0),
        ]);
        Assert.Multiple(() =>
        {
            Assert.That(pool.EffectiveWeight(0), Is.EqualTo(4 * 256));
            Assert.That(pool.EffectiveWeight(1), Is.EqualTo(4 * 128));
            Assert.That(pool.EffectiveWeight(2), Is.Zero);
            Assert.That(pool.EffectiveWeight(3), Is.Zero);
            Assert.That(pool.EffectiveWeight(4), Is.Zero);
            Assert.That(pool.ParticipantCount, Is.EqualTo(2));
        });
    }

    [Test]
    public void When_every_usable_backend_is_saturated_configured_weights_apply()
    {
        var pool = new PoolSnapshot([
            new Backend("a", 1, overload: 1),
            new Backend("b", 3, overload: 1),
            new Backend("c", 5, healthy: false),
        ]);
        Assert.Multiple(() =>
        {
            Assert.That(pool.EffectiveWeight(0), Is.EqualTo(256));
            Assert.That(pool.EffectiveWeight(1), Is.EqualTo(3 * 256));
            Assert.That(pool.EffectiveWeight(2), Is.Zero);
        });
    }

    [Test]
    public void Overload_is_quantised_so_tiny_differences_do_not_change_the_weight()
    {
        Assert.That(LoadFeedback.EffectiveWeight(10, 0.3), Is.EqualTo(LoadFeedback.EffectiveWeight(10, 0.3000000001)));
    }
}
