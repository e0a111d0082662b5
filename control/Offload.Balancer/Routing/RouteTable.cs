using System.Globalization;
using Offload.Balancer.Classification;
using Offload.Device;

namespace Offload.Balancer.Routing;

/// <summary>
/// One static route: destinations in <paramref name="Prefix"/>/<paramref name="Length"/> leave through
/// <paramref name="EgressPort"/> to <paramref name="NextHopMac"/>. <paramref name="NextHopIndex"/> is the hardware
/// next-hop entry the route writes, fixed in configuration like a backend's, so a restarted control plane can tell
/// a routed flow entry from the next hop it names.
/// </summary>
/// <param name="Prefix">Network address; host bits must be 0.</param>
/// <param name="Length">Prefix length 0..32; 0 is the default route.</param>
/// <param name="Via">The next hop's IPv4 address when it is resolved by ARP (0: the MAC is configured); until it is, the
/// route is not in the table.</param>
public sealed record Route(uint Prefix, int Length, byte NextHopIndex, MacAddress NextHopMac, byte EgressPort = 1, uint Via = 0)
{
    public uint Mask => RouteTable.MaskOf(Length);

    public override string ToString() => string.Create(CultureInfo.InvariantCulture,
        $"{Prefix >> 24}.{(Prefix >> 16) & 255}.{(Prefix >> 8) & 255}.{Prefix & 255}/{Length} via {(Via != 0 ? $"{Via >> 24}.{(Via >> 16) & 255}.{(Via >> 8) & 255}.{Via & 255} " : "")}{NextHopMac} port {EgressPort} (nh {NextHopIndex})");
}

/// <summary>
/// The gateway's static routes for traffic that is addressed to one of its MACs but to no service: longest prefix
/// match over IPv4 destinations, with an optional default route (length 0). New flows that match are installed as
/// hardware entries (TTL decrement, MAC rewrite to the route's next hop) under a token bucket, like services.
/// </summary>
/// <remarks>
/// A hash table per prefix length, probed from the longest length present down: at most 33 probes and no
/// allocation per lookup, which is plenty for a static table on the miss path. Not thread-safe.
/// </remarks>
public sealed class RouteTable
{
    private readonly NextHopTable _nextHops;
    private readonly IReadOnlyList<MacAddress> _portMacs;
    private readonly Dictionary<uint, Route>?[] _byLength = new Dictionary<uint, Route>?[33];
    private readonly int[] _lengths = new int[33];
    private int _lengthCount;

    /// <param name="portMacs">PORT0_MAC and PORT1_MAC: the source MAC a routed frame leaves with.</param>
    public RouteTable(NextHopTable nextHops, IReadOnlyList<MacAddress> portMacs, TimeProvider time, double installsPerSecond = 0, int installBurst = 64)
    {
        _nextHops = nextHops ?? throw new ArgumentNullException(nameof(nextHops));
        _portMacs = portMacs ?? throw new ArgumentNullException(nameof(portMacs));
        ArgumentNullException.ThrowIfNull(time);
        Installs = new TokenBucket(installsPerSecond, Math.Max(1, installBurst), time);
    }

    /// <summary>New-flow installs of routed traffic (0 or less: unlimited); over the limit a packet is forwarded without an entry.</summary>
    public TokenBucket Installs { get; private set; }

    public int Count { get; private set; }

    public IEnumerable<Route> Routes => _byLength.Where(static d => d is not null).SelectMany(static d => d!.Values);

    /// <summary>Replaces the install limiter (the configuration's rate for routed flows).</summary>
    public void SetInstallRate(double perSecond, int burst, TimeProvider time) =>
        Installs = new TokenBucket(perSecond, Math.Max(1, burst), time);

    /// <summary>Adds a route or replaces the one with the same prefix and length; writes its next hop.</summary>
    /// <exception cref="ArgumentException">The length is outside 0..32, the prefix has host bits set, or the egress port is not 0 or 1.</exception>
    public void Add(Route route)
    {
        ArgumentNullException.ThrowIfNull(route);
        if (route.Length is < 0 or > 32)
            throw new ArgumentException($"route {route.Prefix:X8}/{route.Length}: prefix length must be 0..32", nameof(route));
        if ((route.Prefix & ~route.Mask) != 0)
            throw new ArgumentException($"route {route}: the prefix has bits set past its length", nameof(route));
        if (route.EgressPort > 1)
            throw new ArgumentException($"route {route}: egress port must be 0 or 1", nameof(route));
        _nextHops.SetFixed(route.NextHopIndex, new NextHop(route.EgressPort, route.NextHopMac, _portMacs[route.EgressPort]));
        var table = _byLength[route.Length];
        if (table is null)
        {
            table = _byLength[route.Length] = [];
            InsertLength(route.Length);
        }
        if (!table.ContainsKey(route.Prefix))
            Count++;
        table[route.Prefix] = route;
    }

    /// <summary>Removes the route for exactly this prefix and length. Installed flows keep their entries until they age out.</summary>
    public bool Remove(uint prefix, int length)
    {
        if (length is < 0 or > 32 || _byLength[length] is not { } table || !table.Remove(prefix))
            return false;
        Count--;
        if (table.Count == 0)
        {
            _byLength[length] = null;
            int at = Array.IndexOf(_lengths, length, 0, _lengthCount);
            Array.Copy(_lengths, at + 1, _lengths, at, _lengthCount - at - 1);
            _lengthCount--;
        }
        return true;
    }

    /// <summary>The longest-prefix route for <paramref name="destination"/>; false when none (not even a default) matches.</summary>
    public bool TryLookup(uint destination, out Route route)
    {
        for (int i = 0; i < _lengthCount; i++)
        {
            int length = _lengths[i];
            if (_byLength[length]!.TryGetValue(destination & MaskOf(length), out route!))
                return true;
        }
        route = null!;
        return false;
    }

    public static uint MaskOf(int length) => length <= 0 ? 0u : length >= 32 ? uint.MaxValue : ~(uint.MaxValue >> length);

    // Lengths present, longest first, so a lookup stops at its first hit.
    private void InsertLength(int length)
    {
        int at = 0;
        while (at < _lengthCount && _lengths[at] > length)
            at++;
        Array.Copy(_lengths, at, _lengths, at + 1, _lengthCount - at);
        _lengths[at] = length;
        _lengthCount++;
    }
}
