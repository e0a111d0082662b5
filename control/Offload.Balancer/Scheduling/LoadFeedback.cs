namespace Offload.Balancer.Scheduling;

/// <summary>
/// How load feedback turns into weight. The effective weight is
/// <c>weight × (256 − round(overload × 256))</c>: linear in the headroom a backend reports, so a backend at
/// overload 0.5 gets half its configured share of new flows and one at overload 1 gets none.
/// </summary>
/// <remarks>
/// The overload factor is quantised to 1/256 steps because every gateway must build a bit-identical table
/// from the same pool: gateways receive the same agent reports, and the quantisation keeps last-digit
/// differences in how a report was turned into a double from changing the table. Multiplying every weight by
/// the same 256 keeps the configured ratios exact when nobody is overloaded. Damping and hysteresis (so a
/// backend hovering near a step does not rebuild the table on every report) are the load handler's job.
/// </remarks>
public static class LoadFeedback
{
    public const int Steps = 256;

    public static int Quantize(double overload)
    {
        if (!(overload >= 0 && overload <= 1))
            throw new ArgumentOutOfRangeException(nameof(overload), overload, "overload must be within 0..1");
        return (int)Math.Round(overload * Steps, MidpointRounding.ToEven);
    }

    public static long EffectiveWeight(int weight, double overload)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(weight);
        return (long)weight * (Steps - Quantize(overload));
    }
}
