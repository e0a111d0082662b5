using Offload.Protocol.Glbp;

namespace Offload.Group.Observer;

/// <summary>The four timers a GLBP hello carries: hello/hold in milliseconds, redirect/timeout in seconds.</summary>
public readonly record struct GlbpTimers(uint HelloMs, uint HoldMs, ushort RedirectSeconds, ushort TimeoutSeconds)
{
    public static GlbpTimers From(in GlbpHello hello) => new(hello.HelloMs, hello.HoldMs, hello.RedirectSeconds, hello.TimeoutSeconds);
}

/// <summary>What one member last told a group about one forwarder.</summary>
public readonly record struct ForwarderAdvert(GlbpVfState State, byte Priority, byte Weight, ulong VirtualMac, long TimestampNanoseconds)
{
    public ushort TimeoutRemaining { get; init; }

    public ushort RedirectRemaining { get; init; }

    public GlbpForwarderRole Role => GlbpOwnership.Role(Priority);

    public static ForwarderAdvert From(in GlbpForwarder f, long at) =>
        new(f.State, f.Priority, f.Weight, f.VirtualMac, at) { TimeoutRemaining = f.TimeoutRemaining, RedirectRemaining = f.RedirectRemaining };
}

/// <summary>
/// A router heard in a group, keyed by its source address (IPv4 or IPv6), named by the MAC its GLBP header carries
/// (its own), as its last accepted message described it.
/// </summary>
public sealed class ObservedMember
{
    private readonly Dictionary<byte, ForwarderAdvert> _adverts = [];

    internal ObservedMember(GlbpSource source, long firstHeard)
    {
        Key = Of(source);
        Ip = source.IsIpv6 ? 0 : source.Ipv4;
        IsIpv6 = source.IsIpv6;
        Address = source.IsIpv6 ? source.Address.ToString() : GlbpText.Ip(source.Ipv4);
        FirstHeardNanoseconds = firstHeard;
    }

    internal static UInt128 Of(GlbpSource source) => source.IsIpv6 ? source.Ipv6 : ((UInt128)0xFFFF << 32) | source.Ipv4;

    internal UInt128 Key { get; }

    /// <summary>Its IPv4 address; 0 for a member heard over IPv6.</summary>
    public uint Ip { get; }

    public bool IsIpv6 { get; }

    /// <summary>Its source address as text, IPv4 or IPv6.</summary>
    public string Address { get; }

    /// <summary>Its own MAC, from the GLBP header of its last message: how GLBP names a member.</summary>
    public ulong Mac { get; internal set; }

    /// <summary>Ethernet source of its last message: for Cisco, one of the vMACs it forwards.</summary>
    public ulong SourceMac { get; internal set; }

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

    public override string ToString() => Address;
}

/// <summary>
/// A forwarder as the group's members advertise it, read with <see cref="GlbpOwnership"/>: its owner is the member
/// that advertises it with priority 167 (its primary, remembered while silent), its holder the live member that
/// advertises it Active (the higher priority, then address, of two claims). A holder that is not the owner is a
/// stand-in (a secondary, 135), counting the redirect and time-out down.
/// </summary>
public sealed record ObservedForwarder(byte Number, ulong VirtualMac, GlbpVfState? State)
{
    /// <summary>The live member forwarding it now, if any.</summary>
    public ObservedMember? Holder { get; init; }

    /// <summary>Its primary, as last heard (it may be silent: see <see cref="OwnerLive"/>).</summary>
    public ObservedMember? Owner { get; init; }

    public bool OwnerLive => Owner is { IsSilent: false };

    /// <summary>The holder's advertised weight and priority.</summary>
    public byte? Weight { get; init; }

    public byte? Priority { get; init; }

    /// <summary>Forwarded by a secondary standing in for its owner.</summary>
    public bool StandIn => Holder is not null && Priority is byte p && GlbpOwnership.Role(p) == GlbpForwarderRole.Secondary;

    /// <summary>What the stand-in (or, with none, the latest secondary) says is left; null while the owner forwards.</summary>
    public ushort? RedirectRemaining { get; init; }

    public ushort? TimeoutRemaining { get; init; }

