namespace Offload.Group.Observer;

/// <summary>What a <see cref="GlbpChange"/> is about.</summary>
public enum GlbpChangeKind
{
    /// <summary>The first valid message of a group.</summary>
    GroupHeard,

    /// <summary>The virtual IP the group advertises changed.</summary>
    VirtualIp,

    /// <summary>Hello/hold or redirect/timeout changed (as advertised by the Active, else the latest speaker).</summary>
    Timers,

    /// <summary>The authentication type on the wire changed.</summary>
    Authentication,

    /// <summary>A member was heard for the first time, or again after it had gone silent.</summary>
    MemberHeard,

    /// <summary>A member's gateway role (Listen, Speak, Standby, Active) changed.</summary>
    MemberState,

    /// <summary>A member's advertised gateway priority changed.</summary>
    MemberPriority,

    /// <summary>Nothing from a member for longer than its advertised hold time (capture time, not wall clock).</summary>
    MemberSilent,

    /// <summary>A member's messages stopped passing the key given to the observer.</summary>
    AuthenticationFailed,

    /// <summary>A forwarder number was advertised for the first time.</summary>
    ForwarderAppeared,

    /// <summary>Another member now advertises the forwarder with priority 167: its owner (primary) changed.</summary>
    ForwarderOwner,

    /// <summary>A secondary took the forwarder over for its lost owner, or the owner reclaimed it.</summary>
    ForwarderStandIn,

    /// <summary>Who forwards it (or whether anyone does) changed, with no new owner and no stand-in.</summary>
    ForwarderState,

    /// <summary>The weight the owner advertises for the forwarder changed.</summary>
    ForwarderWeight,
}

/// <summary>
/// One change an observer saw, at the capture time it happened (for silence: when the hold time ran out).
/// <see cref="From"/>/<see cref="To"/> carry the old and new value where the change has them, so scripts need not
/// parse <see cref="Text"/>.
/// </summary>
public sealed record GlbpChange(long TimestampNanoseconds, ushort Group, GlbpChangeKind Kind, string Text)
{
    /// <summary>The member the change is about (its address, IPv4 or IPv6), if any.</summary>
    public string? Member { get; init; }

    /// <summary>The forwarder number the change is about, if any.</summary>
    public byte? Forwarder { get; init; }

    public string? From { get; init; }

    public string? To { get; init; }

    public DateTimeOffset Timestamp => DateTimeOffset.UnixEpoch.AddTicks(TimestampNanoseconds / 100);

    public override string ToString() => $"{GlbpText.Time(TimestampNanoseconds)} group {Group}: {Text}";
}
