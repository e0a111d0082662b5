using System.Globalization;
using Offload.Balancer.Hashing;
using Offload.Balancer.Scheduling;
using Offload.Benchmarks.Balancer;

namespace Offload.Balancer.Tests;

public class MaglevTableTests
{
    [TestCase(0)]
    [TestCase(1)]
    [TestCase(4)]
    [TestCase(65536)]
    [TestCase(65535)]
    [TestCase(-7)]
    public void Non_prime_sizes_are_rejected(int size)
    {
        var ex = Assert.Throws<ArgumentOutOfRangeException>(() => _ = new MaglevTable(size));
        Assert.That(ex!.Message, Does.Contain("prime"));
    }

    [Test]
    public void A_table_smaller_than_one_plus_the_backends_is_rejected()
    {
        var table = new MaglevTable(5);
        Assert.DoesNotThrow(() => table.Build(Pools.Equal(4)));
        var ex = Assert.Throws<ArgumentException>(() => table.Build(Pools.Equal(5)));
        Assert.That(ex!.Message, Does.Contain("at least 1 + the number of backends"));
    }

    [Test]
    public void Sizes_are_checked_against_all_backends_not_only_healthy_ones()
    {
        // Otherwise a backend turning healthy could make a working configuration throw.
        var pool = new PoolSnapshot(Enumerable.Range(0, 5).Select(i => new Backend(Pools.Id(i), healthy: i == 0)));
        Assert.Throws<ArgumentException>(() => new MaglevTable(5).Build(pool));
    }

    [Test]
    public void Same_pool_gives_a_bit_identical_table_in_any_order_and_any_instance()
    {
        Backend[] backends = [.. Enumerable.Range(0, 300).Select(i => new Backend(Pools.Id(i), 1 + i % 7, healthy: i % 11 != 0))];
        var a = new MaglevTable();
        a.Build(new PoolSnapshot(backends));
        var b = new MaglevTable();
        b.Build(new PoolSnapshot(backends.Reverse()));
        var shuffled = backends.ToArray();
        new Random(5).Shuffle(shuffled);
        b.Build(Pools.Equal(10)); // dirty b's reused arrays first
        b.Build(new PoolSnapshot(shuffled));
        Assert.That(b.Entries.SequenceEqual(a.Entries), Is.True);
    }

    // A fingerprint of one table, computed once and pinned: catches any change to hashing or population that
    // would make a new version disagree with gateways still running the old one.
    [Test]
    public void Table_fingerprint_is_pinned_across_runs_and_versions()
    {
        var table = new MaglevTable();
        table.Build(Pools.Weighted(1, 2, 3, 4, 5, 6, 7, 8, 9, 10));
        Assert.That(Fingerprint(table.Entries).ToString("x16", CultureInfo.InvariantCulture), Is.EqualTo(GoldenFingerprint));
    }

    private const string GoldenFingerprint = "82c3bf9dd97fc6a5";

    [TestCase(1)]
    [TestCase(2)]
    [TestCase(3)]
    [TestCase(7)]
    [TestCase(10)]
    [TestCase(64)]
    [TestCase(100)]
    [TestCase(257)]
    [TestCase(500)]
    [TestCase(650)]
    public void Equal_weights_balance_within_one_percent(int n)
    {
        var table = new MaglevTable();
        PoolSnapshot pool = Pools.Equal(n);
        table.Build(pool);
        int[] counts = table.CountSlots(pool);
        Assert.Multiple(() =>
        {
            Assert.That(counts.Sum(), Is.EqualTo(MaglevTable.DefaultSize));
            Assert.That(counts.Max() / (MaglevTable.DefaultSize / (double)n), Is.LessThanOrEqualTo(1.01));
        });
    }

