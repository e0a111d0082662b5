using Offload.Balancer.Classification;
using Offload.Balancer.Routing;
using Offload.Device;
using Offload.Gateway;

namespace Offload.Daemon;

// The gateway's own next hops (backends, via routes): their hardware next-hop entries and their MACs. An index is given
// once per (port, address) and kept for the node's life, reloads included, so established flows, which name the index,
// never find another next hop behind it; a MAC comes from the file or from ARP and is rewritten in place when it changes.
public sealed partial class GatewayNode
{
    private readonly NeighbourTable _neighbours;
    private readonly Dictionary<NeighbourKey, byte> _hopIndex = [];
    private readonly Dictionary<NeighbourKey, MacAddress> _staticMacs = [];
    private readonly HashSet<int> _legacyIndices = [];

    /// <summary>ARP resolution of backends and route next hops; only for the loop thread (and views under the state lock).</summary>
    public NeighbourTable Neighbours => _neighbours;

    // Indices the file fixes first, then the rest in the order the file names them, lowest free first. Legacy routes
    // (a MAC and an index, no address) keep theirs. Nothing given out while the node lives is given to another next hop
    // (flows of a draining backend or an old route still name it), so a reload that would do so is refused whole; the
    // new map replaces the old one only when every next hop has its entry.
    private void AssignNextHops(GatewayConfig config, DataplaneGeometry geometry)
    {
        var index = new Dictionary<NeighbourKey, byte>(_hopIndex);
        var problems = new List<string>();
        foreach (var r in config.Routes)
        {
            if (r.Via != 0)
                continue;
            foreach (var (key, at) in index)
            {
                if (at == r.NextHopIndex)
                    problems.Add($"route {r}: next hop {at} is {key}'s while this gateway runs (its flows may still name it); choose another index or restart");
            }
        }
        foreach (var spec in config.NextHops)
        {
            if (spec.Index is not { } wanted)
                continue;
            if (index.TryGetValue(spec.Key, out byte had))
            {
                if (had != wanted)
                    problems.Add($"{spec.Key}: its next hop cannot move from {had} to {wanted} while the gateway runs (its flows name {had}); restart to move it");
                continue;
            }
            var holder = index.Where(p => p.Value == wanted).Select(static p => (NeighbourKey?)p.Key).FirstOrDefault();
            if (holder is { } other || _legacyIndices.Contains(wanted))
                problems.Add($"{spec.Key}: next hop {wanted} is {(holder is { } h ? h.ToString() : "a route's")} while this gateway runs (its flows may still name it); choose another index or restart");
            else
                index[spec.Key] = (byte)wanted;
        }
        var legacy = new HashSet<int>(_legacyIndices);
        legacy.UnionWith(config.Routes.Where(static r => r.Via == 0).Select(static r => (int)r.NextHopIndex));
        foreach (var spec in config.NextHops)
        {
            if (index.ContainsKey(spec.Key))
                continue;
            if (FreeIndex(index, legacy, config, geometry) is { } free)
                index[spec.Key] = free;
            else
                problems.Add($"{spec.Key}: more next hops than the data plane's {geometry.NextHops / 2} backend entries (those of removed backends stay taken until a restart)");
        }
        if (problems.Count > 0)
            throw new GatewayConfigException("config", problems);
        _hopIndex.Clear();
        foreach (var (key, at) in index)
            _hopIndex[key] = at;
        _legacyIndices.UnionWith(legacy);
        _staticMacs.Clear();
        foreach (var spec in config.NextHops)
        {
            if (spec.Mac is { } mac)
                _staticMacs[spec.Key] = mac;
        }
    }

    private static byte? FreeIndex(Dictionary<NeighbourKey, byte> taken, HashSet<int> legacy, GatewayConfig config, DataplaneGeometry geometry)
    {
        int half = geometry.NextHops / 2;
        for (int i = 0; i < half; i++)
        {
            if (!taken.ContainsValue((byte)i) && !legacy.Contains(i) && !config.NextHops.Any(s => s.Index == i))
                return (byte)i;
        }
        return null;
    }

    // Starts ARP for every next hop whose MAC the file does not give; stops it for those no longer configured.
    private void WatchNeighbours(GatewayConfig config)
    {
        foreach (var view in _neighbours.View())
        {
            if (!config.NextHops.Any(s => s.Key == view.Key && s.Mac is null))
                _neighbours.Unwatch(view.Key);
        }
        foreach (var spec in config.NextHops)
        {
            if (spec.Mac is null)
                _neighbours.Watch(spec.Key);
        }
    }

    private MacAddress? MacOf(NeighbourKey key) =>
        _staticMacs.TryGetValue(key, out var mac) ? mac : _neighbours.TryGet(key, out var learnt) ? learnt : null;

    /// <summary>A backend's configuration with its next-hop index and MAC as this node holds them (MAC default: not resolved).</summary>
    private BackendConfig Bound(BackendConfig config)
    {
        var key = new NeighbourKey(config.EgressPort, config.Address);
        return _hopIndex.TryGetValue(key, out byte index) ? config with { NextHopIndex = index, Mac = MacOf(key) ?? default } : config;
    }

    /// <summary>A route ready for the table, or null while its next hop is not resolved.</summary>
    private Route? Bound(Route route)
    {
        if (route.Via == 0)
            return route;
        var key = new NeighbourKey(route.EgressPort, route.Via);
        if (!_hopIndex.TryGetValue(key, out byte index) || MacOf(key) is not { } mac)
            return null;
        return route with { NextHopIndex = index, NextHopMac = mac };
    }

    private NextHopRow? NextHopOf(NeighbourKey key)
    {
        if (!_hopIndex.TryGetValue(key, out byte index))
            return null;
        if (_staticMacs.TryGetValue(key, out var mac))
            return new NextHopRow(index, mac.ToString(), "configured");
        var view = _neighbours.ViewOf(key);
        return new NextHopRow(index, view?.Mac?.ToString(), (view?.State ?? NeighbourState.Incomplete).ToString().ToLowerInvariant());
    }

    // The loop thread, inside Step (NeighbourTable.Poll or OnFrame): every backend and route behind the neighbour follows.
    private void OnNeighbourChanged(NeighbourKey key, MacAddress? mac)
    {
        if (!_hopIndex.TryGetValue(key, out byte index))
            return;
        foreach (var service in Services.Services)
        {
            foreach (var b in service.Backends.ToList())
            {
                if (b.Config.EgressPort == key.Port && b.Config.Address == key.Ip)
                    service.SetNextHop(b.Id, index, mac ?? default);
            }
        }
        foreach (var route in _config.Routes)
        {
            if (route.Via != key.Ip || route.EgressPort != key.Port)
                continue;
            if (Bound(route) is { } bound)
                Services.Routes.Add(bound);
            else
                Services.Routes.Remove(route.Prefix, route.Length);
        }
    }
}
