using Offload.Protocol.Glbp;

namespace Offload.Group.Observer;

/// <summary>What became of one message handed to <see cref="GroupObserver.Observe"/>.</summary>
public enum GlbpObservation
{
    Applied,

    /// <summary>The message did not decode; counted in <see cref="GroupObserver.Malformed"/>.</summary>
    Malformed,

    /// <summary>A key was given and the message does not pass it; counted, not applied (as a router would drop it).</summary>
    AuthenticationFailed,
}

/// <summary>
/// A passive GLBP listener: fed messages with their capture time, it learns every group's members, roles,
/// forwarders, timers and authentication, and logs each change. It does no I/O and reads no clock: time is
/// whatever the caller's timestamps say (a capture's, or receive times when live), so silence is judged by the
/// capture, and a replay gives the same log every time. Malformed input is counted by reason and never throws.
/// </summary>
public sealed class GroupObserver
{
    /// <summary>Cisco's default hold time, applied to a member until it advertises its own.</summary>
    public const long DefaultHoldMs = 10_000;

    private readonly byte[]? _key;
    private readonly SortedDictionary<ushort, GroupEntry> _groups = [];
    private readonly List<GlbpChange> _changes = [];
    private readonly SortedDictionary<GlbpError, long> _malformed = [];
    private readonly SortedDictionary<GlbpAuthStatus, long> _authFailures = [];
    private readonly Dictionary<(ushort Group, UInt128 Member), GlbpAuthStatus> _authStatus = [];
    private long _now = long.MinValue;

    /// <param name="key">
    /// When given, every message must authenticate with it in the scheme the message itself carries (the text for
    /// plain text, the MD5 or HMAC key otherwise, with the message's key id); unauthenticated messages then fail.
    /// </param>
    public GroupObserver(byte[]? key = null)
    {
        // Copied, so a caller reusing its buffer cannot change the key under the observer.
        _key = key is null ? null : (byte[])key.Clone();
    }

    public IReadOnlyList<GlbpChange> Changes => _changes;

    /// <summary>A key was given, so messages are verified where the observer knows how.</summary>
    public bool HasKey => _key is not null;

    /// <summary>Groups by number.</summary>
    public IReadOnlyList<ObservedGroup> Groups => [.. _groups.Values.Select(g => g.Group)];

    /// <summary>Messages that did not decode, by the reason the codec gave.</summary>
    public IReadOnlyDictionary<GlbpError, long> Malformed => _malformed;

    /// <summary>Messages that failed the key, by reason (empty when no key was given).</summary>
    public IReadOnlyDictionary<GlbpAuthStatus, long> AuthenticationFailures => _authFailures;

    public long MessagesSeen { get; private set; }

    public long MessagesApplied { get; private set; }

    /// <summary>Latest time the observer has been told of (from a message or <see cref="Advance"/>); null before any.</summary>
    public long? NowNanoseconds => _now == long.MinValue ? null : _now;

    public ObservedGroup? Group(ushort number) => _groups.TryGetValue(number, out var g) ? g.Group : null;

    /// <summary>An IPv4 message from <paramref name="sourceIp"/>, Ethernet source <paramref name="sourceMac"/>.</summary>
    public GlbpObservation Observe(long timestampNanoseconds, uint sourceIp, ulong sourceMac, ReadOnlySpan<byte> message) =>
        Observe(timestampNanoseconds, new GlbpSource(sourceIp, 0, false, sourceMac), message);

