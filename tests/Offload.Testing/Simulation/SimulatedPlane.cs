using Offload.Device;
using Offload.Group;
using Offload.Protocol.Glbp;

namespace Offload.Testing.Simulation;

/// <summary>
/// One box's data plane as the simulator needs it: the vMAC filter the group wrote and an ARP responder that
/// answers exactly as docs/dataplane.md defines it. Round-robin (and weighted, which is round-robin over weighted
/// slots) walks a pointer over the 256 slots, restarted at slot 0 by every write of the group's CFG, which a
/// device adapter does on every responder update (Dataplane.WriteGroup); host-dependent picks slot
/// CRC-A(sender MAC) mod 256 with the RTL's own hash (<see cref="FlowHash.CrcA(MacAddress)"/>).
/// </summary>
public sealed class SimulatedPlane : IForwardingPlane
{
    private readonly byte[] _slots = new byte[SlotTableBuilder.SlotCount];
    private ulong[] _vmacs = [];
    private int _pointer;

    /// <summary>The vMACs in this box's filter for its group.</summary>
    public IReadOnlyList<ulong> Vmacs => _vmacs;

    public bool ArpEnabled { get; private set; }
    public GlbpLoadBalancing Mode { get; private set; }
    public ushort Group { get; private set; }
    public uint VirtualIp { get; private set; }
    public int VmacWrites { get; private set; }
    public int ArpWrites { get; private set; }

    /// <summary>
    /// Fault injection for the checker's own tests: a plane that drops every write models a broken device
    /// adapter, which the invariants must catch.
    /// </summary>
    public bool IgnoreWrites { get; set; }

    /// <summary>The slot table as last written (all zero while disabled).</summary>
    public ReadOnlySpan<byte> Slots => _slots;

    public bool Forwards(ulong vmac) => Array.IndexOf(_vmacs, vmac) >= 0;

    public void SetVmacs(ushort group, IReadOnlyList<ulong> vmacs)
    {
        ArgumentNullException.ThrowIfNull(vmacs);
        if (IgnoreWrites)
            return;
        Group = group;
        _vmacs = [.. vmacs];
        VmacWrites++;
    }

    public void SetArpResponder(ushort group, uint virtualIp, bool enabled, ReadOnlySpan<byte> slots, GlbpLoadBalancing mode)
    {
        if (IgnoreWrites)
            return;
        if (enabled && slots.Length != SlotTableBuilder.SlotCount)
            throw new ArgumentException($"a slot table has {SlotTableBuilder.SlotCount} entries, got {slots.Length}", nameof(slots));
        Group = group;
        VirtualIp = virtualIp;
        ArpEnabled = enabled;
        Mode = mode;
        if (enabled)
            slots.CopyTo(_slots);
        else
            Array.Clear(_slots);
        _pointer = 0;
        ArpWrites++;
    }

    /// <summary>
    /// Answers one ARP request for the virtual IP from <paramref name="senderMac"/>: the forwarder number the
    /// hardware would put in the reply, or 0 when the responder is off (no reply).
    /// </summary>
    public byte Answer(ulong senderMac)
    {
        if (!ArpEnabled)
            return 0;
        if (Mode == GlbpLoadBalancing.HostDependent)
            return _slots[(int)(FlowHash.CrcA(new MacAddress(senderMac)) % SlotTableBuilder.SlotCount)];
        byte forwarder = _slots[_pointer];
        _pointer = (_pointer + 1) % SlotTableBuilder.SlotCount;
        return forwarder;
    }

    /// <summary>The vMAC of <see cref="Answer"/>'s forwarder, or 0 for no reply.</summary>
    public ulong AnswerVmac(ulong senderMac)
    {
        byte forwarder = Answer(senderMac);
        return forwarder == 0 ? 0 : GlbpVirtualMac.Create(Group, forwarder);
    }
}
