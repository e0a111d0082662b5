namespace Offload.Group;

/// <summary>
/// Where a group's GLBP messages go. The implementation wraps the message in the multicast frame
/// (<see cref="Offload.Protocol.Glbp.GlbpFrame"/>) and queues it on the device's host port; the span is only valid
/// during the call, because the group reuses one buffer for every hello.
/// </summary>
public interface IGlbpTransport
{
    /// <param name="glbpMessage">The GLBP message (UDP payload).</param>
    /// <param name="ethernetSource">
    /// The frame's Ethernet source: one of the vMACs the gateway forwards, or its own MAC when it forwards none, as
    /// Cisco sends hellos (the sender's own MAC is in the GLBP header either way).
    /// </param>
    void Send(ReadOnlySpan<byte> glbpMessage, ulong ethernetSource);
}

/// <summary>How the Active AVG's ARP responder picks a forwarder for each request.</summary>
public enum GlbpLoadBalancing
{
    /// <summary>Cisco's default: every handed-out forwarder gets an equal share of the slots.</summary>
    RoundRobin,

    /// <summary>Shares in proportion to each forwarder's weighting.</summary>
    Weighted,

    /// <summary>Equal shares, but the hardware hashes the requester's MAC, so a host keeps its vMAC.</summary>
    HostDependent,

    /// <summary>Offload's own: weighting scaled by the inverse of each forwarder's reported load.</summary>
    LoadBased,
}

/// <summary>
/// What a group needs from the data plane. A device adapter maps these onto Offload.Device's
/// <c>Dataplane</c> (vMAC filter entries, group table, slot tables); a group calls them only when the value it
/// last wrote changes, so each call is worth a register batch.
/// </summary>
public interface IForwardingPlane
{
    /// <summary>
    /// The vMACs this box forwards for <paramref name="group"/>: its own forwarders plus any it has taken over.
    /// Replaces the previous list for that group; the list is not modified afterwards.
    /// </summary>
    void SetVmacs(ushort group, IReadOnlyList<ulong> vmacs);

    /// <summary>
    /// Enables or disables the group's ARP responder. <paramref name="slots"/> holds one forwarder number per
    /// slot (<see cref="SlotTableBuilder.SlotCount"/> of them) when enabled and is empty when disabled.
    /// </summary>
    void SetArpResponder(ushort group, uint virtualIp, bool enabled, ReadOnlySpan<byte> slots, GlbpLoadBalancing mode);
}
