using System.Globalization;
using Microsoft.Extensions.Logging;
using Offload.Device;
using Offload.Protocol;

namespace Offload.Gateway;

/// <summary>Where a watched neighbour's resolution stands (after the Linux neighbour states it copies).</summary>
public enum NeighbourState
{
    /// <summary>Asked by broadcast, no answer yet; never resolved.</summary>
    Incomplete,

    /// <summary>Resolved and confirmed within <see cref="NeighbourOptions.ReachableTime"/>.</summary>
    Reachable,

    /// <summary>Resolved, but not heard for a while: asked again (unicast, then broadcast); still used meanwhile.</summary>
    Probing,

    /// <summary>Did not answer: its MAC is withdrawn; asked again every <see cref="NeighbourOptions.FailedRetry"/>.</summary>
    Failed,
}

/// <summary>A neighbour is one IPv4 address behind one of the data plane's ports.</summary>
public readonly record struct NeighbourKey(byte Port, uint Ip)
{
    public override string ToString() => string.Create(CultureInfo.InvariantCulture, $"{Ipv4Address.Format(Ip)} on port {Port}");
}

/// <summary>Timers of ARP resolution. The defaults are Linux's (retrans_time 1 s, 3 solicitations) except the reachable
/// time, which is longer than Linux's 30 s randomised: a backend answers a unicast probe in microseconds, so it costs
/// nothing to confirm less often.</summary>
public sealed record NeighbourOptions
{
    /// <summary>Between two requests for a neighbour that has not answered.</summary>
    public TimeSpan RetransmitTime { get; init; } = TimeSpan.FromSeconds(1);

    /// <summary>Requests of each kind (unicast probes, then broadcasts) before a neighbour is given up.</summary>
    public int Solicitations { get; init; } = 3;

    /// <summary>How long an answer confirms a neighbour before it is probed again.</summary>
    public TimeSpan ReachableTime { get; init; } = TimeSpan.FromSeconds(60);

    /// <summary>Between two broadcasts for a neighbour that failed: a backend that comes up later is found.</summary>
    public TimeSpan FailedRetry { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>
    /// A MAC heard within this time of the last change is ignored (Linux's locktime): two hosts answering for one
    /// address, or a proxy-ARP router beside the real host, cannot make established flows flip on every packet.
    /// </summary>
    public TimeSpan LockTime { get; init; } = TimeSpan.FromSeconds(1);
}

/// <summary>What the table knows of one neighbour, for the API and metrics.</summary>
public sealed record NeighbourView(NeighbourKey Key, NeighbourState State, MacAddress? Mac, DateTimeOffset Since, long Requests, long MacChanges);

/// <summary>
/// ARP resolution of the gateway's own next hops (backends, route gateways) through the device's host queues: the
/// control plane asks, the data plane carries the frames (nothing goes around it). Watched addresses are resolved,
/// re-confirmed, followed when their MAC changes (any ARP from them, a gratuitous one included), and given up when they
/// stop answering; <see cref="Changed"/> tells the owner each time the usable MAC of a neighbour changes. It also
/// answers ARP requests for the gateway's own port addresses, so a backend that learnt us from a request can confirm us.
/// </summary>
/// <remarks>
/// Driven from the gateway loop (<see cref="OnFrame"/> for host frames with reason ARP, <see cref="Poll"/> every round)
/// on an injected clock; not thread-safe. Written here rather than left to the kernel because the kernel never sees
/// these ports: the model (or the FPGA) owns them, and only the control plane can speak for their MACs. Nothing is
/// allocated per frame; a request the host TX queue cannot take now is sent on a later round.
/// </remarks>
public sealed class NeighbourTable
{
    private readonly Dataplane _dataplane;
    private readonly TimeProvider _time;
    private readonly NeighbourOptions _options;
    private readonly MacAddress[] _portMacs;
    private readonly uint[] _portIps;
    private readonly ILogger _log;
    private readonly Dictionary<NeighbourKey, Entry> _entries = [];
    private readonly byte[] _tx = new byte[FrameBuilder.MinFrame];

    /// <param name="portMacs">PORT0_MAC and PORT1_MAC: the source of every request and reply.</param>
    /// <param name="portIps">The gateway's address on each port (0: none; requests from it are ARP probes with
    /// sender 0.0.0.0, RFC 5227, which hosts answer without learning us).</param>
    public NeighbourTable(Dataplane dataplane, TimeProvider time, IReadOnlyList<MacAddress> portMacs, IReadOnlyList<uint> portIps, ILogger log, NeighbourOptions? options = null)
    {
        _dataplane = dataplane ?? throw new ArgumentNullException(nameof(dataplane));
        _time = time ?? throw new ArgumentNullException(nameof(time));
        ArgumentNullException.ThrowIfNull(portMacs);
        ArgumentNullException.ThrowIfNull(portIps);
        if (portMacs.Count != 2 || portIps.Count != 2)
            throw new ArgumentException("the data plane has two ports: give a MAC and an address (or 0) for each");
        _portMacs = [.. portMacs];
        _portIps = [.. portIps];
        _log = log ?? throw new ArgumentNullException(nameof(log));
        _options = options ?? new NeighbourOptions();
        ArgumentOutOfRangeException.ThrowIfLessThan(_options.Solicitations, 1, nameof(options));
    }