    /// <summary>
    /// Takes one GLBP message (UDP payload) sent at <paramref name="timestampNanoseconds"/> from
    /// <paramref name="source"/> (IPv4 or IPv6). Members whose hold time ran out before it are marked silent first.
    /// </summary>
    public GlbpObservation Observe(long timestampNanoseconds, GlbpSource source, ReadOnlySpan<byte> message)
    {
        MessagesSeen++;
        Advance(timestampNanoseconds);
        // Captures merged from several interfaces can step back a little; time never runs backwards here.
        long now = _now;
        GlbpResult result = GlbpPacket.TryDecode(message, out GlbpPacket packet);
        if (!result.IsOk)
        {
            _malformed[result.Error] = _malformed.GetValueOrDefault(result.Error) + 1;
            return GlbpObservation.Malformed;
        }
        ushort number = packet.Header.Group;
        GlbpAuthMode mode = AuthMode(packet);
        UInt128 key = ObservedMember.Of(source);
        // MD5's digest covers the sender's IPv4 address; how Cisco builds it over an IPv6 source is not known, so
        // such a message is applied unverified (and counted as such) rather than failed.
        bool md5OverIpv6 = source.IsIpv6 && mode is GlbpAuthMode.Md5KeyString or GlbpAuthMode.Md5KeyChain;
        bool verified = _key is not null && mode != GlbpAuthMode.None && !md5OverIpv6;
        if (_key is not null && !md5OverIpv6 && !Authenticates(now, number, key, source, packet, mode))
            return GlbpObservation.AuthenticationFailed;

        if (!_groups.TryGetValue(number, out GroupEntry? entry))
        {
            entry = new GroupEntry(new ObservedGroup(number, now));
            _groups.Add(number, entry);
        }
        ObservedGroup group = entry.Group;
        if (!group.MemberTable.TryGetValue(key, out ObservedMember? member))
        {
            member = new ObservedMember(source, now);
            group.MemberTable.Add(key, member);
        }
        group.Messages++;
        group.Authentication = mode;
        group.IsIpv6 |= source.IsIpv6;
        if (!verified && mode != GlbpAuthMode.None)
            group.Unverified++;
        // GLBP names a member by the MAC in its header; the Ethernet source is one of its vMACs.
        member.Mac = packet.Header.OwnerMac;
        member.SourceMac = source.EthernetSource;
        member.LastHeardNanoseconds = now;
        member.Messages++;
        member.Authentication = mode;
        if (packet.HasHello)
        {
            GlbpHello hello = packet.Hello;
            member.State = hello.State;
            member.Priority = hello.Priority;
            member.Timers = GlbpTimers.From(hello);
            member.VirtualIp = Address(hello, packet.HelloAddress);
        }
        foreach (GlbpForwarder f in packet.Forwarders)
            member.Adverts[f.Forwarder] = ForwarderAdvert.From(f, now);
        MessagesApplied++;
        long? silentSince = member.SilentSinceNanoseconds;
        member.SilentSinceNanoseconds = null;
        Diff(entry, now, silentSince is long since ? (member, since) : null);
        return GlbpObservation.Applied;
    }

    /// <summary>
    /// Moves time on to <paramref name="timestampNanoseconds"/> and marks silent every member whose hold time ran
    /// out by then, each at the moment it ran out. Live watchers call it between messages; replays need not.
    /// </summary>
    public void Advance(long timestampNanoseconds)
    {
        _now = Math.Max(_now, timestampNanoseconds);
        while (true)
        {
            // Earliest expiry first, so the log stays in time order when several members stop together.
            (GroupEntry Entry, ObservedMember Member)? next = null;
            foreach (GroupEntry e in _groups.Values)
            {
                foreach (ObservedMember m in e.Group.MemberTable.Values)
                {
                    if (!m.IsSilent && _now > m.ExpiresNanoseconds && (next is null || m.ExpiresNanoseconds < next.Value.Member.ExpiresNanoseconds))
                        next = (e, m);
                }
            }
            if (next is not (GroupEntry entry, ObservedMember member))
                return;
            member.SilentSinceNanoseconds = member.ExpiresNanoseconds;
            Diff(entry, member.ExpiresNanoseconds, heardAgain: null);
        }
    }

    /// <summary>The Hello's virtual address as text; an address type nobody documents is shown as hex, not guessed at.</summary>
    private static string Address(in GlbpHello hello, ReadOnlySpan<byte> address) => hello.AddressType switch
    {
        GlbpAddressType.Ipv4 => GlbpText.Ip(hello.VirtualIpv4),
        GlbpAddressType.Ipv6 => new System.Net.IPAddress(address).ToString(),
        _ => $"type {(byte)hello.AddressType}: {Convert.ToHexStringLower(address)}",
    };

