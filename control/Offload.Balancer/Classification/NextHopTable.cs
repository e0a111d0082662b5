using Offload.Device;

namespace Offload.Balancer.Classification;

/// <summary>
/// The control plane's copy of the hardware next-hop table. Backends own fixed entries (indices from their
/// configuration); entries toward clients (the NAT return path) are shared by reference count from a dynamic
/// range, one per distinct (port, client MAC, our MAC), so clients behind one router use one entry.
/// </summary>
/// <remarks>After a restart the entries that flow entries still point at are read back from the hardware
/// (<see cref="MarkUsed"/>), so a restored NAT session knows its client's MAC and the vMAC it used, and new flows from
/// that client share the entry again. Not thread-safe.</remarks>
public sealed class NextHopTable
{
    private readonly Dataplane _dataplane;
    private readonly NextHop?[] _entries;
    private readonly int[] _refs;
    private readonly bool[] _fixed;
    private readonly Dictionary<NextHop, int> _dynamic = [];

    public NextHopTable(Dataplane dataplane, int dynamicFirst, int dynamicCount)
    {
        _dataplane = dataplane ?? throw new ArgumentNullException(nameof(dataplane));
        int size = dataplane.Geometry.NextHops;
        ArgumentOutOfRangeException.ThrowIfNegative(dynamicFirst);
        ArgumentOutOfRangeException.ThrowIfNegative(dynamicCount);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(dynamicFirst + dynamicCount, size, nameof(dynamicCount));
        DynamicFirst = dynamicFirst;
        DynamicCount = dynamicCount;
        _entries = new NextHop?[size];
        _refs = new int[size];
        _fixed = new bool[size];
    }

    public int DynamicFirst { get; }

    public int DynamicCount { get; }

    /// <summary>Dynamic entries currently referenced.</summary>
    public int DynamicInUse { get; private set; }

    public bool IsDynamic(int index) => index >= DynamicFirst && index < DynamicFirst + DynamicCount;

    /// <summary>What the control plane wrote at <paramref name="index"/>, null when unknown.</summary>
    public NextHop? Get(int index) => _entries[index];

    /// <summary>Writes a configured (backend) entry.</summary>
    public void SetFixed(int index, NextHop nextHop)
    {
        if (IsDynamic(index))
            throw new ArgumentException($"next hop {index} lies in the dynamic range {DynamicFirst}..{DynamicFirst + DynamicCount - 1}", nameof(index));
        if (_entries[index] != nextHop)
            _dataplane.WriteNextHop(index, nextHop);
        _entries[index] = nextHop;
        _fixed[index] = true;
    }

    /// <summary>An index holding <paramref name="nextHop"/> with one more reference, or -1 when the dynamic range is full.</summary>
    public int Acquire(NextHop nextHop)
    {
        if (_dynamic.TryGetValue(nextHop, out int index))
        {
            _refs[index]++;
            return index;
        }
        for (int i = DynamicFirst; i < DynamicFirst + DynamicCount; i++)
        {
            if (_refs[i] != 0)
                continue;
            _dataplane.WriteNextHop(i, nextHop);
            _entries[i] = nextHop;
            _refs[i] = 1;
            _dynamic[nextHop] = i;
            DynamicInUse++;
            return i;
        }
        return -1;
    }

    /// <summary>
    /// Counts a reference to a dynamic index found in the hardware flow table after a restart; the first one reads
    /// the entry back so it can be shared and described again.
    /// </summary>
    public void MarkUsed(int index)
    {
        if (!IsDynamic(index))
            return;
        if (_refs[index]++ != 0)
            return;
        DynamicInUse++;
        var nh = _dataplane.ReadNextHop(index);
        _entries[index] = nh;
        // Two indices can hold the same hop after a crash between writes; the first one found is the one shared.
        _dynamic.TryAdd(nh, index);
    }

    public void Release(int index)
    {
        if (!IsDynamic(index) || _refs[index] == 0)
            return;
        if (--_refs[index] != 0)
            return;
        DynamicInUse--;
        // The hardware entry stays as it is: no flow points at it any more, and the next Acquire overwrites it.
        if (_entries[index] is { } nh && _dynamic.TryGetValue(nh, out int at) && at == index)
            _dynamic.Remove(nh);
        _entries[index] = null;
    }
}
