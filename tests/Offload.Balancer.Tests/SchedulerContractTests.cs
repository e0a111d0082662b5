using Offload.Balancer.Scheduling;
using Offload.Device;

namespace Offload.Balancer.Tests;

/// <summary>What every <see cref="IBackendScheduler"/> promises, run against each implementation.</summary>
[TestFixtureSource(nameof(Factories))]
public class SchedulerContractTests(string name, Func<IBackendScheduler> create)
{
    public static IEnumerable<TestFixtureData> Factories()
    {
        yield return new TestFixtureData("maglev", (Func<IBackendScheduler>)(() => new MaglevScheduler())).SetArgDisplayNames("maglev");
        yield return new TestFixtureData("source-hash", (Func<IBackendScheduler>)(() => new SourceHashScheduler())).SetArgDisplayNames("source-hash");
        yield return new TestFixtureData("round-robin", (Func<IBackendScheduler>)(() => new RoundRobinScheduler())).SetArgDisplayNames("round-robin");
        yield return new TestFixtureData("least-connections", (Func<IBackendScheduler>)(() => new LeastConnectionsScheduler())).SetArgDisplayNames("least-connections");
    }

    private static readonly FlowKey[] Flows = Pools.Flows(20_000);

    [Test]
    public void Has_its_name()
    {
        Assert.That(create().Name, Is.EqualTo(name));
    }

    [Test]
    public void Picks_nothing_before_the_first_rebuild()
    {
        IBackendScheduler s = create();
        Assert.Multiple(() =>
        {
            Assert.That(s.Pool, Is.Null);
            Assert.That(s.Pick(Flows[0]), Is.EqualTo(IBackendScheduler.None));
        });
    }

    [Test]
    public void Rebuild_rejects_null()
    {
        Assert.Throws<ArgumentNullException>(() => create().Rebuild(null!));
    }

    [Test]
    public void Never_picks_an_unhealthy_zero_weight_or_saturated_backend()
    {
        IBackendScheduler s = create();
        var pool = new PoolSnapshot([
            new Backend("a", 3),
            new Backend("b", 0),
            new Backend("c", 9, healthy: false),
            new Backend("d", 1),
            new Backend("e", 4, overload: 1),
        ]);
        s.Rebuild(pool);
        Assert.That(s.Pool, Is.SameAs(pool));
        var seen = new HashSet<int>();
        foreach (FlowKey k in Flows)
        {
            int b = s.Pick(k);
            seen.Add(b);
            if (s is LeastConnectionsScheduler lc)
                lc.OnOpened(b);
        }
        Assert.That(seen, Is.EquivalentTo(new[] { 0, 3 }));
    }

    [Test]
    public void Picks_nothing_when_no_backend_is_usable()
    {
        IBackendScheduler s = create();
        s.Rebuild(new PoolSnapshot([new Backend("a", healthy: false), new Backend("b", 0)]));
        Assert.That(Flows.Take(100).Select(k => s.Pick(k)), Is.All.EqualTo(IBackendScheduler.None));
    }

    [Test]
    public void Spreads_flows_by_weight()
    {
        IBackendScheduler s = create();
        PoolSnapshot pool = Pools.Weighted(1, 2, 3, 4);
        s.Rebuild(pool);
        int[] hits = new int[pool.Count];
        foreach (FlowKey k in Flows)
        {
            int b = s.Pick(k);
            hits[b]++;
            if (s is LeastConnectionsScheduler lc)
                lc.OnOpened(b);
        }
        Assert.Multiple(() =>
        {
            for (int i = 0; i < 4; i++)
            {
                double expected = (i + 1) / 10.0;
                double got = hits[pool.IndexOf(Pools.Id(i))] / (double)Flows.Length;
                // Hash-based policies see sampling noise over 20k flows (< 0.011 at 4 sd); the others are exact.
                Assert.That(got, Is.EqualTo(expected).Within(0.011), $"weight {i + 1}");
            }
        });
    }

    [Test]
    public void Follows_a_rebuild_that_removes_a_backend()
    {
        IBackendScheduler s = create();
        s.Rebuild(Pools.Equal(3));
        s.Rebuild(Pools.Equal(2));
        Assert.That(Flows.Take(2000).Select(k => s.Pick(k)), Is.All.InRange(0, 1));
    }
}

public class SchedulerBehaviourTests
{
    private static readonly FlowKey Key = new(0, 0x0A00_0001, 0xC0A8_0064, 6, 40000, 80);

    [Test]
    public void Maglev_gateways_with_the_same_pool_agree_on_every_flow()
    {
        var a = new MaglevScheduler();
        var b = new MaglevScheduler();
        a.Rebuild(Pools.Equal(50));
        b.Rebuild(new PoolSnapshot(Pools.Equal(50).Backends.Reverse()));
        Assert.That(Pools.Flows(5000).All(k => a.Pick(k) == b.Pick(k)), Is.True);
    }

    [Test]
    public void Maglev_seed_changes_the_mapping()
    {
        var a = new MaglevScheduler(seed: 1);
        var b = new MaglevScheduler(seed: 2);
        a.Rebuild(Pools.Equal(50));
        b.Rebuild(Pools.Equal(50));
        Assert.That(Pools.Flows(5000).Count(k => a.Pick(k) != b.Pick(k)), Is.GreaterThan(4000));
    }