    private bool Authenticates(long now, ushort group, UInt128 member, GlbpSource source, GlbpPacket packet, GlbpAuthMode mode)
    {
        uint sourceIp = source.Ipv4;
        GlbpAuthStatus status = mode switch
        {
            // A key was given, so a message that carries none cannot pass it.
            GlbpAuthMode.None => GlbpAuthStatus.ModeMismatch,
            _ => GlbpAuthenticator.Verify(packet, sourceIp, new GlbpAuthSettings(mode, _key,
                mode == GlbpAuthMode.OffloadHmacSha256 ? packet.OffloadAuth.KeyId : packet.Auth.KeyId)),
        };
        bool known = _authStatus.TryGetValue((group, member), out GlbpAuthStatus before);
        _authStatus[(group, member)] = status;
        if (status == GlbpAuthStatus.Ok)
            return true;
        _authFailures[status] = _authFailures.GetValueOrDefault(status) + 1;
        // Logged when a sender starts failing, not for every message it sends after that.
        if (!known || before != status)
        {
            Add(new GlbpChange(now, group, GlbpChangeKind.AuthenticationFailed,
                $"{source.Address} fails authentication ({GlbpText.Auth(mode)}): {Describe(status)}")
            { Member = source.Address.ToString(), To = status.ToString() });
        }
        return false;
    }

    private static string Describe(GlbpAuthStatus status) => status switch
    {
        GlbpAuthStatus.ModeMismatch => "authentication type differs from what the key needs",
        GlbpAuthStatus.KeyIdMismatch => "key id differs",
        GlbpAuthStatus.TextMismatch => "text does not match the key",
        GlbpAuthStatus.DigestMismatch => "digest does not match the key",
        _ => status.ToString(),
    };

    private static GlbpAuthMode AuthMode(GlbpPacket packet)
    {
        if (packet.HasOffloadAuth)
            return GlbpAuthMode.OffloadHmacSha256;
        if (!packet.HasAuth)
            return GlbpAuthMode.None;
        return packet.Auth.Type switch
        {
            GlbpAuthType.PlainText => GlbpAuthMode.PlainText,
            GlbpAuthType.Md5KeyString => GlbpAuthMode.Md5KeyString,
            GlbpAuthType.Md5KeyChain => GlbpAuthMode.Md5KeyChain,
            // Unknown auth type bytes authenticate nothing we can check.
            _ => GlbpAuthMode.None,
        };
    }

