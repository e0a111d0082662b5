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
    private readonly Dictionary<(ushort Group, uint Ip), GlbpAuthStatus> _authStatus = [];
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

    /// <summary>
    /// Takes one GLBP message (UDP payload) sent at <paramref name="timestampNanoseconds"/> from
    /// <paramref name="sourceIp"/>/<paramref name="sourceMac"/>. Members whose hold time ran out before it are
    /// marked silent first.
    /// </summary>
    public GlbpObservation Observe(long timestampNanoseconds, uint sourceIp, ulong sourceMac, ReadOnlySpan<byte> message)
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
        if (_key is not null && !Authenticates(now, number, sourceIp, packet, mode))
            return GlbpObservation.AuthenticationFailed;

        if (!_groups.TryGetValue(number, out GroupEntry? entry))
        {
            entry = new GroupEntry(new ObservedGroup(number, now));
            _groups.Add(number, entry);
        }
        ObservedGroup group = entry.Group;
        if (!group.MemberTable.TryGetValue(sourceIp, out ObservedMember? member))
        {
            member = new ObservedMember(sourceIp, now);
            group.MemberTable.Add(sourceIp, member);
        }
        group.Messages++;
        group.Authentication = mode;
        member.Mac = sourceMac;
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
            member.Adverts[f.Forwarder] = new ForwarderAdvert(f.State, f.Priority, f.Weight, f.VirtualMac, now);
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

    private bool Authenticates(long now, ushort group, uint sourceIp, GlbpPacket packet, GlbpAuthMode mode)
    {
        GlbpAuthStatus status = mode switch
        {
            // A key was given, so a message that carries none cannot pass it.
            GlbpAuthMode.None => GlbpAuthStatus.ModeMismatch,
            _ => GlbpAuthenticator.Verify(packet, sourceIp, new GlbpAuthSettings(mode, _key,
                mode == GlbpAuthMode.OffloadHmacSha256 ? packet.OffloadAuth.KeyId : packet.Auth.KeyId)),
        };
        bool known = _authStatus.TryGetValue((group, sourceIp), out GlbpAuthStatus before);
        _authStatus[(group, sourceIp)] = status;
        if (status == GlbpAuthStatus.Ok)
            return true;
        _authFailures[status] = _authFailures.GetValueOrDefault(status) + 1;
        // Logged when a sender starts failing, not for every message it sends after that.
        if (!known || before != status)
        {
            Add(new GlbpChange(now, group, GlbpChangeKind.AuthenticationFailed,
                $"{GlbpText.Ip(sourceIp)} fails authentication ({GlbpText.Auth(mode)}): {Describe(status)}")
            { Member = sourceIp, To = status.ToString() });
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

        foreach (var (ip, m) in now.Members)
        {
            ObservedMember member = g.MemberTable[ip];
            string who = GlbpText.Ip(ip);
            if (was is null || !was.Members.TryGetValue(ip, out MemberSnapshot old))
            {
                Add(new GlbpChange(at, n, GlbpChangeKind.MemberHeard, $"{who} ({GlbpText.Mac(member.Mac)}) heard: {GlbpText.State(m.State)}, priority {m.Priority}")
                { Member = ip, To = GlbpText.State(m.State) });
                continue;
            }
            if (old.Silent && !m.Silent)
            {
                string gap = heardAgain is (ObservedMember back, long since) && back == member
                    ? $" after {GlbpText.Seconds((at - since) / 1_000_000)} s of silence"
                    : "";
                Add(new GlbpChange(at, n, GlbpChangeKind.MemberHeard, $"{who} heard again{gap}: {GlbpText.State(m.State)}, priority {m.Priority}")
                { Member = ip, From = "silent", To = GlbpText.State(m.State) });
            }
            if (!old.Silent && m.Silent)
            {
                Add(new GlbpChange(at, n, GlbpChangeKind.MemberSilent,
                    $"{who} silent: nothing heard for its hold time of {GlbpText.Seconds(member.HoldMs)} s since {GlbpText.Time(member.LastHeardNanoseconds)} (was {GlbpText.State(m.State)})")
                { Member = ip, From = GlbpText.State(m.State), To = "silent" });
            }
            if (old.State != m.State)
            {
                Add(new GlbpChange(at, n, GlbpChangeKind.MemberState, $"{who} {GlbpText.State(old.State)} -> {GlbpText.State(m.State)}")
                { Member = ip, From = GlbpText.State(old.State), To = GlbpText.State(m.State) });
            }
            if (old.Priority != m.Priority)
            {
                Add(new GlbpChange(at, n, GlbpChangeKind.MemberPriority, $"{who} priority {old.Priority} -> {m.Priority}")
                { Member = ip, From = Num(old.Priority), To = Num(m.Priority) });
            }
        }
        foreach (var (number, f) in now.Forwarders)
        {
            string what = $"forwarder {number}";
            if (was is null || !was.Forwarders.TryGetValue(number, out ObservedForwarder? old))
            {
                Add(new GlbpChange(at, n, GlbpChangeKind.ForwarderAppeared, $"{what} ({GlbpText.Mac(f.VirtualMac)}) appeared: {Forwarding(f)}")
                { Forwarder = number, To = GlbpText.State(f.State) });
                continue;
            }
            if (old.SameAs(f))
                continue;
            if (old.Owner != f.Owner)
            {
                Add(new GlbpChange(at, n, GlbpChangeKind.ForwarderOwner, $"{what} ({GlbpText.Mac(f.VirtualMac)}) owner {Owner(old.Owner)} -> {Owner(f.Owner)}: {Forwarding(f)}")
                { Forwarder = number, Member = f.Owner, From = Owner(old.Owner), To = Owner(f.Owner) });
            }
            else if (old.State != f.State)
            {
                Add(new GlbpChange(at, n, GlbpChangeKind.ForwarderState, $"{what} {GlbpText.State(old.State)} -> {GlbpText.State(f.State)}")
                { Forwarder = number, From = GlbpText.State(old.State), To = GlbpText.State(f.State) });
            }
            else if (old.Weight != f.Weight)
            {
                Add(new GlbpChange(at, n, GlbpChangeKind.ForwarderWeight, $"{what} weight {old.Weight} -> {f.Weight} on {Owner(f.Owner)}")
                { Forwarder = number, Member = f.Owner, From = old.Weight?.ToString(System.Globalization.CultureInfo.InvariantCulture), To = f.Weight?.ToString(System.Globalization.CultureInfo.InvariantCulture) });
            }
            else if (old.VirtualMac != f.VirtualMac)
            {
                Add(new GlbpChange(at, n, GlbpChangeKind.ForwarderState, $"{what} vMAC {GlbpText.Mac(old.VirtualMac)} -> {GlbpText.Mac(f.VirtualMac)}")
                { Forwarder = number, From = GlbpText.Mac(old.VirtualMac), To = GlbpText.Mac(f.VirtualMac) });
            }
        }
    }

    private static string Num(byte b) => b.ToString(System.Globalization.CultureInfo.InvariantCulture);

    private static string Owner(uint? ip) => ip is uint a ? GlbpText.Ip(a) : "none";

    private static string Forwarding(ObservedForwarder f) => f.State switch
    {
        GlbpVfState.Active => $"Active on {Owner(f.Owner)}, weight {f.Weight}",
        null => "no live member advertises it",
        _ => $"{GlbpText.State(f.State)}, no Active owner",
    };

    private void Add(GlbpChange change) => _changes.Add(change);

    private readonly record struct MemberSnapshot(GlbpVgState? State, byte Priority, bool Silent);

    /// <summary>What was last reported of a group: the baseline the next diff is taken against.</summary>
    private sealed record Snapshot(string? VirtualIp, GlbpTimers? Timers, GlbpAuthMode Authentication,
        SortedDictionary<uint, MemberSnapshot> Members, SortedDictionary<byte, ObservedForwarder> Forwarders)
    {
        public static Snapshot Of(ObservedGroup g) => new(g.VirtualIp, g.Timers, g.Authentication,
            new SortedDictionary<uint, MemberSnapshot>(g.MemberTable.Values.ToDictionary(m => m.Ip, m => new MemberSnapshot(m.State, m.Priority, m.IsSilent))),
            new SortedDictionary<byte, ObservedForwarder>(g.Forwarders.ToDictionary(f => f.Number)));
    }

    private sealed class GroupEntry(ObservedGroup group)
    {
        public ObservedGroup Group { get; } = group;

        public Snapshot? Reported { get; set; }
    }
}