    [Test]
    public void Maglev_pick_allocates_nothing()
    {
        var s = new MaglevScheduler();
        s.Rebuild(Pools.Equal(100));
        s.Pick(Key);
        long before = GC.GetAllocatedBytesForCurrentThread();
        int sum = 0;
        for (int i = 0; i < 10_000; i++)
            sum += s.Pick(Key with { SrcPort = (ushort)i });
        Assert.That(GC.GetAllocatedBytesForCurrentThread() - before, Is.Zero, sum.ToString(System.Globalization.CultureInfo.InvariantCulture));
    }

    [Test]
    public void Source_hash_keeps_a_client_on_one_backend_across_ports_and_destinations()
    {
        var s = new SourceHashScheduler();
        s.Rebuild(Pools.Equal(20));
        int first = s.Pick(Key);
        for (int i = 0; i < 1000; i++)
            Assert.That(s.Pick(Key with { SrcPort = (ushort)(1024 + i), DstPort = (ushort)i, DstIp = (uint)i, Protocol = 17 }), Is.EqualTo(first));
    }

    [Test]
    public void Source_hash_spreads_clients_and_moves_few_when_a_backend_leaves()
    {
        PoolSnapshot pool = Pools.Equal(20);
        var s = new SourceHashScheduler();
        s.Rebuild(pool);
        var clients = Enumerable.Range(0, 40_000).Select(i => Key with { SrcIp = 0x0A00_0000u + (uint)i }).ToArray();
        int[] before = [.. clients.Select(k => s.Pick(k))];
        Assert.That(before.GroupBy(b => b).Select(g => g.Count() / 2000.0), Is.All.InRange(0.9, 1.1));

        PoolSnapshot smaller = new(pool.Backends.Skip(1));
        s.Rebuild(smaller);
        int moved = clients.Where((k, i) => pool[before[i]].Id != smaller[s.Pick(k)].Id).Count();
        Assert.That(moved / 40_000.0, Is.LessThanOrEqualTo(1.0 / 20 + 0.015));
    }

    [Test]
    public void Round_robin_is_smooth()
    {
        var s = new RoundRobinScheduler();
        s.Rebuild(new PoolSnapshot([new Backend("a", 5), new Backend("b", 1), new Backend("c", 1)]));
        string order = string.Concat(Enumerable.Range(0, 14).Select(_ => "abc"[s.Pick(Key)]));
        Assert.That(order, Is.EqualTo("aabacaaaabacaa"));
    }

    [Test]
    public void Round_robin_equal_weights_take_turns()
    {
        var s = new RoundRobinScheduler();
        s.Rebuild(Pools.Equal(3));
        Assert.That(Enumerable.Range(0, 6).Select(_ => s.Pick(Key)), Is.EqualTo(new[] { 0, 1, 2, 0, 1, 2 }));
    }

    [Test]
    public void Least_connections_prefers_the_least_loaded_per_weight()
    {
        var s = new LeastConnectionsScheduler();
        s.Rebuild(new PoolSnapshot([new Backend("a", 1), new Backend("b", 3)]));
        s.SetCount(0, 2); // (2+1)/1 = 3
        s.SetCount(1, 6); // (6+1)/3 = 2.33
        Assert.That(s.Pick(Key), Is.EqualTo(1));
        s.SetCount(1, 9); // 10/3 = 3.33
        Assert.That(s.Pick(Key), Is.EqualTo(0));
    }

    [Test]
    public void Least_connections_spreads_ties_instead_of_piling_on_one()
    {
        var s = new LeastConnectionsScheduler();
        s.Rebuild(Pools.Equal(4));
        Assert.That(Enumerable.Range(0, 8).Select(_ => s.Pick(Key)), Is.EqualTo(new[] { 0, 1, 2, 3, 0, 1, 2, 3 }));
    }

    [Test]
    public void Least_connections_counts_follow_backends_by_id_across_rebuilds()
    {
        var s = new LeastConnectionsScheduler();
        s.Rebuild(new PoolSnapshot([new Backend("b"), new Backend("c")]));
        s.SetCount(0, 7);
        s.OnOpened(1);
        s.OnOpened(1);
        s.OnClosed(1);
        s.Rebuild(new PoolSnapshot([new Backend("a"), new Backend("b"), new Backend("c")]));
        Assert.Multiple(() =>
        {
            Assert.That(s.Count(0), Is.Zero);
            Assert.That(s.Count(1), Is.EqualTo(7));
            Assert.That(s.Count(2), Is.EqualTo(1));
        });
    }

    [Test]
    public void Least_connections_rejects_bad_indices_and_never_goes_negative()
    {
        var s = new LeastConnectionsScheduler();
        Assert.Throws<InvalidOperationException>(() => s.OnOpened(0));
        s.Rebuild(Pools.Equal(2));
        s.OnClosed(0);
        Assert.Multiple(() =>
        {
            Assert.That(s.Count(0), Is.Zero);
            Assert.Throws<ArgumentOutOfRangeException>(() => s.OnOpened(2));
            Assert.Throws<ArgumentOutOfRangeException>(() => s.SetCount(0, -1));
        });
    }
}
