using Offload.Device;
using Offload.Group;
using Offload.Protocol.Glbp;

namespace Offload.Gateway;

/// <summary>What the plane last wrote to a group table entry for one GLBP group (for `show glbp` and tests).</summary>
/// <param name="Index">The hardware group table index.</param>
/// <param name="VirtualIp">The VIP the responder answers for.</param>
/// <param name="Mode">The responder's mode.</param>
/// <param name="Slots">The slot table as written to the hardware (a copy).</param>
/// <param name="Writes">How many times this entry has been written since the group got it.</param>
public sealed record ResponderEntry(int Index, uint VirtualIp, ArpMode Mode, byte[] Slots, int Writes);

/// <summary>
/// <see cref="IForwardingPlane"/> on one device: owns a range of the vMAC filter and of the group table and shares
/// them among every GLBP group on the box. Each call becomes one register batch; only entries that change are
/// written. Thread-safe: groups call in under their own locks, from timers; a private lock keeps the mirror and the
/// writes that follow from it together, and the <see cref="Dataplane"/> serializes them with the device's other
/// users (the host loop, the transport). The owned ranges are assumed invalid when the plane
/// is created (a fresh <see cref="Dataplane.Apply"/>) unless <see cref="AdoptFromHardware"/> takes over what a
/// previous control plane left there.
/// </summary>
/// <remarks>
/// Adopted vMACs are held over: a restarted gateway keeps accepting traffic to the vMACs it forwarded (its flow
/// entries never stopped forwarding) until its group knows its role again, i.e. until the group first lists a
/// non-empty set of vMACs, or until <see cref="EndHoldOver"/> (the daemon calls it one hold time after start, the
/// time after which a peer has taken over whatever this box no longer claims).
/// </remarks>
public sealed class DataplaneForwardingPlane : IForwardingPlane
{
    private readonly Dataplane _dataplane;
    private readonly Lock _gate = new();
    private readonly int _vmacFirst;
    private readonly int _vmacCount;
    private readonly int _groupFirst;
    private readonly int _groupCount;
    private readonly int _hardwareSlots;

    // Mirror of the owned vMAC entries (absolute index - _vmacFirst) and which GLBP group holds each.
    private readonly MacAddress?[] _vmacs;
    private readonly int[] _vmacGroup;
    private readonly bool[] _heldOver;
    private readonly Dictionary<ushort, ResponderEntry> _responders = [];
    private readonly bool[] _groupUsed;

    /// <param name="dataplane">The device.</param>
    /// <param name="vmacFirst">First vMAC filter index this plane may use (others may belong to other components).</param>
    /// <param name="vmacCount">How many; null for the rest of the table.</param>
    /// <param name="groupFirst">First group table index this plane may use.</param>
    /// <param name="groupCount">How many; null for the rest of the table.</param>
    public DataplaneForwardingPlane(Dataplane dataplane, int vmacFirst = 0, int? vmacCount = null, int groupFirst = 0,
        int? groupCount = null)
    {
        _dataplane = dataplane ?? throw new ArgumentNullException(nameof(dataplane));
        var g = dataplane.Geometry;
        _vmacFirst = CheckRange(vmacFirst, vmacCount, g.Vmacs, "vMAC filter", nameof(vmacFirst), out _vmacCount);
        _groupFirst = CheckRange(groupFirst, groupCount, g.Groups, "group table", nameof(groupFirst), out _groupCount);
        _hardwareSlots = g.Slots;
        _vmacs = new MacAddress?[_vmacCount];
        _vmacGroup = new int[_vmacCount];
        _heldOver = new bool[_vmacCount];
        _groupUsed = new bool[_groupCount];
    }

    /// <summary>Sets the COPY bit on every group written from now on (ARP requests also go to the host).</summary>
    public bool CopyArpRequests { get; set; }

    /// <summary>The vMACs the hardware filter holds for <paramref name="group"/>, in index order.</summary>
    public IReadOnlyList<MacAddress> VmacsOf(ushort group)
    {
        lock (_gate)
        {
            var list = new List<MacAddress>();
            for (int i = 0; i < _vmacs.Length; i++)
            {
                if (_vmacs[i] is { } mac && _vmacGroup[i] == group)
                    list.Add(mac);
            }
            return list;
        }
    }

    /// <summary>The group table entry written for <paramref name="group"/>, or null while its responder is disabled.</summary>
    public ResponderEntry? ResponderOf(ushort group)
    {
        lock (_gate)
            return _responders.GetValueOrDefault(group);
    }

    /// <summary>vMAC entries adopted from the hardware that no group has confirmed or released yet.</summary>
    public int HeldOver
    {
        get
        {
            lock (_gate)
                return _heldOver.Count(h => h);
        }
    }

    /// <summary>
    /// Takes over the valid vMAC entries found in this plane's range (left by a control plane that restarted) and
    /// holds them over; returns how many. GLBP vMACs are filed under the group their bits name.
    /// </summary>
    public int AdoptFromHardware()
    {
        lock (_gate)
        {
            var found = _dataplane.ReadVmacs();
            int adopted = 0;
            for (int i = 0; i < _vmacs.Length; i++)
            {
                if (found[_vmacFirst + i] is not { } mac)
                    continue;
                _vmacs[i] = mac;
                _vmacGroup[i] = GlbpVirtualMac.TryParse(mac.Value, out ushort group, out _) ? group : -1;
                _heldOver[i] = true;
                adopted++;
            }
            return adopted;
        }
    }