    /// <summary>A neighbour's usable MAC changed: resolved, moved to another MAC, or withdrawn (null).</summary>
    public event Action<NeighbourKey, MacAddress?>? Changed;

    /// <summary>ARP requests sent (both kinds).</summary>
    public long RequestsSent { get; private set; }

    /// <summary>Requests the host TX queue had no room for (sent a round later).</summary>
    public long RequestsDeferred { get; private set; }

    /// <summary>Replies sent for the gateway's own port addresses.</summary>
    public long RepliesSent { get; private set; }

    /// <summary>ARP packets from watched neighbours that resolved or confirmed them.</summary>
    public long Confirmations { get; private set; }

    /// <summary>Times a watched neighbour answered from a MAC other than the one held.</summary>
    public long MacChanges { get; private set; }

    /// <summary>A different MAC heard within the lock time of the last change, ignored.</summary>
    public long LockedOut { get; private set; }

    /// <summary>Times a neighbour was given up.</summary>
    public long Failures { get; private set; }

    public int Count => _entries.Count;

    /// <summary>Starts resolving <paramref name="key"/> (the first request leaves on the next <see cref="Poll"/>); a no-op when already watched.</summary>
    public void Watch(NeighbourKey key)
    {
        if (key.Port > 1)
            throw new ArgumentOutOfRangeException(nameof(key), key.Port, "ports are 0 and 1");
        if (key.Ip == 0)
            throw new ArgumentException("0.0.0.0 is no neighbour", nameof(key));
        if (_entries.ContainsKey(key))
            return;
        _entries[key] = new Entry { State = NeighbourState.Incomplete, Since = _time.GetUtcNow(), Due = _time.GetTimestamp() };
    }

    /// <summary>Stops resolving <paramref name="key"/>; true when it was watched.</summary>
    public bool Unwatch(NeighbourKey key) => _entries.Remove(key);

    /// <summary>The usable MAC of <paramref name="key"/>: resolved and not given up.</summary>
    public bool TryGet(NeighbourKey key, out MacAddress mac)
    {
        if (_entries.TryGetValue(key, out var e) && e.Mac is { } m)
        {
            mac = m;
            return true;
        }
        mac = default;
        return false;
    }

    /// <summary>One neighbour's state, without building the whole view (a row of <c>show backends</c>).</summary>
    public NeighbourView? ViewOf(NeighbourKey key) =>
        _entries.TryGetValue(key, out var e) ? new NeighbourView(key, e.State, e.Mac, e.Since, e.Requests, e.Changes) : null;

    public IReadOnlyList<NeighbourView> View() =>
        [.. _entries.OrderBy(static p => p.Key.Port).ThenBy(static p => p.Key.Ip).Select(static p => new NeighbourView(p.Key, p.Value.State, p.Value.Mac, p.Value.Since, p.Value.Requests, p.Value.Changes))];

    /// <summary>
    /// Takes a host frame punted with reason ARP: learns from a watched sender, answers a request for one of our port
    /// addresses. False when the frame holds no Ethernet/IPv4 ARP packet.
    /// </summary>
    public bool OnFrame(in HostFrame meta, ReadOnlySpan<byte> frame)
    {
        if (!ArpPacket.TryReadFrame(frame, out var arp) || meta.IngressPort > 1)
            return false;
        byte port = meta.IngressPort;
        if (arp.SenderIp != 0 && arp.SenderMac != 0 && (arp.SenderMac & 0x0100_0000_0000UL) == 0
            && _entries.TryGetValue(new NeighbourKey(port, arp.SenderIp), out var e))
        {
            Confirm(new NeighbourKey(port, arp.SenderIp), e, new MacAddress(arp.SenderMac));
        }
        uint own = _portIps[port];
        if (arp.Operation == ArpPacket.OperationRequest && own != 0 && arp.TargetIp == own && arp.SenderMac != 0)
        {
            // RFC 826: the answer goes to the asker's hardware address; a probe (sender 0.0.0.0) gets it too (RFC 5227).
            int n = FrameBuilder.Arp(_tx, new EthernetHeader(arp.SenderMac, _portMacs[port].Value),
                ArpPacket.Reply(_portMacs[port].Value, own, arp.SenderMac, arp.SenderIp));
            if (_dataplane.SendHost(port, _tx.AsSpan(0, n)))
                RepliesSent++;
        }
        return true;
    }

