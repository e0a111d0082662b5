using Offload.Protocol.Glbp;

namespace Offload.Group;

/// <summary>
/// One group's configuration on one gateway. Defaults are Cisco's, except <see cref="MaxForwarders"/>, which
/// may be raised to 255 for groups made only of Offload gateways. Priority, preemption, weighting and tracking
/// can also change at run time through <see cref="GlbpGroup"/>'s methods; these are their starting values.
/// </summary>
public sealed record GlbpGroupOptions
{
    public const int CiscoMaxForwarders = 4;

    public required ushort Group { get; init; }

    /// <summary>This gateway's address on the segment: the tie-breaker, and the MD5/HMAC address input.</summary>
    public required uint LocalIp { get; init; }

    /// <summary>This gateway's own MAC: the owner id in every header, which is how members name each other.</summary>
    public required ulong LocalMac { get; init; }

    /// <summary>0 to learn the virtual IP from the AVG's hellos, as Cisco allows.</summary>
    public uint VirtualIp { get; init; }

    public byte Priority { get; init; } = 100;
    public bool Preempt { get; init; }
    public TimeSpan PreemptDelay { get; init; } = TimeSpan.Zero;

    public TimeSpan HelloTime { get; init; } = TimeSpan.FromSeconds(3);

    /// <summary>Cisco's smallest hello time: a group below it cannot take Cisco members.</summary>
    public static readonly TimeSpan CiscoMinHelloTime = TimeSpan.FromMilliseconds(50);

    /// <summary>
    /// Offload's smallest hello time, for groups of Offload gateways only. Hellos leave from the group's own timer and a
    /// peer's hello wakes the daemon's loop at once (the host-attention line), so neither waits for a loop round; at
    /// 10 ms a hold time of three hellos detects a dead gateway in about 30 ms, under keepalived's 10 ms adverts.
    /// </summary>
    public static readonly TimeSpan MinHelloTime = TimeSpan.FromMilliseconds(10);
    public TimeSpan HoldTime { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>How long after its owner is lost the AVG keeps handing out a forwarder's vMAC.</summary>
    public TimeSpan RedirectTime { get; init; } = TimeSpan.FromSeconds(600);

    /// <summary>How long after its owner is lost a forwarder is deleted and its hosts move elsewhere.</summary>
    public TimeSpan TimeoutTime { get; init; } = TimeSpan.FromSeconds(14400);

    public int MaxForwarders { get; init; } = CiscoMaxForwarders;
    public bool ForwarderPreempt { get; init; } = true;
    public TimeSpan ForwarderPreemptDelay { get; init; } = TimeSpan.FromSeconds(30);

    public byte Weighting { get; init; } = 100;

    /// <summary>Below this the gateway stops forwarding. Cisco's default is 1.</summary>
    public byte LowerThreshold { get; init; } = 1;

    /// <summary>Forwarding resumes at or above this; null means <see cref="Weighting"/>, Cisco's default.</summary>
    public byte? UpperThreshold { get; init; }

    public GlbpLoadBalancing LoadBalancing { get; init; } = GlbpLoadBalancing.RoundRobin;

    public GlbpAuthSettings Authentication { get; init; } = GlbpAuthSettings.Disabled;

    public void Validate()
    {
        ArgumentOutOfRangeException.ThrowIfGreaterThan(Group, GlbpProtocol.MaxGroup, nameof(Group));
        ArgumentOutOfRangeException.ThrowIfZero(LocalIp, nameof(LocalIp));
        ArgumentOutOfRangeException.ThrowIfZero(LocalMac, nameof(LocalMac));
        ArgumentOutOfRangeException.ThrowIfZero(Priority, nameof(Priority));
        ArgumentOutOfRangeException.ThrowIfLessThan(PreemptDelay, TimeSpan.Zero, nameof(PreemptDelay));
        ArgumentOutOfRangeException.ThrowIfLessThan(HelloTime, MinHelloTime, nameof(HelloTime));
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(HoldTime, HelloTime, nameof(HoldTime));
        ArgumentOutOfRangeException.ThrowIfGreaterThan(HoldTime.TotalMilliseconds, uint.MaxValue, nameof(HoldTime));
        ArgumentOutOfRangeException.ThrowIfLessThan(RedirectTime, TimeSpan.Zero, nameof(RedirectTime));
        ArgumentOutOfRangeException.ThrowIfGreaterThan(RedirectTime.TotalSeconds, ushort.MaxValue, nameof(RedirectTime));
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(TimeoutTime, RedirectTime, nameof(TimeoutTime));
        ArgumentOutOfRangeException.ThrowIfGreaterThan(TimeoutTime.TotalSeconds, ushort.MaxValue, nameof(TimeoutTime));
        ArgumentOutOfRangeException.ThrowIfLessThan(MaxForwarders, 1, nameof(MaxForwarders));
        ArgumentOutOfRangeException.ThrowIfGreaterThan(MaxForwarders, GlbpVirtualMac.MaxForwarder, nameof(MaxForwarders));
        ArgumentOutOfRangeException.ThrowIfLessThan(ForwarderPreemptDelay, TimeSpan.Zero, nameof(ForwarderPreemptDelay));
        GlbpWeighting.Check(Weighting, LowerThreshold, UpperThreshold ?? Weighting);
    }
}
