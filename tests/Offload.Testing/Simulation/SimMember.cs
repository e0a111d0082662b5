using Offload.Group;
namespace Offload.Testing.Simulation;

/// <summary>
/// One group's member on one box of the simulated segment: the real <see cref="GlbpGroup"/>, its data plane, and
/// whether the box is powered. A reboot keeps this object (so a test's reference stays valid) but gives it a
/// fresh group and a fresh plane, as a reload does.
/// </summary>
public sealed class SimMember : IGlbpTransport
{
    private readonly SegmentSimulator _segment;

    internal SimMember(SegmentSimulator segment, int id, int box, GlbpGroupOptions options)
    {
        _segment = segment;
        Id = id;
        Box = box;
        Options = options;
        Plane = new SimulatedPlane();
        Group = Create();
    }

    /// <summary>Unique in the segment, in join order.</summary>
    public int Id { get; }

    /// <summary>The box (gateway) this member runs on: links and partitions are between boxes.</summary>
    public int Box { get; }

    public ushort GroupNumber => Options.Group;

    /// <summary>The configuration a reboot comes back with (priority, preemption and weighting changes included).</summary>
    public GlbpGroupOptions Options { get; internal set; }

    public GlbpGroup Group { get; private set; }
    public SimulatedPlane Plane { get; private set; }

    /// <summary>Powered and running; false after a crash until a restart.</summary>
    public bool Up { get; internal set; }

    /// <summary>When the current incarnation started.</summary>
    public TimeSpan StartedAt { get; internal set; }

    public int Incarnation { get; private set; }
    public long Sent { get; private set; }
    public long Received { get; internal set; }

    /// <summary>Per sender member id, when its last message reached this incarnation (virtual ticks).</summary>
    internal Dictionary<int, long> HeardFrom { get; } = [];

    /// <summary>Per sender member id, the highest send sequence delivered (reordering statistics).</summary>
    internal Dictionary<int, long> LastSequenceFrom { get; } = [];

    public GatewayState State => Group.State;

    /// <summary>The Ethernet source of the last message sent (a vMAC it forwards, or its own MAC).</summary>
    public ulong LastSource { get; private set; }

    public void Send(ReadOnlySpan<byte> glbpMessage, ulong ethernetSource)
    {
        LastSource = ethernetSource;
        Sent++;
        _segment.Broadcast(this, glbpMessage);
    }

    internal void Reincarnate()
    {
        Group.Dispose();
        Incarnation++;
        HeardFrom.Clear();
        LastSequenceFrom.Clear();
        Plane = new SimulatedPlane();
        Group = Create();
    }

    private GlbpGroup Create()
    {
        var group = new GlbpGroup(Options, _segment.Clock, this, Plane);
        group.Changed += (_, e) => _segment.OnGroupEvent(this, e);
        return group;
    }

    public override string ToString() => $"gw{Box}/g{GroupNumber}";
}
