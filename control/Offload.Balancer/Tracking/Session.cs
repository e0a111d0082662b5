using Offload.Balancer.Classification;
using Offload.Device;

namespace Offload.Balancer.Tracking;

public enum SessionState
{
    /// <summary>Installed on a bare SYN and no later packet seen yet: the short timeout applies (SYN floods age out fast).</summary>
    SynOnly,

    /// <summary>Traffic seen after the first packet (or a first packet that was not a SYN, or restored from hardware).</summary>
    Established,

    /// <summary>FIN or RST seen; removed when the linger ends.</summary>
    Closing,
}

/// <summary>Why a session ended.</summary>
public enum SessionEnd
{
    Idle,
    FinRst,
    Drained,
    Removed,
}

/// <summary>The tracker's shadow of one installed connection: its entries, its backend, its clock.</summary>
public sealed class Session
{
    internal Session(Service? service, BackendState? backend, FlowKey forward, TimeSpan now)
    {
        Service = service;
        Backend = backend;
        Forward = forward;
        Created = now;
        LastActivity = now;
    }

    /// <summary>Null only for an entry restored from hardware whose service is no longer configured.</summary>
    public Service? Service { get; }

    /// <summary>Null only for an entry restored from hardware whose backend is no longer configured.</summary>
    public BackendState? Backend { get; }

    public FlowKey Forward { get; }

    /// <summary>The return entry of a NAT session.</summary>
    public FlowKey? Reverse { get; internal set; }

    public TimeSpan Created { get; }

    public SessionState State { get; internal set; }

    /// <summary>Tracker time of the last change seen in either entry's LAST_SEEN (or of the install).</summary>
    public TimeSpan LastActivity { get; internal set; }

    /// <summary>When a closing session is removed.</summary>
    public TimeSpan CloseAt { get; internal set; }

    internal uint ForwardSeen { get; set; }

    internal uint ReverseSeen { get; set; }

    /// <summary>Position in the tracker's session list (swap-removal keeps ending a session O(1)).</summary>
    internal int Slot { get; set; } = -1;

    /// <summary>The dynamic next hop the reverse entry holds a reference to, or -1.</summary>
    internal int ReverseNextHop { get; set; } = -1;
}
