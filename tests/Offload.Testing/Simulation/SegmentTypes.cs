using Offload.Group;
namespace Offload.Testing.Simulation;

/// <summary>
/// How one direction of a link between two boxes behaves: each message is lost with probability
/// <see cref="Loss"/>, otherwise delivered after a delay drawn uniformly from [<see cref="MinDelay"/>,
/// <see cref="MaxDelay"/>], so two messages can overtake each other.
/// </summary>
public readonly record struct LinkProfile(double Loss, TimeSpan MinDelay, TimeSpan MaxDelay)
{
    public static LinkProfile Perfect => new(0, TimeSpan.Zero, TimeSpan.Zero);

    public static LinkProfile Lossy(double loss, double minDelayMs, double maxDelayMs) =>
        new(loss, TimeSpan.FromMilliseconds(minDelayMs), TimeSpan.FromMilliseconds(maxDelayMs));

    public void Validate()
    {
        if (double.IsNaN(Loss) || Loss is < 0 or > 1)
            throw new ArgumentOutOfRangeException(nameof(Loss), Loss, "loss is a probability from 0 to 1");
        if (MinDelay < TimeSpan.Zero || MaxDelay < MinDelay)
            throw new ArgumentOutOfRangeException(nameof(MaxDelay), MaxDelay, $"delays need 0 <= min ({MinDelay}) <= max");
    }
}

/// <summary>A simulator's fixed settings; everything else changes through its methods.</summary>
public sealed record SegmentOptions
{
    /// <summary>Seeds the one random stream behind loss, delay, hosts' ARP times and host MACs.</summary>
    public int Seed { get; init; } = 1;

    public LinkProfile Link { get; init; } = LinkProfile.Perfect;

    /// <summary>Wall-clock reading of virtual time 0 (what the groups stamp their events with).</summary>
    public DateTimeOffset Start { get; init; } = new(2025, 1, 1, 0, 0, 0, TimeSpan.Zero);

    /// <summary>
    /// Record which member last heard which (the invariant checker's outage detection needs it). The scale
    /// benchmark turns it off to measure the group, not the bookkeeping.
    /// </summary>
    public bool TrackDeliveries { get; init; } = true;
}

public enum SegmentEventKind
{
    Join,
    Crash,
    Restart,
    Priority,
    Preempt,
    Weighting,
    Track,
    TrackedObject,
    Partition,
    Heal,
}

/// <summary>Something the scenario did to the segment, in the simulator's history.</summary>
public sealed record SegmentEvent(TimeSpan At, SegmentEventKind Kind, int Box, ushort Group, string Detail)
{
    /// <summary>
    /// Events that may change which member forwards a vMAC: failures that take a forwarder away from a member that
    /// had it, and joins (a newcomer may be the only member able to take an orphaned forwarder over). After them the
    /// protocol is allowed a transition window (hold + one hello) before every vMAC is forwarded again.
    /// </summary>
    public bool MovesForwarders => Kind is SegmentEventKind.Crash or SegmentEventKind.Restart or SegmentEventKind.Weighting
        or SegmentEventKind.Track or SegmentEventKind.TrackedObject or SegmentEventKind.Join;

    /// <summary>Partition and heal concern every group on the segment; the rest one member of one group.</summary>
    public bool AllGroups => Kind is SegmentEventKind.Partition or SegmentEventKind.Heal;
}

/// <summary>
/// A host on the segment that ARPs for its group's virtual IP now and then and keeps the vMAC of the last
/// reply, as a Linux host's neighbour cache does.
/// </summary>
public sealed class SimHost
{
    internal SimHost(int id, ushort group, ulong mac)
    {
        Id = id;
        Group = group;
        Mac = mac;
    }

    public int Id { get; }
    public ushort Group { get; }
    public ulong Mac { get; }

    /// <summary>The vMAC its gateway entry points at; 0 until the first reply.</summary>
    public ulong Vmac { get; internal set; }

    public TimeSpan ResolvedAt { get; internal set; }
    public int Requests { get; internal set; }
    public int Replies { get; internal set; }

    public override string ToString() => $"host{Id} ({Mac:x12})";
}