    /// <summary>Sends what is due: first requests, re-confirmations, retries; gives up neighbours that stayed silent.</summary>
    public void Poll()
    {
        if (_entries.Count == 0)
            return;
        // Timers on the monotonic clock: a wall-clock step must not stop or rush the requests.
        long now = _time.GetTimestamp();
        foreach (var (key, e) in _entries)
        {
            if (now < e.Due)
                continue;
            switch (e.State)
            {
                case NeighbourState.Reachable:
                    // Heard nothing for a reachable time: ask the MAC we hold first, as Linux's probe does.
                    e.State = NeighbourState.Probing;
                    e.Asked = 0;
                    goto case NeighbourState.Probing;
                case NeighbourState.Probing:
                    if (e.Asked >= 2 * _options.Solicitations)
                    {
                        GiveUp(key, e, now);
                        break;
                    }
                    bool unicast = e.Asked < _options.Solicitations;
                    if (Ask(key, e, unicast ? e.Mac : null))
                        e.Due = After(now, _options.RetransmitTime);
                    break;
                case NeighbourState.Incomplete:
                    if (e.Asked >= _options.Solicitations)
                    {
                        GiveUp(key, e, now);
                        break;
                    }
                    if (Ask(key, e, null))
                        e.Due = After(now, _options.RetransmitTime);
                    break;
                case NeighbourState.Failed:
                    if (Ask(key, e, null))
                        e.Due = After(now, _options.FailedRetry);
                    break;
            }
        }
    }

    private void Confirm(NeighbourKey key, Entry e, MacAddress mac)
    {
        long now = _time.GetTimestamp();
        var was = e.Mac;
        if (was is { } held && held != mac && _time.GetElapsedTime(e.Changed, now) < _options.LockTime)
        {
            LockedOut++;
            return;
        }
        Confirmations++;
        var state = e.State;
        e.Mac = mac;
        e.State = NeighbourState.Reachable;
        e.Asked = 0;
        e.Due = After(now, _options.ReachableTime);
        if (state != NeighbourState.Reachable && state != NeighbourState.Probing)
            e.Since = _time.GetUtcNow();
        if (was == mac)
            return;
        e.Changed = now;
        if (was is { } old)
        {
            MacChanges++;
            e.Changes++;
            _log.LogWarning("Neighbour {Neighbour} moved from {Old} to {New}: its next hop follows", key, old, mac);
        }
        else
        {
            _log.LogInformation("Neighbour {Neighbour} is at {Mac}{After}", key, mac,
                state == NeighbourState.Failed ? " again" : "");
        }
        Changed?.Invoke(key, mac);
    }

    private void GiveUp(NeighbourKey key, Entry e, long now)
    {
        Failures++;
        bool had = e.Mac is not null;
        _log.LogWarning("Neighbour {Neighbour} does not answer ARP ({Requests} request(s)): {What}", key, e.Asked,
            had ? "its MAC is withdrawn and no new flow goes to it" : "nothing goes to it until it answers");
        e.State = NeighbourState.Failed;
        e.Mac = null;
        e.Since = _time.GetUtcNow();
        e.Asked = 0;
        e.Due = After(now, _options.FailedRetry);
        if (had)
            Changed?.Invoke(key, null);
    }

    // One request: to the MAC held (a unicast probe) or to everyone. False when the host TX queue is full: try next round.
    private bool Ask(NeighbourKey key, Entry e, MacAddress? to)
    {
        var source = _portMacs[key.Port];
        ulong destination = to?.Value ?? 0xFFFF_FFFF_FFFFUL;
        int n = FrameBuilder.Arp(_tx, new EthernetHeader(destination, source.Value), ArpPacket.Request(source.Value, _portIps[key.Port], key.Ip));
        if (!_dataplane.SendHost(key.Port, _tx.AsSpan(0, n)))
        {
            RequestsDeferred++;
            return false;
        }
        RequestsSent++;
        e.Requests++;
        e.Asked++;
        return true;
    }

    private long After(long timestamp, TimeSpan span) => timestamp + (long)(span.TotalSeconds * _time.TimestampFrequency);

    private sealed class Entry
    {
        public NeighbourState State { get; set; }
        public MacAddress? Mac { get; set; }
        public DateTimeOffset Since { get; set; }

        /// <summary>Monotonic timestamp of the next request (TimeProvider.GetTimestamp).</summary>
        public long Due { get; set; }

        /// <summary>Monotonic timestamp of the last MAC change, for the lock time.</summary>
        public long Changed { get; set; } = long.MinValue / 2;
        public int Asked { get; set; }
        public long Requests { get; set; }
        public long Changes { get; set; }
    }
}
