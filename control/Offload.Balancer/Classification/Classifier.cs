using Offload.Balancer.Tracking;
using Offload.Device;

namespace Offload.Balancer.Classification;

/// <summary>What the classifier did with one punted frame.</summary>
public enum ClassifyOutcome
{
    /// <summary>New connection: entries installed, first packet re-injected.</summary>
    Installed,

    /// <summary>The key was installed already (a packet queued before its entry existed): re-injected with that entry.</summary>
    Existing,

    /// <summary>Over the service's install rate: re-injected to the Maglev choice, no entry.</summary>
    RateLimited,

    /// <summary>Flow table or client next hops full: re-injected to the scheduler's choice, no entry.</summary>
    TableFull,

    /// <summary>Dropped: not a frame a MISS can carry (not IPv4, options, fragment, truncated).</summary>
    Malformed,

    /// <summary>Dropped: no service for (destination, protocol, port), and the destination is one of our VIPs or this gateway has no routes.</summary>
    NoService,

    /// <summary>Routed (no service, a route matched): forward entry installed, first packet re-injected toward the route's next hop.</summary>
    Routed,

    /// <summary>Dropped: no service, and no route (not even a default) matches the destination.</summary>
    NoRoute,

    /// <summary>Dropped: the service has no healthy backend with weight.</summary>
    NoBackend,

    /// <summary>Dropped: the TTL would expire at this hop.</summary>
    TtlExpired,

    /// <summary>Dropped: the host TX queue had no room for the re-injected packet.</summary>
    HostTxFull,
}

/// <summary>
/// Turns a punted MISS into a connection: parses the 5-tuple, finds the service, picks a backend over the
/// healthy ones, has the tracker install the entries (forward, and reverse for NAT), and re-injects the first
/// packet rewritten exactly as its entry would have rewritten it, out the next hop's port through the host TX
/// queue. Traffic for no service follows the static routes (<see cref="Routing.RouteTable"/>) the same way. Packets that cannot get an entry are still forwarded and counted; only frames no service can take
/// are dropped, each with its reason.
/// </summary>
/// <remarks>Rewrites the frame in the caller's buffer, so a classification allocates nothing beyond a new
/// session. Not thread-safe.</remarks>
public sealed class Classifier
{
    private readonly Dataplane _dataplane;
    private readonly ServiceTable _services;
    private readonly SessionTracker _tracker;
    private readonly long[] _counts = new long[Enum.GetValues<ClassifyOutcome>().Length];

    public Classifier(Dataplane dataplane, ServiceTable services, SessionTracker tracker)
    {
        _dataplane = dataplane ?? throw new ArgumentNullException(nameof(dataplane));
        _services = services ?? throw new ArgumentNullException(nameof(services));
        _tracker = tracker ?? throw new ArgumentNullException(nameof(tracker));
    }

    public long Count(ClassifyOutcome outcome) => _counts[(int)outcome];

    /// <summary>Classifies one MISS frame (<paramref name="frame"/> is rewritten in place when forwarded).</summary>
    public ClassifyOutcome Classify(byte ingressPort, Span<byte> frame)
    {
        var outcome = ClassifyCore(ingressPort, frame);
        _counts[(int)outcome]++;
        return outcome;
    }

