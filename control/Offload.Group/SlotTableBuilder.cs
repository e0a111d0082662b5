namespace Offload.Group;

/// <summary>
/// Builds the ARP responder's slot table: <see cref="SlotCount"/> forwarder numbers, answered in turn
/// (round-robin over slots is weighted selection) or indexed by a hash of the requester's MAC (host-dependent).
/// Shares are apportioned by largest remainder, every listed forwarder with a positive weight gets at least one
/// slot, and slots are interleaved (smooth weighted round-robin) so consecutive requests alternate between
/// forwarders instead of draining one forwarder's run. Deterministic: the same input always gives the same
/// bytes, so two AVGs write the same table and a rewrite with unchanged input is a no-op. No allocation.
/// </summary>
public static class SlotTableBuilder
{
    public const int SlotCount = 256;

    /// <summary>
    /// Fills <paramref name="slots"/> (at least <see cref="SlotCount"/> bytes) from forwarder numbers and weights;
    /// returns the slot count written, 0 when no forwarder has a positive weight.
    /// </summary>
    public static int Build(ReadOnlySpan<byte> forwarders, ReadOnlySpan<double> weights, Span<byte> slots)
    {
        if (forwarders.Length != weights.Length)
            throw new ArgumentException("one weight per forwarder", nameof(weights));
        ArgumentOutOfRangeException.ThrowIfGreaterThan(forwarders.Length, SlotCount, nameof(forwarders));
        ArgumentOutOfRangeException.ThrowIfLessThan(slots.Length, SlotCount, nameof(slots));

        int n = forwarders.Length;
        double total = 0;
        int positive = 0;
        foreach (double w in weights)
        {
            if (double.IsNaN(w) || w < 0)
                throw new ArgumentOutOfRangeException(nameof(weights), "weights must be non-negative numbers");
            if (w > 0)
            {
                total += w;
                positive++;
            }
        }
        if (positive == 0 || double.IsInfinity(total))
            return 0;

        Span<int> counts = stackalloc int[n];
        Span<double> remainders = stackalloc double[n];
        int assigned = 0;
        for (int i = 0; i < n; i++)
        {
            if (weights[i] <= 0)
                continue;
            double quota = weights[i] / total * SlotCount;
            int floor = (int)Math.Floor(quota);
            counts[i] = Math.Max(floor, 1);
            remainders[i] = quota - floor;
            assigned += counts[i];
        }
        // Largest remainder gives the spare slots; the "at least one" rule can overshoot instead, and then the
        // largest shares give back, never below one.
        while (assigned < SlotCount)
        {
            int best = ArgMax(remainders, counts);
            counts[best]++;
            remainders[best] = -1;
            assigned++;
        }
        while (assigned > SlotCount)
        {
            int best = -1;
            for (int i = 0; i < n; i++)
            {
                if (counts[i] > 1 && (best < 0 || counts[i] > counts[best]))
                    best = i;
            }
            counts[best]--;
            assigned--;
        }

        Span<int> current = stackalloc int[n];
        current.Clear();
        for (int s = 0; s < SlotCount; s++)
        {
            int pick = -1;
            for (int i = 0; i < n; i++)
            {
                if (counts[i] == 0)
                    continue;
                current[i] += counts[i];
                if (pick < 0 || current[i] > current[pick])
                    pick = i;
            }
            current[pick] -= SlotCount;
            slots[s] = forwarders[pick];
        }
        return SlotCount;
    }

    /// <summary>Equal shares for every listed forwarder (round-robin and host-dependent).</summary>
    public static int BuildEqual(ReadOnlySpan<byte> forwarders, Span<byte> slots)
    {
        Span<double> weights = stackalloc double[forwarders.Length];
        weights.Fill(1);
        return Build(forwarders, weights, slots);
    }

    /// <summary>
    /// Load-based: each weight divided by its forwarder's load (any non-negative unit: connections, packets per
    /// second, utilisation). A load is floored at 1% of the mean so an idle forwarder does not take every slot,
    /// and when nobody reports load the table is plain weighted.
    /// </summary>
    public static int BuildLoadBased(ReadOnlySpan<byte> forwarders, ReadOnlySpan<double> weights, ReadOnlySpan<double> loads, Span<byte> slots)
    {
        if (loads.Length != forwarders.Length)
            throw new ArgumentException("one load per forwarder", nameof(loads));
        double sum = 0;
        foreach (double load in loads)
        {
            if (double.IsNaN(load) || load < 0)
                throw new ArgumentOutOfRangeException(nameof(loads), "loads must be non-negative numbers");
            sum += load;
        }
        if (sum <= 0 || forwarders.IsEmpty)
            return Build(forwarders, weights, slots);
        double floor = sum / forwarders.Length / 100;
        Span<double> scaled = stackalloc double[forwarders.Length];
        for (int i = 0; i < forwarders.Length; i++)
            scaled[i] = weights[i] / Math.Max(loads[i], floor);
        return Build(forwarders, scaled, slots);
    }

    private static int ArgMax(ReadOnlySpan<double> values, ReadOnlySpan<int> counts)
    {
        int best = -1;
        for (int i = 0; i < values.Length; i++)
        {
            if (counts[i] == 0)
                continue;
            if (best < 0 || values[i] > values[best])
                best = i;
        }
        return best;
    }
}
