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

    /// <summary>
    /// Null for a routed flow (no service; see <see cref="SessionTracker.InstallRouted"/>), or for a peer's flow whose
    /// service this gateway does not configure (<see cref="SessionTracker.InstallFromPeer"/>).
    /// </summary>
    public Service? Service { get; }

    /// <summary>Null for a routed flow, and for an entry restored from hardware whose backend is no longer configured.</summary>
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

    /// <summary>
    /// The virtual MAC the client addressed (whose flow this is, for session sync): the source MAC of a NAT
    /// session's way back, or what a peer told us; null when unknown (DSR and routed flows, restored entries).
    /// </summary>
    public MacAddress? Vmac { get; internal set; }

    /// <summary>True for a session installed from a peer's sync record rather than classified here.</summary>
    public bool FromPeer { get; internal set; }

    /// <summary>The dynamic next hop the forward entry holds (a peer's backend this gateway has not configured), or -1.</summary>
    internal int ForwardNextHop { get; set; } = -1;
}

/// <summary>
/// Told about every session the tracker starts and ends (session sync listens here). Called synchronously from
/// the tracker's loop, after the entries exist and before they are removed.
/// </summary>
public interface ISessionListener
{
    void SessionStarted(Session session);

    void SessionEnded(Session session, SessionEnd why);
}