    private ClassifyOutcome ClassifyCore(byte ingressPort, Span<byte> frame)
    {
        if (!PacketRewriter.TryParse(frame, ingressPort, out var packet))
            return ClassifyOutcome.Malformed;
        var key = packet.Key;

        // Installed after this packet was punted (it was queued behind the first one): forward it the way the
        // entry does now, so the connection never sees two backends.
        var flows = _tracker.Flows;
        if (flows.TryGetIndex(key, out int index) && flows.EntryAt(index) is { } entry
            && _services.NextHops.Get(entry.Action.NextHop) is { } existingHop)
            return Forward(frame, packet, entry.Action, existingHop, ClassifyOutcome.Existing);

        if (!_services.TryFind(new ServiceKey(key.DstIp, key.Protocol, key.DstPort), out var service))
            return Route(frame, packet);

        bool limited = !service.Installs.TryTake();
        // A TCP packet that is not a bare SYN belongs to a connection already running: one forwarded without an
        // entry went to the Maglev choice, so its later packets must go there too whatever the scheduler.
        bool midStream = key.Protocol == 6 && !IsBareSyn(packet);
        var backend = limited || midStream ? service.PickMaglev(key) : service.Pick(key);
        if (backend is null)
            return ClassifyOutcome.NoBackend;
        var b = backend.Config;
        var forwardAction = service.Mode == ForwardingMode.Nat
            ? new FlowAction(b.NextHopIndex, service.Config.DecrementTtl, NatMode.Destination, b.Address, b.Port)
            : new FlowAction(b.NextHopIndex, service.Config.DecrementTtl);
        if (forwardAction.TtlDecrement && packet.Ttl <= 1)
            return ClassifyOutcome.TtlExpired;
        var nextHop = _services.NextHops.Get(b.NextHopIndex)
            ?? throw new InvalidOperationException($"backend {b.Id}'s next hop {b.NextHopIndex} was never written");

        if (limited)
            return Forward(frame, packet, forwardAction, nextHop, ClassifyOutcome.RateLimited);

        // The MAC the client addressed says whose flow this is: a peer that takes over that vMAC takes the session.
        var clientVmac = MacAddress.FromBytes(frame);
        Session? session;
        if (service.Mode == ForwardingMode.Nat)
        {
            // The way back: to the client's MAC, from the MAC it addressed (the vMAC it uses as gateway).
            var toClient = new NextHop(ingressPort, MacAddress.FromBytes(frame[6..]), MacAddress.FromBytes(frame));
            int nh = _services.NextHops.Acquire(toClient);
            if (nh < 0)
                return Forward(frame, packet, forwardAction, nextHop, ClassifyOutcome.TableFull);
            var reverse = new FlowKey((byte)(b.EgressPort & 1), b.Address, key.SrcIp, key.Protocol, b.Port != 0 ? b.Port : key.DstPort, key.SrcPort);
            var reverseAction = new FlowAction((byte)nh, service.Config.DecrementTtl, NatMode.Source, key.DstIp, key.DstPort);
            session = _tracker.Install(service, backend, key, forwardAction, reverse, reverseAction, IsBareSyn(packet), nh, clientVmac);
            if (session is null)
                _services.NextHops.Release(nh);
        }
        else
        {
            session = _tracker.Install(service, backend, key, forwardAction, null, default, IsBareSyn(packet), vmac: clientVmac);
        }
        return Forward(frame, packet, forwardAction, nextHop, session is null ? ClassifyOutcome.TableFull : ClassifyOutcome.Installed);
    }

    // Traffic to us that no service takes: the static routes decide. Routed hops always decrement TTL (we act as
    // a router), and every packet of the 5-tuple goes the same way whether or not it got an entry, so the limiter
    // only decides whether the hardware or this path forwards the flow.
    private ClassifyOutcome Route(Span<byte> frame, in ParsedPacket packet)
    {
        var routes = _services.Routes;
        // A VIP is this gateway's own address: a port no service listens on is closed, not somewhere else.
        if (routes.Count == 0 || _services.IsVirtualIp(packet.Key.DstIp))
            return ClassifyOutcome.NoService;
        if (!routes.TryLookup(packet.Key.DstIp, out var route))
            return ClassifyOutcome.NoRoute;
        var action = new FlowAction(route.NextHopIndex, TtlDecrement: true);
        if (packet.Ttl <= 1)
            return ClassifyOutcome.TtlExpired;
        var nextHop = _services.NextHops.Get(route.NextHopIndex)
            ?? throw new InvalidOperationException($"route {route}'s next hop {route.NextHopIndex} was never written");
        if (!routes.Installs.TryTake())
            return Forward(frame, packet, action, nextHop, ClassifyOutcome.RateLimited);
        var session = _tracker.InstallRouted(packet.Key, action, IsBareSyn(packet));
        return Forward(frame, packet, action, nextHop, session is null ? ClassifyOutcome.TableFull : ClassifyOutcome.Routed);
    }

    private static bool IsBareSyn(in ParsedPacket p) => p.Key.Protocol == 6 && (p.TcpFlags & 0x12) == 0x02;

    private ClassifyOutcome Forward(Span<byte> frame, in ParsedPacket packet, in FlowAction action, in NextHop nextHop, ClassifyOutcome outcome)
    {
        if (action.TtlDecrement && packet.Ttl <= 1)
            return ClassifyOutcome.TtlExpired;
        PacketRewriter.Rewrite(frame, packet, action, nextHop);
        return _dataplane.SendHost(nextHop.Port & 1, frame) ? outcome : ClassifyOutcome.HostTxFull;
    }
}
