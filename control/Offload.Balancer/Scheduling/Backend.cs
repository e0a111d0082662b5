namespace Offload.Balancer.Scheduling;

/// <summary>
/// One backend as the schedulers see it at one moment: its stable id, configured weight, health and the load
/// feedback from its agent. Immutable, so a <see cref="PoolSnapshot"/> built from it cannot change under a
/// table build; use <c>with</c> to derive the next state.
/// </summary>
public sealed record Backend
{
    /// <summary>The largest configured weight (LVS's range; GLBP's 1..254 fits inside it).</summary>
    public const int MaxWeight = 65_535;

    public Backend(string id, int weight = 1, bool healthy = true, double overload = 0)
    {
        Id = id;
        Weight = weight;
        Healthy = healthy;
        Overload = overload;
    }

    /// <summary>
    /// The name every gateway knows this backend by (for example "10.1.0.7:80" or a configured name). Maglev
    /// derives the backend's slot preferences from it, so it must not change while the backend exists.
    /// </summary>
    public string Id
    {
        get;
        init
        {
            ArgumentException.ThrowIfNullOrEmpty(value, nameof(Id));
            field = value;
        }
    }

    /// <summary>0..<see cref="MaxWeight"/>; 0 keeps the backend configured but gives it no new flows (draining).</summary>
    public int Weight
    {
        get;
        init
        {
            ArgumentOutOfRangeException.ThrowIfNegative(value, nameof(Weight));
            ArgumentOutOfRangeException.ThrowIfGreaterThan(value, MaxWeight, nameof(Weight));
            field = value;
        }
    }

    public bool Healthy { get; init; }

    /// <summary>
    /// Load feedback, 0 (has headroom) .. 1 (saturated), as the health-and-load handler derives it from agent
    /// reports. See <see cref="LoadFeedback"/> for how it lowers the effective weight.
    /// </summary>
    public double Overload
    {
        get;
        init
        {
            // Written so that NaN fails too.
            if (!(value >= 0 && value <= 1))
                throw new ArgumentOutOfRangeException(nameof(Overload), value, "overload must be within 0..1");
            field = value;
        }
    }

    /// <summary>Weight after load feedback, before the pool-wide all-overloaded fallback (see <see cref="PoolSnapshot"/>).</summary>
    public long EffectiveWeight => Healthy ? LoadFeedback.EffectiveWeight(Weight, Overload) : 0;
}
