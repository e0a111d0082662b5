namespace Offload.Group;

/// <summary>
/// A gateway's weighting: a configured maximum (1–254) less the decrement of every tracked object that is
/// down, with hysteresis: forwarding stops when the weighting falls below the lower threshold and resumes
/// only once it is back at or above the upper one, so a flapping object does not flap the vMAC with it.
/// Tracked objects are plain ids; what they stand for (an interface, a backend pool's health, any boolean)
/// is the daemon's business.
/// </summary>
public sealed class GlbpWeighting
{
    public const byte MaxWeighting = 254;

    private readonly Dictionary<int, (byte Decrement, bool Up)> _tracked = [];

    public GlbpWeighting(byte maximum = 100, byte lower = 1, byte? upper = null)
    {
        Configure(maximum, lower, upper);
    }

    public byte Maximum { get; private set; }
    public byte LowerThreshold { get; private set; }
    public byte UpperThreshold { get; private set; }

    /// <summary>The weighting advertised in hellos and used for takeover and weighted slot tables.</summary>
    public byte Current { get; private set; }

    /// <summary>False between falling below the lower threshold and climbing back to the upper one.</summary>
    public bool Forwarding { get; private set; } = true;

    public int TrackedCount => _tracked.Count;

    internal static void Check(byte maximum, byte lower, byte upper)
    {
        ArgumentOutOfRangeException.ThrowIfZero(maximum, nameof(maximum));
        ArgumentOutOfRangeException.ThrowIfGreaterThan(maximum, MaxWeighting, nameof(maximum));
        ArgumentOutOfRangeException.ThrowIfGreaterThan(upper, maximum, nameof(upper));
        ArgumentOutOfRangeException.ThrowIfGreaterThan(lower, upper, nameof(lower));
    }

    /// <summary>Sets maximum and thresholds; returns true when <see cref="Current"/> or <see cref="Forwarding"/> changed.</summary>
    public bool Configure(byte maximum, byte lower = 1, byte? upper = null)
    {
        byte up = upper ?? maximum;
        Check(maximum, lower, up);
        Maximum = maximum;
        LowerThreshold = lower;
        UpperThreshold = up;
        return Recompute();
    }

    /// <summary>Tracks an object (initially up) that takes <paramref name="decrement"/> off the weighting when down.</summary>
    public bool Track(int id, byte decrement)
    {
        bool up = !_tracked.TryGetValue(id, out var old) || old.Up;
        _tracked[id] = (decrement, up);
        return Recompute();
    }

    public bool Untrack(int id) => _tracked.Remove(id) && Recompute();

    /// <summary>Reports a tracked object's state; unknown ids are ignored (the daemon may report before tracking).</summary>
    public bool SetTracked(int id, bool up)
    {
        if (!_tracked.TryGetValue(id, out var old) || old.Up == up)
            return false;
        _tracked[id] = (old.Decrement, up);
        return Recompute();
    }

    private bool Recompute()
    {
        int weight = Maximum;
        foreach (var (_, (decrement, up)) in _tracked)
        {
            if (!up)
                weight -= decrement;
        }
        byte current = (byte)Math.Max(weight, 0);
        bool forwarding = Forwarding ? current >= LowerThreshold : current >= UpperThreshold;
        bool changed = current != Current || forwarding != Forwarding;
        Current = current;
        Forwarding = forwarding;
        return changed;
    }
}