    /// <summary>Removes the held-over entries no group has confirmed; returns how many.</summary>
    public int EndHoldOver()
    {
        lock (_gate)
        {
            var changes = new List<(int Index, MacAddress? Mac)>();
            for (int i = 0; i < _vmacs.Length; i++)
            {
                if (!_heldOver[i])
                    continue;
                _heldOver[i] = false;
                _vmacs[i] = null;
                changes.Add((_vmacFirst + i, null));
            }
            if (changes.Count > 0)
                _dataplane.WriteVmacs(System.Runtime.InteropServices.CollectionsMarshal.AsSpan(changes));
            return changes.Count;
        }
    }

    /// <summary>Maps the group's balancing onto the two hardware modes: only host-dependent hashes the requester.</summary>
    public static ArpMode ToArpMode(GlbpLoadBalancing mode) =>
        mode == GlbpLoadBalancing.HostDependent ? ArpMode.HostDependent : ArpMode.RoundRobin;

    public void SetVmacs(ushort group, IReadOnlyList<ulong> vmacs)
    {
        ArgumentNullException.ThrowIfNull(vmacs);
        lock (_gate)
        {
            var wanted = new List<MacAddress>(vmacs.Count);
            foreach (ulong v in vmacs)
            {
                var mac = new MacAddress(v);
                if (!wanted.Contains(mac))
                    wanted.Add(mac);
            }
            var changes = new List<(int Index, MacAddress? Mac)>();
            int free = 0;
            for (int i = 0; i < _vmacs.Length; i++)
            {
                if (_vmacs[i] is not { } held)
                {
                    free++;
                    continue;
                }
                if (_vmacGroup[i] != group)
                    continue;
                // A group that does not know its role yet (nothing listed) leaves the held-over entries alone.
                if (_heldOver[i] && vmacs.Count == 0)
                    continue;
                _heldOver[i] = false;
                if (!wanted.Remove(held))
                {
                    changes.Add((_vmacFirst + i, null));
                    free++;
                }
            }
            if (wanted.Count > free)
            {
                throw new InvalidOperationException(
                    $"the vMAC filter is full: GLBP group {group} needs {wanted.Count} more entries, {free} of the {_vmacCount} entries " +
                    $"this gateway owns (index {_vmacFirst}..{_vmacFirst + _vmacCount - 1}) are free");
            }
            foreach (var (index, _) in changes)
                _vmacs[index - _vmacFirst] = null;
            int next = 0;
            foreach (var mac in wanted)
            {
                while (_vmacs[next] is not null)
                    next++;
                _vmacs[next] = mac;
                _vmacGroup[next] = group;
                // A freed index reused in the same batch is written once, with the new vMAC.
                changes.RemoveAll(c => c.Index == _vmacFirst + next);
                changes.Add((_vmacFirst + next, mac));
            }
            if (changes.Count > 0)
                _dataplane.WriteVmacs(System.Runtime.InteropServices.CollectionsMarshal.AsSpan(changes));
        }
    }

    public void SetArpResponder(ushort group, uint virtualIp, bool enabled, ReadOnlySpan<byte> slots, GlbpLoadBalancing mode)
    {
        if (enabled && slots.IsEmpty)
            throw new ArgumentException("an enabled responder needs a slot table", nameof(slots));
        lock (_gate)
        {
            _responders.TryGetValue(group, out ResponderEntry? current);
            if (!enabled)
            {
                if (current is null)
                    return;
                _dataplane.WriteGroup(current.Index, null);
                _groupUsed[current.Index - _groupFirst] = false;
                _responders.Remove(group);
                return;
            }
            int index = current?.Index ?? Allocate(group);
            var hw = new byte[_hardwareSlots];
            // The group builds SlotTableBuilder.SlotCount slots; a build of the RTL with another SLOTS samples them
            // evenly, which keeps every forwarder's share within one slot.
            for (int s = 0; s < hw.Length; s++)
                hw[s] = slots[(int)((long)s * slots.Length / hw.Length)];
            ArpMode arpMode = ToArpMode(mode);
            _dataplane.WriteGroup(index, new GroupConfig(virtualIp, group, arpMode, CopyArpRequests, Enabled: true, hw));
            _responders[group] = new ResponderEntry(index, virtualIp, arpMode, hw, (current?.Writes ?? 0) + 1);
        }
    }

    private int Allocate(ushort group)
    {
        for (int i = 0; i < _groupUsed.Length; i++)
        {
            if (_groupUsed[i])
                continue;
            _groupUsed[i] = true;
            return _groupFirst + i;
        }
        throw new InvalidOperationException(
            $"the group table is full: GLBP group {group} needs an ARP responder, and all {_groupCount} entries this gateway owns " +
            $"(index {_groupFirst}..{_groupFirst + _groupCount - 1}) answer for other groups");
    }

    private static int CheckRange(int first, int? count, int size, string table, string name, out int resolved)
    {
        if (first < 0 || first >= size)
            throw new ArgumentOutOfRangeException(name, first, $"the {table} has entries 0..{size - 1}");
        resolved = count ?? (size - first);
        if (resolved < 1 || first + resolved > size)
            throw new ArgumentOutOfRangeException(name, resolved, $"{resolved} entries from {first} do not fit the {table} of {size}");
        return first;
    }
}
