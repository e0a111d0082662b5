namespace Offload.Balancer.Scheduling;

/// <summary>
/// A weighted Maglev lookup table (Eisenbud et al., "Maglev: A Fast and Reliable Software Network Load
/// Balancer", NSDI 2016, section 3.4) and the builder that fills it. The table and all build scratch arrays
/// are reused across builds: after the first build at a given pool size, <see cref="Build"/> allocates nothing.
/// </summary>
/// <remarks>
/// <para>Population, as built here. M is the (prime) table size and the participants are the pool's backends
/// with effective weight w &gt; 0, in canonical (ordinal id) order. For each participant,
/// offset = h1(id) mod M and skip = h2(id) mod (M − 1) + 1, with h1, h2 the id hashed under two different seeds;
/// its preference list is offset, offset + skip, offset + 2·skip, ... (mod M), which visits every slot once
/// because M is prime. The paper's algorithm lets every backend claim its next preferred empty slot once per
/// round until the table is full.</para>
/// <para>Weighting: with W = the largest participant weight, each participant keeps an integer credit that
/// starts at ⌊W/2⌋. In every round each participant, in canonical order, adds its weight to its credit; if the
/// credit reaches W it claims its next preferred empty slot and pays W. A backend of weight w thus claims on
/// round(r·w/W) of the first r rounds (a Bresenham line), so slot shares follow weights to within a slot or
/// two; the heaviest backends claim every round, and with equal weights every backend claims every round,
/// which is exactly the paper's algorithm. Because only the pace changes and every backend still walks its
/// own fixed preference list, the paper's low-disruption argument holds: when a backend leaves, the others
/// keep claiming the same slots in nearly the same order, and mostly the departed backend's slots move.</para>
/// <para>Integer arithmetic and a canonical order make the table a pure function of (M, ids, effective weights):
/// every gateway and every run build the same bits.</para>
/// </remarks>
public sealed class MaglevTable
{
    /// <summary>The paper's small table size: prime, and at least 100 × N for N ≤ 655 backends.</summary>
    public const int DefaultSize = 65_537;

    private readonly int[] _entries;

    // Build scratch, one element per participating backend; grown, never shrunk.
    private int[] _member = [];
    private long[] _weight = [];
    private long[] _credit = [];
    private uint[] _next = [];
    private uint[] _skip = [];

    public MaglevTable(int size = DefaultSize)
    {
        if (size < 2 || !IsPrime(size))
            throw new ArgumentOutOfRangeException(nameof(size), size,
                "a Maglev table size must be a prime (65537 is the usual choice); otherwise a backend's skip can share a factor with it and its preference list stops short of the whole table");
        Size = size;
        _entries = new int[size];
        _entries.AsSpan().Fill(IBackendScheduler.None);
    }

    /// <summary>M: the number of slots.</summary>
    public int Size { get; }

    /// <summary>Slot → backend index into the pool last built from, or <see cref="IBackendScheduler.None"/> if nobody can take flows.</summary>
    public ReadOnlySpan<int> Entries => _entries;

    /// <summary>The backend for a 64-bit key hash: hash mod M.</summary>
    public int Lookup(ulong hash) => _entries[(int)(hash % (uint)Size)];

    /// <summary>Refills the table from the pool's participants (healthy, effective weight &gt; 0).</summary>
    public void Build(PoolSnapshot pool)
    {
        ArgumentNullException.ThrowIfNull(pool);
        if (pool.Count + 1 > Size)
        {
            throw new ArgumentException(
                $"a Maglev table of {Size} slots cannot hold {pool.Count} backends: the size must be at least 1 + the number of backends, and about 100 × that for even shares",
                nameof(pool));
        }

        EnsureScratch(pool.Count);
        uint m = (uint)Size;
        int n = 0;
        long maxWeight = 0;
        for (int i = 0; i < pool.Count; i++)
        {
            long w = pool.EffectiveWeight(i);
            if (w <= 0)
                continue;
            _member[n] = i;
            _weight[n] = w;
            _next[n] = (uint)(pool.OffsetHash(i) % m);
            _skip[n] = (uint)(pool.SkipHash(i) % (m - 1)) + 1;
            maxWeight = Math.Max(maxWeight, w);
            n++;
        }

        Span<int> table = _entries;
        table.Fill(IBackendScheduler.None);
        if (n == 0)
            return;

        Span<int> member = _member.AsSpan(0, n);
        Span<long> weight = _weight.AsSpan(0, n);
        Span<long> credit = _credit.AsSpan(0, n);
        Span<uint> next = _next.AsSpan(0, n);
        Span<uint> skip = _skip.AsSpan(0, n);
        credit.Fill(maxWeight / 2);

        int filled = 0;
        while (true)
        {
            for (int j = 0; j < n; j++)
            {
                long c = credit[j] + weight[j];
                if (c < maxWeight)
                {
                    credit[j] = c;
                    continue;
                }
                credit[j] = c - maxWeight;

                // Walk the preference list past slots others already hold. p + s < 2M ≤ 2^32, so one
                // conditional subtract replaces a division per step.
                uint p = next[j];
                uint s = skip[j];
                while (table[(int)p] >= 0)
                {
                    p += s;
                    if (p >= m)
                        p -= m;
                }
                table[(int)p] = member[j];
                p += s;
                if (p >= m)
                    p -= m;
                next[j] = p;

                if (++filled == table.Length)
                    return;
            }
        }
    }

    /// <summary>Slots held by each backend index of <paramref name="pool"/> (for tests, benchmarks and the CLI).</summary>
    public int[] CountSlots(PoolSnapshot pool)
    {
        ArgumentNullException.ThrowIfNull(pool);
        int[] counts = new int[pool.Count];
        foreach (int e in _entries)
        {
            if (e >= 0)
                counts[e]++;
        }
        return counts;
    }

    /// <summary>Deterministic trial division; table sizes are at most 2^31 − 1, so this is at most ~23,000 steps.</summary>
    public static bool IsPrime(long value)
    {
        if (value < 2)
            return false;
        if (value % 2 == 0)
            return value == 2;
        for (long d = 3; d * d <= value; d += 2)
        {
            if (value % d == 0)
                return false;
        }
        return true;
    }

    private void EnsureScratch(int count)
    {
        if (_member.Length >= count)
            return;
        _member = new int[count];
        _weight = new long[count];
        _credit = new long[count];
        _next = new uint[count];
        _skip = new uint[count];
    }
}