    [TestCase(2)]
    [TestCase(3)]
    [TestCase(5)]
    [TestCase(10)]
    [TestCase(50)]
    [TestCase(100)]
    [TestCase(300)]
    [TestCase(650)]
    [TestCase(1000)]
    public void Removing_one_backend_moves_at_most_one_nth_plus_one_percent(int n)
    {
        PoolSnapshot pool = Pools.Equal(n);
        var before = new MaglevTable();
        before.Build(pool);
        for (int gone = 0; gone < n; gone += Math.Max(1, n / 5))
        {
            int g = gone;
            var smaller = new PoolSnapshot(pool.Backends.Where((_, i) => i != g));
            var after = new MaglevTable();
            after.Build(smaller);
            double changed = MaglevBench.ChangedFraction(pool, before.Entries, smaller, after.Entries);
            Assert.That(changed, Is.LessThanOrEqualTo(1.0 / n + 0.01), $"removing backend {g} of {n}");
        }
    }

    // Plain Maglev (which this is, at equal weights) does not guarantee the 1/N + 1% bound: at M = 65537 the
    // extra movement from slot contention peaks around N = 400..500, where 12 of the 400 single removals
    // exceed it by up to 0.013 points. Pinned here so a regression shows, and so the remedy (a larger prime
    // M, keeping M ≥ ~300·N) stays proven.
    [TestCase(MaglevTable.DefaultSize, 0.011)]
    [TestCase(131_071, 0.01)]
    public void Every_single_removal_from_400_backends_stays_near_one_nth(int size, double excess)
    {
        const int N = 400;
        PoolSnapshot pool = Pools.Equal(N);
        var before = new MaglevTable(size);
        before.Build(pool);
        var after = new MaglevTable(size);
        double worst = 0;
        for (int g = 0; g < N; g++)
        {
            var smaller = new PoolSnapshot(pool.Backends.Where((_, i) => i != g));
            after.Build(smaller);
            worst = Math.Max(worst, MaglevBench.ChangedFraction(pool, before.Entries, smaller, after.Entries));
        }
        TestContext.Out.WriteLine($"M={size} N={N}: worst removal moved {worst:P3} (1/N = {1.0 / N:P3})");
        Assert.That(worst, Is.LessThanOrEqualTo(1.0 / N + excess));
    }

    [TestCase(10)]
    [TestCase(100)]
    [TestCase(650)]
    public void Removing_one_backend_moves_about_that_share_of_flows(int n)
    {
        PoolSnapshot pool = Pools.Equal(n);
        var before = new MaglevScheduler();
        before.Rebuild(pool);
        var smaller = new PoolSnapshot(pool.Backends.Skip(1));
        var after = new MaglevScheduler();
        after.Rebuild(smaller);
        var flows = Pools.Flows(200_000);
        int moved = flows.Count(k => pool[before.Pick(k)].Id != smaller[after.Pick(k)].Id);
        // Keys see the slot fraction plus sampling noise (sd of a 1/n proportion over 200k keys).
        Assert.That(moved / (double)flows.Length, Is.LessThanOrEqualTo(1.0 / n + 0.01 + 3 * Math.Sqrt(1.0 / n / flows.Length)));
    }

    [Test]
    public void Adding_one_backend_moves_little_more_than_its_share()
    {
        PoolSnapshot pool = Pools.Equal(100);
        var before = new MaglevTable();
        before.Build(pool);
        var larger = new PoolSnapshot(pool.Backends.Append(new Backend("newcomer")));
        var after = new MaglevTable();
        after.Build(larger);
        Assert.That(MaglevBench.ChangedFraction(pool, before.Entries, larger, after.Entries), Is.LessThanOrEqualTo(1.0 / 101 + 0.01));
    }

    [TestCase(new[] { 1, 2, 3, 4 })]
    [TestCase(new[] { 1, 1, 1, 10 })]
    [TestCase(new[] { 100, 1 })]
    [TestCase(new[] { 254, 128, 64, 32, 16, 8, 4, 2, 1 })]
    [TestCase(new[] { 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 5 })]
    public void Slot_shares_follow_weights(int[] weights)
    {
        PoolSnapshot pool = Pools.Weighted(weights);
        var table = new MaglevTable();
        table.Build(pool);
        int[] counts = table.CountSlots(pool);
        double total = weights.Sum();
        Assert.Multiple(() =>
        {
            for (int i = 0; i < weights.Length; i++)
            {
                int idx = pool.IndexOf(Pools.Id(i));
                double ideal = MaglevTable.DefaultSize * weights[i] / total;
                // Relative error under 1%, or under three slots for tiny shares.
                Assert.That(Math.Abs(counts[idx] - ideal), Is.LessThanOrEqualTo(Math.Max(3, ideal * 0.01)), $"weight {weights[i]}");
            }
        });
    }

