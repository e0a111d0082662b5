namespace Offload.Group;

/// <summary>One forwarder as this member sees it (`show glbp`).</summary>
/// <param name="Weighting">The weighting of whoever forwards it now (this box when Active here), 0 when unknown: what
/// weighted slot tables and takeovers go by.</param>
public sealed record GlbpForwarderInfo(byte Number, ulong Vmac, ulong OwnerMac, bool Owned, ForwarderState State, uint HolderIp,
    bool Redirected, byte Weighting = 0);

/// <summary>A consistent copy of a group's state, for `show glbp` and tests. Allocates; not for hot paths.</summary>
public sealed record GlbpGroupSnapshot(ushort Group, GatewayState State, uint VirtualIp, byte Priority, byte Weighting, bool Forwarding,
    uint ActiveIp, uint StandbyIp, int Members, IReadOnlyList<GlbpForwarderInfo> Forwarders);

public sealed partial class GlbpGroup
{
    public GlbpGroupSnapshot Snapshot()
    {
        lock (_lock)
        {
            var forwarders = new List<GlbpForwarderInfo>();
            foreach (var f in _forwarders)
            {
                if (f is not null)
                {
                    byte weighting = f.State == ForwarderState.Active ? _weighting.Current
                        : f.HolderIp != 0 && FindPeer(f.HolderIp) is { } holder ? holder.Weight : (byte)0;
                    forwarders.Add(new(f.Number, f.Vmac, f.OwnerMac, f.OwnerMac == _options.LocalMac, f.State, f.HolderIp, f.Redirected, weighting));
                }
            }
            uint active = _state == GatewayState.Active ? _options.LocalIp : BestPeerIn(Protocol.Glbp.GlbpVgState.Active)?.Ip ?? 0;
            uint standby = _state == GatewayState.Standby ? _options.LocalIp : BestPeerIn(Protocol.Glbp.GlbpVgState.Standby)?.Ip ?? 0;
            return new(_options.Group, _state, _virtualIp, _priority, _weighting.Current, _weighting.Forwarding, active, standby,
                _peers.Count + 1, forwarders);
        }
    }
}