    /// <summary>Compares the group with what was last reported of it and logs every difference at <paramref name="at"/>.</summary>
    private void Diff(GroupEntry entry, long at, (ObservedMember Member, long SilentSince)? heardAgain)
    {
        ObservedGroup g = entry.Group;
        ushort n = g.Number;
        Snapshot now = Snapshot.Of(g);
        Snapshot? was = entry.Reported;
        entry.Reported = now;

        if (was is null)
        {
            string vip = now.VirtualIp is null ? "no Hello yet" : $"virtual IP {now.VirtualIp}";
            string timers = now.Timers is GlbpTimers t ? ", " + GlbpText.Timers(t) : "";
            Add(new GlbpChange(at, n, GlbpChangeKind.GroupHeard, $"group {n} heard: {vip}{timers}, authentication {GlbpText.Auth(now.Authentication)}")
            { To = now.VirtualIp });
        }
        else
        {
            if (was.VirtualIp != now.VirtualIp && now.VirtualIp is not null)
                Add(new GlbpChange(at, n, GlbpChangeKind.VirtualIp, $"virtual IP {was.VirtualIp ?? "unknown"} -> {now.VirtualIp}") { From = was.VirtualIp, To = now.VirtualIp });
            if (was.Timers != now.Timers && now.Timers is GlbpTimers t)
            {
                string from = was.Timers is GlbpTimers w ? GlbpText.Timers(w) : "unknown";
                Add(new GlbpChange(at, n, GlbpChangeKind.Timers, $"timers {from} -> {GlbpText.Timers(t)}") { From = was.Timers is null ? null : from, To = GlbpText.Timers(t) });
            }
            if (was.Authentication != now.Authentication)
            {
                Add(new GlbpChange(at, n, GlbpChangeKind.Authentication, $"authentication {GlbpText.Auth(was.Authentication)} -> {GlbpText.Auth(now.Authentication)}")
                { From = GlbpText.Auth(was.Authentication), To = GlbpText.Auth(now.Authentication) });
            }
        }

        foreach (var (key, m) in now.Members)
        {
            ObservedMember member = g.MemberTable[key];
            string who = member.Address;
            if (was is null || !was.Members.TryGetValue(key, out MemberSnapshot old))
            {
                Add(new GlbpChange(at, n, GlbpChangeKind.MemberHeard, $"{who} ({GlbpText.Mac(member.Mac)}) heard: {GlbpText.State(m.State)}, priority {m.Priority}")
                { Member = who, To = GlbpText.State(m.State) });
                continue;
            }
            if (old.Silent && !m.Silent)
            {
                string gap = heardAgain is (ObservedMember back, long since) && back == member
                    ? $" after {GlbpText.Seconds((at - since) / 1_000_000)} s of silence"
                    : "";
                Add(new GlbpChange(at, n, GlbpChangeKind.MemberHeard, $"{who} heard again{gap}: {GlbpText.State(m.State)}, priority {m.Priority}")
                { Member = who, From = "silent", To = GlbpText.State(m.State) });
            }
            if (!old.Silent && m.Silent)
            {
                Add(new GlbpChange(at, n, GlbpChangeKind.MemberSilent,
                    $"{who} silent: nothing heard for its hold time of {GlbpText.Seconds(member.HoldMs)} s since {GlbpText.Time(member.LastHeardNanoseconds)} (was {GlbpText.State(m.State)})")
                { Member = who, From = GlbpText.State(m.State), To = "silent" });
            }
            if (old.State != m.State)
            {
                Add(new GlbpChange(at, n, GlbpChangeKind.MemberState, $"{who} {GlbpText.State(old.State)} -> {GlbpText.State(m.State)}")
                { Member = who, From = GlbpText.State(old.State), To = GlbpText.State(m.State) });
            }
            if (old.Priority != m.Priority)
            {
                Add(new GlbpChange(at, n, GlbpChangeKind.MemberPriority, $"{who} priority {old.Priority} -> {m.Priority}")
                { Member = who, From = Num(old.Priority), To = Num(m.Priority) });
            }
        }
        foreach (var (number, f) in now.Forwarders)
        {
            string what = $"forwarder {number} ({GlbpText.Mac(f.VirtualMac)})";
            if (was is null || !was.Forwarders.TryGetValue(number, out ForwarderSnapshot old))
            {
                Add(new GlbpChange(at, n, GlbpChangeKind.ForwarderAppeared, $"{what} appeared: owner {Owner(f)}, {Forwarding(f)}")
                { Forwarder = number, Member = f.HolderAddress, To = GlbpText.State(f.State) });
                continue;
            }
            if (old == f)
                continue;
            // An owner first learned (a secondary's TLV was heard before the primary's) is no change of owner.
            if (old.OwnerMac is not null && old.OwnerMac != f.OwnerMac)
            {
                Add(new GlbpChange(at, n, GlbpChangeKind.ForwarderOwner, $"{what} owner {Owner(old)} -> {Owner(f)}: {Forwarding(f)}")
                { Forwarder = number, Member = f.OwnerAddress, From = Owner(old), To = Owner(f) });
            }
            else if (old.HolderAddress != f.HolderAddress && f.StandIn)
            {
                Add(new GlbpChange(at, n, GlbpChangeKind.ForwarderStandIn, $"{what} taken over by {f.HolderAddress} standing in for its owner {Owner(f)}: {Forwarding(f)}")
                { Forwarder = number, Member = f.HolderAddress, From = old.HolderAddress ?? "none", To = f.HolderAddress });
            }
            else if (old.StandIn && f.HolderAddress is not null && f.HolderAddress == f.OwnerAddress)
            {
                Add(new GlbpChange(at, n, GlbpChangeKind.ForwarderStandIn, $"{what} reclaimed by its owner {Owner(f)} from {old.HolderAddress}")
                { Forwarder = number, Member = f.HolderAddress, From = old.HolderAddress ?? "none", To = f.HolderAddress });
            }
            else if (old.HolderAddress != f.HolderAddress || old.State != f.State)
            {
                Add(new GlbpChange(at, n, GlbpChangeKind.ForwarderState, $"{what} {Forwarding(old)} -> {Forwarding(f)}")
                { Forwarder = number, Member = f.HolderAddress, From = old.HolderAddress ?? GlbpText.State(old.State), To = f.HolderAddress ?? GlbpText.State(f.State) });
            }
            else if (old.Weight != f.Weight)
            {
                Add(new GlbpChange(at, n, GlbpChangeKind.ForwarderWeight, $"{what} weight {old.Weight} -> {f.Weight} on {f.HolderAddress}")
                { Forwarder = number, Member = f.HolderAddress, From = old.Weight?.ToString(System.Globalization.CultureInfo.InvariantCulture), To = f.Weight?.ToString(System.Globalization.CultureInfo.InvariantCulture) });
            }
            else if (old.VirtualMac != f.VirtualMac)
            {
                Add(new GlbpChange(at, n, GlbpChangeKind.ForwarderState, $"{what} vMAC {GlbpText.Mac(old.VirtualMac)} -> {GlbpText.Mac(f.VirtualMac)}")
                { Forwarder = number, From = GlbpText.Mac(old.VirtualMac), To = GlbpText.Mac(f.VirtualMac) });
            }
        }
    }

