using Offload.Balancer.Routing;
using Offload.Device;

namespace Offload.Balancer.Classification;

/// <summary>
/// Every service of this gateway by (virtual IP, protocol, port), the next-hop table they share, and the one
/// clock they all run on.
/// </summary>
public sealed class ServiceTable
{
    private readonly Dictionary<ServiceKey, Service> _services = [];
    private readonly HashSet<uint> _virtualIps = [];
    private readonly MacAddress[] _portMacs;
    private readonly TimeProvider _time;
    private readonly long _start;

    /// <param name="portMacs">PORT0_MAC and PORT1_MAC: the source MAC of frames this gateway sends on each port.</param>
    /// <param name="dynamicNextHops">Next-hop indices handed out for return paths to clients (NAT); backends use the others.</param>
    public ServiceTable(Dataplane dataplane, IReadOnlyList<MacAddress> portMacs, TimeProvider? time = null, Range? dynamicNextHops = null)
    {
        ArgumentNullException.ThrowIfNull(dataplane);
        ArgumentNullException.ThrowIfNull(portMacs);
        if (portMacs.Count != 2)
            throw new ArgumentException("the data plane has two ports", nameof(portMacs));
        _portMacs = [portMacs[0], portMacs[1]];
        _time = time ?? TimeProvider.System;
        _start = _time.GetTimestamp();
        int size = dataplane.Geometry.NextHops;
        // Backends take the low indices by convention; the upper half serves clients.
        var (first, count) = (dynamicNextHops ?? new Range(size / 2, size)).GetOffsetAndLength(size);
        NextHops = new NextHopTable(dataplane, first, count);
        Routes = new RouteTable(NextHops, _portMacs, _time);
    }

    public NextHopTable NextHops { get; }

    /// <summary>Static routes for traffic to this gateway that no service takes; they share the next-hop table.</summary>
    public RouteTable Routes { get; }

    public TimeProvider Time => _time;

    /// <summary>Time since the table was created, on the injected clock: the balancer's notion of now.</summary>
    public TimeSpan Now => _time.GetElapsedTime(_start);

    public TimeSpan DefaultDrainTimeout { get; set; } = TimeSpan.FromSeconds(30);

    public IEnumerable<Service> Services => _services.Values;

    public MacAddress PortMac(int port) => _portMacs[port];

    public Service Add(ServiceConfig config)
    {
        ArgumentNullException.ThrowIfNull(config);
        var service = new Service(config, this, _time);
        if (!_services.TryAdd(config.Key, service))
            throw new ArgumentException($"a service for {config.Key} exists already", nameof(config));
        _virtualIps.Add(config.Key.VirtualIp);
        return service;
    }

    public bool TryFind(in ServiceKey key, out Service service) => _services.TryGetValue(key, out service!);

    /// <summary>True when some service listens on <paramref name="address"/>: traffic to it is ours, never routed on.</summary>
    public bool IsVirtualIp(uint address) => _virtualIps.Contains(address);

    /// <summary>Lets every service forget backends whose drain has ended.</summary>
    internal void FinishDrains(TimeSpan now)
    {
        foreach (var s in _services.Values)
            s.FinishDrains(now);
    }
}
