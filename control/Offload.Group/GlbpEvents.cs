namespace Offload.Group;

/// <summary>Virtual gateway (AVG election) states, as Cisco names them.</summary>
public enum GatewayState
{
    Disabled,
    Init,
    Listen,
    Speak,
    Standby,
    Active,
}

/// <summary>Virtual forwarder states on this member.</summary>
public enum ForwarderState
{
    Init,
    Listen,
    Active,
}

/// <summary>Something `show glbp` and the logs want to know, stamped with the group's injected clock.</summary>
public abstract record GlbpEvent(DateTimeOffset At, ushort Group);

public sealed record GatewayStateChanged(DateTimeOffset At, ushort Group, GatewayState From, GatewayState To, string Reason)
    : GlbpEvent(At, Group);

public sealed record ForwarderStateChanged(DateTimeOffset At, ushort Group, byte Forwarder, ulong Vmac, ForwarderState From,
    ForwarderState To, string Reason) : GlbpEvent(At, Group);

public enum ForwarderNoticeKind
{
    /// <summary>The forwarder entered this member's table (assigned by us as AVG, or learned).</summary>
    Added,

    /// <summary>Its owner has been gone for the redirect time: the AVG no longer hands out its vMAC.</summary>
    Redirected,

    /// <summary>Its owner came back before the timeout; the vMAC is handed out again.</summary>
    Restored,

    /// <summary>Its owner has been gone for the timeout: the forwarder is deleted and its number freed.</summary>
    TimedOut,
}

public sealed record ForwarderNotice(DateTimeOffset At, ushort Group, byte Forwarder, ulong OwnerMac, ForwarderNoticeKind Kind)
    : GlbpEvent(At, Group);

/// <summary>What <see cref="GlbpGroup.OnMessage"/> did with a message; the daemon counts these.</summary>
public enum GlbpReceiveResult
{
    Accepted,
    Malformed,
    GroupDisabled,
    OwnMessage,
    WrongGroup,
    NoHello,
    AuthenticationFailed,
    Replayed,
}
