using System.Diagnostics;
using System.Globalization;
using Offload.Balancer;
using Offload.Balancer.Scheduling;

namespace Offload.Benchmarks.Balancer;

/// <summary>One Maglev measurement: build time and the paper's two quality figures for one pool size.</summary>
/// <param name="BuildMsMedian">Median wall time of one <see cref="MaglevTable.Build"/> on reused arrays (warm JIT).</param>
/// <param name="BuildMsMin">Fastest of the timed builds.</param>
/// <param name="MaxOverMean">Largest slot share over the mean share (the paper's balance figure; 1 is perfect).</param>
/// <param name="RemovalDisruption">Fraction of slots whose backend changed when one backend left (1/N is the floor).</param>
/// <param name="AdditionDisruption">Fraction of slots whose backend changed when one backend joined (1/(N+1) is the floor).</param>
public sealed record MaglevFigures(
    int TableSize,
    int Backends,
    double BuildMsMedian,
    double BuildMsMin,
    double MaxOverMean,
    double RemovalDisruption,
    double AdditionDisruption)
{
    public override string ToString() => string.Create(CultureInfo.InvariantCulture,
        $"M={TableSize} N={Backends}: build {BuildMsMedian:F2} ms median ({BuildMsMin:F2} min), max/mean {MaxOverMean:F4}, " +
        $"disruption remove-one {RemovalDisruption:P3} (1/N {1.0 / Backends:P3}), add-one {AdditionDisruption:P3}");
}

/// <summary>
/// Figures for the Maglev table, for the CLI's bench command and for reports. Equal weights, ids
/// "backend-0000".."backend-NNNN". Timing is whatever this machine gives; tests only print it.
/// </summary>
public static class MaglevBench
{
    public static IReadOnlyList<MaglevFigures> Measure(int tableSize = MaglevTable.DefaultSize, int repeats = 15) =>
        [Measure(100, tableSize, repeats), Measure(1000, tableSize, repeats)];

    public static MaglevFigures Measure(int backends, int tableSize, int repeats)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(backends, 2);
        ArgumentOutOfRangeException.ThrowIfLessThan(repeats, 1);
        PoolSnapshot pool = EqualPool(backends);
        var table = new MaglevTable(tableSize);

        table.Build(pool); // JIT and scratch arrays
        double[] ms = new double[repeats];
        for (int r = 0; r < repeats; r++)
        {
            long t0 = Stopwatch.GetTimestamp();
            table.Build(pool);
            ms[r] = Stopwatch.GetElapsedTime(t0).TotalMilliseconds;
        }
        Array.Sort(ms);

        int[] counts = table.CountSlots(pool);
        double maxOverMean = counts.Max() / ((double)tableSize / backends);
        int[] before = table.Entries.ToArray();

        // Remove the middle backend; compare by id, since indices above it shift down by one.
        PoolSnapshot smaller = new(pool.Backends.Where((_, i) => i != backends / 2));
        var other = new MaglevTable(tableSize);
        other.Build(smaller);
        double removal = ChangedFraction(pool, before, smaller, other.Entries);

        PoolSnapshot larger = new(pool.Backends.Append(new Backend("backend-joiner")));
        other.Build(larger);
        double addition = ChangedFraction(pool, before, larger, other.Entries);

        return new MaglevFigures(tableSize, backends, ms[repeats / 2], ms[0], maxOverMean, removal, addition);
    }

    /// <summary>Fraction of slots whose backend (by id) differs between two tables of the same size.</summary>
    public static double ChangedFraction(PoolSnapshot fromPool, ReadOnlySpan<int> from, PoolSnapshot toPool, ReadOnlySpan<int> to)
    {
        ArgumentNullException.ThrowIfNull(fromPool);
        ArgumentNullException.ThrowIfNull(toPool);
        if (from.Length != to.Length)
            throw new ArgumentException("tables differ in size", nameof(to));
        int[] map = new int[fromPool.Count];
        for (int i = 0; i < map.Length; i++)
            map[i] = toPool.IndexOf(fromPool[i].Id);
        int changed = 0;
        for (int s = 0; s < from.Length; s++)
        {
            int expected = from[s] >= 0 ? map[from[s]] : IBackendScheduler.None;
            if (to[s] != expected)
                changed++;
        }
        return (double)changed / from.Length;
    }

    public static PoolSnapshot EqualPool(int backends) =>
        new(Enumerable.Range(0, backends).Select(i => new Backend(string.Create(CultureInfo.InvariantCulture, $"backend-{i:D4}"))));
}