    [Test]
    public void Load_feedback_lowers_a_share_in_proportion()
    {
        PoolSnapshot pool = new([new Backend("a"), new Backend("b", overload: 0.5)]);
        var table = new MaglevTable();
        table.Build(pool);
        int[] counts = table.CountSlots(pool);
        Assert.That(counts[1] / (double)counts[0], Is.EqualTo(0.5).Within(0.005));
    }

    [Test]
    public void Unhealthy_and_zero_weight_backends_hold_no_slot()
    {
        var pool = new PoolSnapshot([
            new Backend("a", 2),
            new Backend("b", 0),
            new Backend("c", 5, healthy: false),
            new Backend("d", 1),
            new Backend("e", 3, overload: 1),
        ]);
        var table = new MaglevTable(1009);
        table.Build(pool);
        int[] counts = table.CountSlots(pool);
        Assert.Multiple(() =>
        {
            Assert.That(counts[1], Is.Zero);
            Assert.That(counts[2], Is.Zero);
            Assert.That(counts[4], Is.Zero);
            Assert.That(counts[0] + counts[3], Is.EqualTo(1009));
        });
    }

    [Test]
    public void A_pool_with_no_usable_backend_gives_an_empty_table()
    {
        var table = new MaglevTable(7);
        table.Build(Pools.Equal(3));
        table.Build(new PoolSnapshot([new Backend("a", healthy: false), new Backend("b", 0)]));
        Assert.That(table.Entries.ToArray(), Is.All.EqualTo(IBackendScheduler.None));
    }

    [Test]
    public void Smallest_legal_table_still_fills_every_slot()
    {
        var table = new MaglevTable(2);
        PoolSnapshot pool = Pools.Equal(1);
        table.Build(pool);
        Assert.That(table.Entries.ToArray(), Is.EqualTo(new[] { 0, 0 }));
        var three = new MaglevTable(5);
        three.Build(Pools.Equal(4));
        Assert.That(three.CountSlots(Pools.Equal(4)), Is.All.InRange(1, 2));
    }

    [Test]
    public void Rebuilding_the_same_size_pool_allocates_nothing()
    {
        var table = new MaglevTable();
        PoolSnapshot pool = Pools.Equal(1000);
        PoolSnapshot other = Pools.Weighted([.. Enumerable.Range(1, 1000)]);
        table.Build(pool);
        long before = GC.GetAllocatedBytesForCurrentThread();
        table.Build(other);
        table.Build(pool);
        long after = GC.GetAllocatedBytesForCurrentThread();
        Assert.That(after - before, Is.Zero);
    }

    [Test]
    public void IsPrime_agrees_with_a_sieve()
    {
        const int Limit = 20_000;
        bool[] composite = new bool[Limit];
        for (int i = 2; i * i < Limit; i++)
        {
            if (!composite[i])
            {
                for (int j = i * i; j < Limit; j += i)
                    composite[j] = true;
            }
        }
        for (int v = 0; v < Limit; v++)
            Assert.That(MaglevTable.IsPrime(v), Is.EqualTo(v >= 2 && !composite[v]), v.ToString(CultureInfo.InvariantCulture));
        Assert.That(MaglevTable.IsPrime(2_147_483_647), Is.True);
    }

    [Test]
    public void Figures_for_the_record()
    {
        // Prints only: timing depends on the machine, the quality figures are asserted elsewhere.
        foreach (MaglevFigures f in MaglevBench.Measure(repeats: 5))
            TestContext.Out.WriteLine(f);
        Assert.Pass();
    }

    internal static ulong Fingerprint(ReadOnlySpan<int> entries)
    {
        ulong h = 0;
        foreach (int e in entries)
            h = StableHash.Mix(h ^ (uint)e);
        return h;
    }
}
