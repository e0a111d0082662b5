namespace Offload.Daemon;

// What the local API serves and `offload show` prints: plain records, addresses already formatted, so the CLI
// needs none of the control plane's types to read them.

public sealed record GlbpForwarderView(int Number, string Vmac, string Owner, bool Owned, string State, string Holder, bool Redirected, double? LoadPps, int Weighting);

public sealed record GlbpGroupView(
    int Group, string State, string VirtualIp, int Priority, int Weighting, bool Forwarding, string ActiveRouter, string StandbyRouter,
    int Members, IReadOnlyList<GlbpForwarderView> Forwarders);

public sealed record GlbpView(string Gateway, string LocalIp, IReadOnlyList<GlbpGroupView> Groups);

public sealed record FlowRow(string Client, string Service, string Backend, string? Reverse, string State, string? Vmac, bool FromPeer);

public sealed record FlowsView(string Gateway, int Sessions, int Entries, int Capacity, IReadOnlyList<FlowRow> Flows);

/// <param name="AgentRefused">Reports from this backend's agent id the gateway refused, by reason (only reasons seen).</param>
/// <param name="NextHop">Its hardware next-hop entry, the MAC behind it and where that MAC came from (configured, or the
/// ARP state: reachable, probing, incomplete, failed); no MAC means no new flow goes to it.</param>
public sealed record BackendRow(
    string Service, string Id, string Address, int Port, bool Healthy, bool ChecksUp, string Agent, int Weight, double Overload, int Sessions,
    bool Draining, IReadOnlyDictionary<string, long>? AgentRefused = null, NextHopRow? NextHop = null);

/// <param name="Mac">Null while the address is not resolved.</param>
/// <param name="Source">configured, or the ARP state in lower case.</param>
public sealed record NextHopRow(int Index, string? Mac, string Source);

/// <param name="AgentReportsRefused">Every agent datagram the gateway refused, by reason (only reasons seen), also those of no known agent.</param>
public sealed record BackendsView(string Gateway, IReadOnlyList<BackendRow> Backends, IReadOnlyDictionary<string, long>? AgentReportsRefused = null);
