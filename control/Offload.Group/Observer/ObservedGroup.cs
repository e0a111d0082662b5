using Offload.Protocol.Glbp;

namespace Offload.Group.Observer;

/// <summary>The four timers a GLBP hello carries: hello/hold in milliseconds, redirect/timeout in seconds.</summary>
public readonly record struct GlbpTimers(uint HelloMs, uint HoldMs, ushort RedirectSeconds, ushort TimeoutSeconds)
{
    public static GlbpTimers From(in GlbpHello hello) => new(hello.HelloMs, hello.HoldMs, hello.RedirectSeconds, hello.TimeoutSeconds);
}

/// <summary>What one member last told a group about one forwarder.</summary>
public readonly record struct ForwarderAdvert(GlbpVfState State, byte Priority, byte Weight, ulong VirtualMac, long TimestampNanoseconds);

/// <summary>A router heard in a group, keyed by its source IPv4 address, as its last accepted message described it.</summary>
public sealed class ObservedMember
{
    private readonly Dictionary<byte, ForwarderAdvert> _adverts = [];

    internal ObservedMember(uint ip, long firstHeard)
    {
        Ip = ip;
        FirstHeardNanoseconds = firstHeard;
    }

    public uint Ip { get; }

    /// <summary>Ethernet source MAC of its last message.</summary>
    public ulong Mac { get; internal set; }

    /// <summary>Gateway state from its last Hello; null until a Hello was heard.</summary>
    public GlbpVgState? State { get; internal set; }

    public byte Priority { get; internal set; }

    /// <summary>Timers from its last Hello; null until one was heard.</summary>
    public GlbpTimers? Timers { get; internal set; }

    /// <summary>Virtual address from its last Hello (IPv4 or IPv6 text); null until one was heard.</summary>
    public string? VirtualIp { get; internal set; }

    public GlbpAuthMode Authentication { get; internal set; }

    public long FirstHeardNanoseconds { get; }

    public long LastHeardNanoseconds { get; internal set; }

    public long Messages { get; internal set; }

    /// <summary>True once its hold time ran out with nothing heard, until it speaks again.</summary>
    public bool IsSilent => SilentSinceNanoseconds is not null;

    /// <summary>When its hold time ran out (last heard + hold), while silent.</summary>
    public long? SilentSinceNanoseconds { get; internal set; }

    /// <summary>The forwarders it advertises, by number, as last advertised.</summary>
    public IReadOnlyDictionary<byte, ForwarderAdvert> Forwarders => _adverts;

    internal Dictionary<byte, ForwarderAdvert> Adverts => _adverts;

    /// <summary>Hold time the observer applies to this member: what it advertises, else Cisco's default of 10 s.</summary>
    public long HoldMs => Timers is { HoldMs: > 0 } t ? t.HoldMs : GroupObserver.DefaultHoldMs;

    /// <summary>When it goes silent unless heard again.</summary>
    public long ExpiresNanoseconds => LastHeardNanoseconds + (HoldMs * 1_000_000);
}

/// <summary>
/// A forwarder as the group's members advertise it: the owner is the live member advertising it Active (highest
/// forwarder priority, then highest address, the way GLBP settles two claims); listeners advertise it Listen.
/// </summary>
public sealed record ObservedForwarder(byte Number, ulong VirtualMac, GlbpVfState? State, uint? Owner, ulong? OwnerMac, byte? Weight, byte? Priority)
{
    public IReadOnlyList<uint> Listeners { get; init; } = [];

    /// <summary>Equal in everything a change is reported for (listeners are shown, not logged).</summary>
    internal bool SameAs(ObservedForwarder other) =>
        VirtualMac == other.VirtualMac && State == other.State && Owner == other.Owner && Weight == other.Weight;
}

/// <summary>One GLBP group as an observer has learnt it.</summary>
public sealed class ObservedGroup
{
    internal ObservedGroup(ushort number, long firstHeard)
    {
        Number = number;
        FirstHeardNanoseconds = firstHeard;
    }

    public ushort Number { get; }

    public long FirstHeardNanoseconds { get; }

    public long Messages { get; internal set; }

    internal Dictionary<uint, ObservedMember> MemberTable { get; } = [];

    public IReadOnlyList<ObservedMember> Members => [.. MemberTable.Values.OrderBy(m => m.Ip)];

    /// <summary>The live member advertising Active (two claims: highest priority, then highest address).</summary>
    public ObservedMember? Active => Leader(GlbpVgState.Active);

    public ObservedMember? Standby => Leader(GlbpVgState.Standby);

    /// <summary>The member whose Hello the group-wide values come from: the Active, else the last one heard.</summary>
    private ObservedMember? Speaker => Active ?? MemberTable.Values.Where(m => m.Timers is not null).MaxBy(m => m.LastHeardNanoseconds);

    public string? VirtualIp => Speaker?.VirtualIp;

    public GlbpTimers? Timers => Speaker?.Timers;

    /// <summary>Authentication of the last accepted message.</summary>
    public GlbpAuthMode Authentication { get; internal set; }

    public IReadOnlyList<ObservedForwarder> Forwarders
    {
        get
        {
            var numbers = new SortedSet<byte>(MemberTable.Values.SelectMany(m => m.Adverts.Keys));
            return [.. numbers.Select(Forwarder)];
        }
    }

    private ObservedForwarder Forwarder(byte number)
    {
        var adverts = MemberTable.Values
            .Where(m => m.Adverts.ContainsKey(number))
            .Select(m => (Member: m, Advert: m.Adverts[number]))
            .ToList();
        var live = adverts.Where(a => !a.Member.IsSilent).ToList();
        var owner = live.Where(a => a.Advert.State == GlbpVfState.Active)
            .OrderByDescending(a => a.Advert.Priority).ThenByDescending(a => a.Member.Ip)
            .Select(a => ((ObservedMember, ForwarderAdvert)?)a).FirstOrDefault();
        var latest = adverts.MaxBy(a => a.Advert.TimestampNanoseconds);
        uint[] listeners = [.. live.Where(a => a.Advert.State != GlbpVfState.Active).Select(a => a.Member.Ip).Order()];
        if (owner is (ObservedMember m, ForwarderAdvert a))
            return new(number, a.VirtualMac, GlbpVfState.Active, m.Ip, m.Mac, a.Weight, a.Priority) { Listeners = listeners };
        GlbpVfState? state = live.Count > 0 ? GlbpVfState.Listen : null;
        return new(number, latest.Advert.VirtualMac, state, null, null, null, null) { Listeners = listeners };
    }

    private ObservedMember? Leader(GlbpVgState state) =>
        MemberTable.Values.Where(m => !m.IsSilent && m.State == state)
            .OrderByDescending(m => m.Priority).ThenByDescending(m => m.Ip).FirstOrDefault();
}