    private static string Num(byte b) => b.ToString(System.Globalization.CultureInfo.InvariantCulture);

    private static string Owner(ForwarderSnapshot f) => f.OwnerMac is ulong mac
        ? $"{f.OwnerAddress} ({GlbpText.Mac(mac)}){(f.OwnerLive ? "" : ", silent")}"
        : "unknown";

    private static string Forwarding(ForwarderSnapshot f) => f.HolderAddress is null
        ? (f.State is null ? "no live member advertises it" : "nobody forwards it")
        : f.StandIn
            ? $"Active on {f.HolderAddress} (secondary, weight {f.Weight}), redirect {f.RedirectRemaining} s and time-out {f.TimeoutRemaining} s left"
            : $"Active on {f.HolderAddress}, weight {f.Weight}";

    private void Add(GlbpChange change) => _changes.Add(change);

    private readonly record struct MemberSnapshot(GlbpVgState? State, byte Priority, bool Silent);

    /// <summary>
    /// A forwarder as reported: the values a change is logged for. The countdown is shown, not logged (it moves
    /// every second).
    /// </summary>
    private readonly record struct ForwarderSnapshot(ulong VirtualMac, GlbpVfState? State, string? HolderAddress, ulong? OwnerMac, string? OwnerAddress,
        bool OwnerLive, bool StandIn, byte? Weight)
    {
        public ushort? RedirectRemaining { get; init; }

        public ushort? TimeoutRemaining { get; init; }

        public bool Equals(ForwarderSnapshot other) =>
            VirtualMac == other.VirtualMac && State == other.State && HolderAddress == other.HolderAddress && OwnerMac == other.OwnerMac
            && OwnerLive == other.OwnerLive && StandIn == other.StandIn && Weight == other.Weight;

        public override int GetHashCode() => HashCode.Combine(VirtualMac, State, HolderAddress, OwnerMac, OwnerLive, StandIn, Weight);

        public static ForwarderSnapshot Of(ObservedForwarder f) =>
            new(f.VirtualMac, f.State, f.Holder?.Address, f.Owner?.Mac, f.Owner?.Address, f.OwnerLive, f.StandIn, f.Weight)
            {
                RedirectRemaining = f.RedirectRemaining,
                TimeoutRemaining = f.TimeoutRemaining,
            };
    }

    /// <summary>What was last reported of a group: the baseline the next diff is taken against.</summary>
    private sealed record Snapshot(string? VirtualIp, GlbpTimers? Timers, GlbpAuthMode Authentication,
        SortedDictionary<UInt128, MemberSnapshot> Members, SortedDictionary<byte, ForwarderSnapshot> Forwarders)
    {
        public static Snapshot Of(ObservedGroup g) => new(g.VirtualIp, g.Timers, g.Authentication,
            new SortedDictionary<UInt128, MemberSnapshot>(g.MemberTable.Values.ToDictionary(m => m.Key, m => new MemberSnapshot(m.State, m.Priority, m.IsSilent))),
            new SortedDictionary<byte, ForwarderSnapshot>(g.Forwarders.ToDictionary(f => f.Number, ForwarderSnapshot.Of)));
    }

    private sealed class GroupEntry(ObservedGroup group)
    {
        public ObservedGroup Group { get; } = group;

        public Snapshot? Reported { get; set; }
    }
}