    public IReadOnlyList<ObservedMember> Listeners { get; init; } = [];
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

    /// <summary>Heard over IPv6 (ff02::66).</summary>
    public bool IsIpv6 { get; internal set; }

    /// <summary>Messages whose authentication the observer could not check (no key given, or MD5 over IPv6).</summary>
    public long Unverified { get; internal set; }

    internal Dictionary<UInt128, ObservedMember> MemberTable { get; } = [];

    public IReadOnlyList<ObservedMember> Members => [.. MemberTable.Values.OrderBy(m => m.Key)];

    /// <summary>The live member advertising Active (two claims: highest priority, then highest address).</summary>
    public ObservedMember? Active => Leader(GlbpVgState.Active);

    public ObservedMember? Standby => Leader(GlbpVgState.Standby);

    /// <summary>The member whose Hello the group-wide values come from: the Active, else the last one heard.</summary>
    private ObservedMember? Speaker => Active ?? MemberTable.Values.Where(m => m.Timers is not null).MaxBy(m => m.LastHeardNanoseconds);

    public string? VirtualIp => Speaker?.VirtualIp;

    public GlbpTimers? Timers => Speaker?.Timers;

    /// <summary>For an IPv6 group, the virtual link-local address Cisco builds from the group's forwarder-0 vMAC.</summary>
    public string? VirtualLinkLocal => IsIpv6 ? GlbpVirtualMac.LinkLocalIpv6Text(Number) : null;

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
        // Of two live primaries (two members that picked one number at once) the higher MAC keeps it; with none
        // live, the last one heard is still its owner until the time-out removes it.
        var owner = live.Where(a => a.Advert.Role == GlbpForwarderRole.Primary).OrderByDescending(a => a.Member.Mac).Select(a => a.Member).FirstOrDefault()
            ?? adverts.Where(a => a.Advert.Role == GlbpForwarderRole.Primary).OrderByDescending(a => a.Advert.TimestampNanoseconds).Select(a => a.Member).FirstOrDefault();
        var holder = live.Where(a => a.Advert.State == GlbpVfState.Active)
            .OrderByDescending(a => a.Advert.Priority).ThenByDescending(a => a.Member.Key)
            .Select(a => ((ObservedMember, ForwarderAdvert)?)a).FirstOrDefault();
        var latest = adverts.MaxBy(a => a.Advert.TimestampNanoseconds);
        ObservedMember[] listeners = [.. live.Where(a => a.Advert.State != GlbpVfState.Active).Select(a => a.Member).OrderBy(m => m.Key)];
        // The countdown: the stand-in's, else the latest secondary's that has started counting.
        var counting = holder is (ObservedMember _, ForwarderAdvert h) && h.Role != GlbpForwarderRole.Primary
            ? h
            : live.Where(a => a.Advert.Role == GlbpForwarderRole.Secondary && a.Member.Timers is GlbpTimers t && a.Advert.TimeoutRemaining < t.TimeoutSeconds)
                .Select(a => (ForwarderAdvert?)a.Advert).MaxBy(a => a!.Value.TimestampNanoseconds);
        bool ownerForwards = holder is (ObservedMember hm, _) && hm == owner;
        var forwarder = new ObservedForwarder(number, latest.Advert.VirtualMac, holder is not null ? GlbpVfState.Active : live.Count > 0 ? GlbpVfState.Listen : null)
        {
            Owner = owner,
            Listeners = listeners,
            RedirectRemaining = ownerForwards ? null : counting?.RedirectRemaining,
            TimeoutRemaining = ownerForwards ? null : counting?.TimeoutRemaining,
        };
        if (holder is (ObservedMember m, ForwarderAdvert a))
            forwarder = forwarder with { Holder = m, Weight = a.Weight, Priority = a.Priority, VirtualMac = a.VirtualMac };
        return forwarder;
    }

    private ObservedMember? Leader(GlbpVgState state) =>
        MemberTable.Values.Where(m => !m.IsSilent && m.State == state)
            .OrderByDescending(m => m.Priority).ThenByDescending(m => m.Key).FirstOrDefault();
}
