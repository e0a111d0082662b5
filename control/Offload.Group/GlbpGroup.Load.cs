using Offload.Protocol.Glbp;

namespace Offload.Group;

/// <summary>A forwarder's load as the group last applied it to the slot table (packets/s and installed flows).</summary>
public readonly record struct GlbpForwarderLoad(double PacketsPerSecond, double Flows);

// Load-based ARP (Offload's own): every member measures its forwarding load, carries it to the AVG in the
// Offload load TLV of its hellos, and the Active AVG weights the slot table by the inverse of each forwarder's load.
public sealed partial class GlbpGroup
{
    /// <summary>
    /// A reported load replaces the one in use only when it moved by more than this fraction of it (or by the
    /// absolute floors below). A rate measured over one interval jitters by a few percent, and every rebuild costs
    /// a rewrite of the slot table with the responder briefly disabled and its round-robin pointer back at slot
    /// 0; a 25% shift in load moves the forwarder's share of slots by about a fifth, which is worth that, while
    /// noise is not.
    /// </summary>
    public const double LoadHysteresis = 0.25;

    /// <summary>Below these absolute changes a load is noise whatever its relative change (an idle box going 0 → 3 pps).</summary>
    public const double MinPacketsPerSecondStep = 10;

    public const double MinFlowsStep = 8;

    private readonly double[] _appliedPps = new double[GlbpVirtualMac.MaxForwarder + 1];
    private readonly double[] _appliedFlows = new double[GlbpVirtualMac.MaxForwarder + 1];
    private readonly bool[] _hasLoad = new bool[GlbpVirtualMac.MaxForwarder + 1];
    private double _localPps;
    private double _localFlows;
    private bool _localLoadSet;

    /// <summary>How many times a reported load crossed the hysteresis and changed the loads the slot table uses.</summary>
    public int LoadUpdates
    {
        get
        {
            lock (_lock)
                return _loadUpdates;
        }
    }

    private int _loadUpdates;

    /// <summary>
    /// This box's forwarding load, measured by the caller (the device's load meter) every interval. It is split
    /// evenly over the forwarders this member forwards (the hardware counts per port, not per vMAC), sent in every
    /// hello while the group balances LoadBased, and applied directly when this member is the AVG.
    /// </summary>
    public void SetLocalLoad(double packetsPerSecond, int flows)
    {
        if (double.IsNaN(packetsPerSecond) || packetsPerSecond < 0 || double.IsInfinity(packetsPerSecond))
            throw new ArgumentOutOfRangeException(nameof(packetsPerSecond), packetsPerSecond, "packets per second must be a finite non-negative number");
        ArgumentOutOfRangeException.ThrowIfNegative(flows);
        Run(() =>
        {
            _localPps = packetsPerSecond;
            _localFlows = flows;
            _localLoadSet = true;
            int mine = ForwardedCount();
            if (mine == 0)
                return;
            foreach (var f in _forwarders)
            {
                if (f is { State: ForwarderState.Active })
                    ReportLoad(f.Number, _localPps / mine, _localFlows / mine);
            }
        });
    }

    /// <summary>The load in use for <paramref name="forwarder"/>, if one was reported.</summary>
    public bool TryGetForwarderLoad(byte forwarder, out GlbpForwarderLoad load)
    {
        lock (_lock)
        {
            bool known = _hasLoad[forwarder] && _forwarders[forwarder] is not null;
            load = known ? new(_appliedPps[forwarder], _appliedFlows[forwarder]) : default;
            return known;
        }
    }

    private int ForwardedCount()
    {
        int n = 0;
        foreach (var f in _forwarders)
        {
            if (f is { State: ForwarderState.Active })
                n++;
        }
        return n;
    }

    /// <summary>Hello hook: one load TLV per forwarder we forward, when the group is load-based and we have measured.</summary>
    private void WriteLoads(ref GlbpWriter writer, bool resign)
    {
        if (resign || !_localLoadSet || _loadBalancing != GlbpLoadBalancing.LoadBased)
            return;
        int mine = ForwardedCount();
        // Room for one more Request/Response must remain, or receivers would take the hello for a truncated one.
        if (mine == 0 || writer.Length + (mine * GlbpOffloadLoad.Length) + GlbpForwarder.Length > GlbpProtocol.MaxLength)
            return;
        uint pps = GlbpOffloadLoad.ToWire(_localPps / mine);
        uint flows = GlbpOffloadLoad.ToWire(_localFlows / mine);
        foreach (var f in _forwarders)
        {
            if (f is { State: ForwarderState.Active })
                writer.WriteOffloadLoad(new GlbpOffloadLoad(f.Number, pps, flows));
        }
    }

    /// <summary>Receive hook: loads count only for forwarders the sender holds, so a stale claim cannot skew the table.</summary>
    private void HandleLoads(GlbpPacket packet, Peer peer)
    {
        foreach (GlbpOffloadLoad load in packet.OffloadLoads)
        {
            if (_forwarders[load.Forwarder] is { } f && f.HolderIp == peer.Ip)
                ReportLoad(load.Forwarder, load.PacketsPerSecond, load.Flows);
        }
    }

    private void ReportLoad(byte forwarder, double pps, double flows)
    {
        if (_hasLoad[forwarder] && !Moved(_appliedPps[forwarder], pps, MinPacketsPerSecondStep)
            && !Moved(_appliedFlows[forwarder], flows, MinFlowsStep))
            return;
        _appliedPps[forwarder] = pps;
        _appliedFlows[forwarder] = flows;
        _hasLoad[forwarder] = true;
        _loadUpdates++;
        RecomputeLoads();
    }

    private static bool Moved(double inUse, double reported, double floor) => Math.Abs(reported - inUse) > Math.Max(floor, LoadHysteresis * inUse);

    /// <summary>
    /// A forwarder's load is its share of the group's packets/s plus its share of the flows: unitless, so packets
    /// and flows count the same whatever their scale, and a term drops out while nobody reports it. Forwarders with
    /// no report keep what <see cref="SetForwarderLoad"/> gave them. The slot table follows at the next
    /// <see cref="UpdatePlane"/>, which rewrites the hardware only if the bytes changed.
    /// </summary>
    private void RecomputeLoads()
    {
        double totalPps = 0, totalFlows = 0;
        for (int n = 1; n < _hasLoad.Length; n++)
        {
            if (_forwarders[n] is null)
                _hasLoad[n] = false;
            if (!_hasLoad[n])
                continue;
            totalPps += _appliedPps[n];
            totalFlows += _appliedFlows[n];
        }
        for (int n = 1; n < _hasLoad.Length; n++)
        {
            if (_hasLoad[n])
                _loads[n] = (totalPps > 0 ? _appliedPps[n] / totalPps : 0) + (totalFlows > 0 ? _appliedFlows[n] / totalFlows : 0);
        }
    }
}
