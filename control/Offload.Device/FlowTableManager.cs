using System.Globalization;
using System.Runtime.InteropServices;

namespace Offload.Device;

/// <summary>How a <see cref="FlowTableManager"/> learns what the hardware table holds when it starts.</summary>
public enum FlowTableStart
{
    /// <summary>Read every entry back (correct whatever the table holds).</summary>
    Load,

    /// <summary>Invalidate every entry.</summary>
    Clear,

    /// <summary>Trust that the table is empty (the data plane was just reset); touches nothing.</summary>
    AssumeEmpty,
}

/// <summary>A difference between the shadow and the hardware found by <see cref="FlowTableManager.VerifyAgainstHardware"/>.</summary>
public sealed record FlowTableDifference(int Index, string Expected, string Actual);

/// <summary>No place for a key: both buckets full, no cuckoo path within the search bound, stash full.</summary>
public sealed class FlowTableFullException : InvalidOperationException
{
    public FlowTableFullException()
    {
    }

    public FlowTableFullException(string message)
        : base(message)
    {
    }

    public FlowTableFullException(string message, Exception innerException)
        : base(message, innerException)
    {
    }
}

/// <summary>
/// Places flow entries in the hardware table (docs/dataplane.md, "Flow table") and keeps a shadow copy
/// equal to it. A key may live in bucket CRC-A(key) of sub-table 0, bucket CRC-B(key) of sub-table 1, or
/// the stash. Insertion takes a free way of the emptier bucket, else moves entries to their other bucket
/// along the shortest path a bounded breadth-first search finds (cuckoo), else uses the stash.
/// </summary>
/// <remarks>
/// Every move writes the entry at its new place before its old place is overwritten, so a lookup finds
/// every key at every moment (two copies of one key may exist for a while; the hardware takes the lowest
/// index, and both copies are the same). All writes of one operation go out as one batch.
/// If a batch fails the shadow can no longer be trusted: the manager refuses further changes until
/// <see cref="LoadFromHardware"/> has read the table back. Not thread-safe.
/// </remarks>
public sealed class FlowTableManager
{
    /// <summary>Entries the cuckoo search may visit for one insertion.</summary>
    public const int MaxSearchNodes = 4096;

    /// <summary>Longest chain of moves one insertion may make.</summary>
    public const int MaxMoves = 8;

    // Entries per batch when reading the whole table (keeps each batch a few thousand ops).
    private const int ReadChunk = 256;

    private readonly Dataplane _device;
    private readonly DataplaneGeometry _g;
    private readonly Slot[] _slots;
    private readonly Dictionary<FlowKey, int> _where = [];
    private readonly List<CsrOp> _ops = new(256);

    // Breadth-first search state, reused between insertions so placing a key allocates nothing.
    private readonly int[] _nodeSlot = new int[MaxSearchNodes];
    private readonly int[] _nodeParent = new int[MaxSearchNodes];
    private readonly byte[] _nodeDepth = new byte[MaxSearchNodes];
    private readonly int[] _visitedStamp;
    private int _stamp;
    private bool _faulted;

    /// <summary>A manager over a device that nothing else uses (tests, benchmarks, single-threaded tools).</summary>
    public FlowTableManager(IDevice device, DataplaneGeometry geometry, FlowTableStart start = FlowTableStart.Load)
        : this(new Dataplane(device ?? throw new ArgumentNullException(nameof(device))), geometry, start)
    {
    }

    /// <summary>A manager whose writes go through the device's owner, serialized with everything else on it.</summary>
    public FlowTableManager(Dataplane dataplane, DataplaneGeometry geometry, FlowTableStart start = FlowTableStart.Load)
    {
        _device = dataplane ?? throw new ArgumentNullException(nameof(dataplane));
        _g = geometry ?? throw new ArgumentNullException(nameof(geometry));
        if (_g.Buckets <= 0 || _g.Ways <= 0 || _g.Stash < 0)
            throw new ArgumentException($"bad geometry {_g}", nameof(geometry));
        _slots = new Slot[_g.TotalEntries];
        _visitedStamp = new int[_g.TotalEntries];
        switch (start)
        {
            case FlowTableStart.Load:
                LoadFromHardware();
                break;
            case FlowTableStart.Clear:
                Clear();
                break;
            case FlowTableStart.AssumeEmpty:
                break;
            default:
                throw new ArgumentOutOfRangeException(nameof(start));
        }
    }

    public DataplaneGeometry Geometry => _g;

    public int Count => _where.Count;

    public int Capacity => _g.TotalEntries;

    public double LoadFactor => (double)Count / Capacity;

    public int StashCount { get; private set; }

    /// <summary>Entries moved by cuckoo insertions since construction.</summary>
    public long Moves { get; private set; }

    public bool Contains(FlowKey key) => _where.ContainsKey(key);

    public bool TryGetIndex(FlowKey key, out int index) => _where.TryGetValue(key, out index);

    /// <summary>The shadow entry at <paramref name="index"/>, null when invalid.</summary>
    public (FlowKey Key, FlowAction Action)? EntryAt(int index)
    {
        ref readonly Slot s = ref _slots[index];
        return s.Valid ? (s.Key, s.Action) : null;
    }

    /// <summary>Valid entries by index, as the hardware holds them.</summary>
    public IEnumerable<(int Index, FlowKey Key, FlowAction Action)> Entries
    {
        get
        {
            for (int i = 0; i < _slots.Length; i++)
            {
                if (_slots[i].Valid)
                    yield return (i, _slots[i].Key, _slots[i].Action);
            }
        }
    }

    /// <summary>Copies the placement into <paramref name="config"/>.Flows (for the reference model).</summary>
    public void CopyTo(DataplaneConfig config)
    {
        ArgumentNullException.ThrowIfNull(config);
        config.Flows.Clear();
        foreach (var (i, k, a) in Entries)
            config.Flows[i] = (k, a);
    }

    public int BucketOf(int sub, in FlowKey key) => sub switch
    {
        0 => (int)(FlowHash.CrcA(key) % (uint)_g.Buckets),
        1 => (int)(FlowHash.CrcB(key) % (uint)_g.Buckets),
        _ => throw new ArgumentOutOfRangeException(nameof(sub)),
    };

    /// <summary>Adds <paramref name="key"/> (or changes its action in place) and returns its index.</summary>
    /// <exception cref="FlowTableFullException">No place was found; nothing was written.</exception>
    public int Insert(FlowKey key, FlowAction action)
    {
        if (!TryInsert(key, action, out int index))
            throw new FlowTableFullException(FullMessage(key));
        return index;
    }

    public bool TryInsert(FlowKey key, FlowAction action, out int index)
    {
        CheckUsable();
        bool ok = Plan(key, action, out index);
        Flush();
        return ok;
    }

    /// <summary>
    /// Inserts many keys with all writes in as few batches as possible; stops at the first that finds no
    /// place and returns how many were inserted (in order).
    /// </summary>
    public int InsertMany(IEnumerable<(FlowKey Key, FlowAction Action)> flows)
    {
        ArgumentNullException.ThrowIfNull(flows);
        CheckUsable();
        int n = 0;
        foreach (var (k, a) in flows)
        {
            if (!Plan(k, a, out _))
                break;
            n++;
            if (_ops.Count >= 8192)
                Flush();
        }
        Flush();
        return n;
    }

    /// <summary>Invalidates the entry of <paramref name="key"/>; a stash entry that now fits the main table moves there.</summary>
    public bool Remove(FlowKey key)
    {
        CheckUsable();
        if (!_where.Remove(key, out int index))
            return false;
        FlowEntryCodec.AddInvalidate(_ops, index);
        if (IsStash(index))
            StashCount--;
        _slots[index] = default;
        DrainStash();
        Flush();
        return true;
    }

    /// <summary>Invalidates every entry, in hardware and in the shadow.</summary>
    public void Clear()
    {
        _ops.Clear();
        for (int i = 0; i < _slots.Length; i++)
            FlowEntryCodec.AddInvalidate(_ops, i);
        Array.Clear(_slots);
        _where.Clear();
        StashCount = 0;
        _faulted = false;
        Flush();
    }

    /// <summary>LAST_SEEN of the entry at <paramref name="index"/> (TIME >> TS_SHIFT of its last hit or write).</summary>
    public uint ReadLastSeen(int index)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(index);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(index, _slots.Length);
        Span<CsrOp> ops = [CsrOp.Write(Reg.FtIndex, (uint)index), CsrOp.Write(Reg.FtCmd, RegConst.FtCmdRead), CsrOp.Read(Reg.FtLastSeen)];
        Span<uint> r = stackalloc uint[3];
        _device.Batch(ops, r);
        return r[2];
    }

    /// <summary>LAST_SEEN of <paramref name="key"/>'s entry, null when the key is not in the table.</summary>
    public uint? ReadLastSeen(FlowKey key) => _where.TryGetValue(key, out int i) ? ReadLastSeen(i) : null;

    /// <summary>Reads the whole table (FT_CMD READ per entry) and replaces the shadow with it.</summary>
    public void LoadFromHardware()
    {
        _ops.Clear();
        Array.Clear(_slots);
        _where.Clear();
        StashCount = 0;
        ReadAll((i, e) =>
        {
            if (!e.Valid)
                return;
            if (!_where.TryAdd(e.Key, i))
                return; // a second copy (a move that never finished): the lowest index is the one that answers
            _slots[i] = MakeSlot(e.Key, e.Action);
            if (IsStash(i))
                StashCount++;
        });
        _faulted = false;
    }

    /// <summary>Reads every entry back and lists where the hardware differs from the shadow (empty: equal).</summary>
    public IReadOnlyList<FlowTableDifference> VerifyAgainstHardware()
    {
        var diffs = new List<FlowTableDifference>();
        ReadAll((i, e) =>
        {
            ref readonly Slot s = ref _slots[i];
            if (!s.Valid)
            {
                if (e.Valid)
                    diffs.Add(new(i, "invalid", Describe(e.Key, e.Action)));
                return;
            }
            if (!e.Valid || e.Key != s.Key || e.Action != s.Action)
                diffs.Add(new(i, Describe(s.Key, s.Action), e.Valid ? Describe(e.Key, e.Action) : "invalid"));
        });
        return diffs;
    }

    public static string Describe(FlowKey k, FlowAction a) => string.Create(CultureInfo.InvariantCulture,
        $"in{k.InPort} {Ip(k.SrcIp)}:{k.SrcPort} > {Ip(k.DstIp)}:{k.DstPort} p{k.Protocol} -> nh{a.NextHop} ttl{(a.TtlDecrement ? 1 : 0)} nat{(int)a.Nat} {Ip(a.NatIp)}:{a.NatPort}");

    private static string Ip(uint ip) => string.Create(CultureInfo.InvariantCulture, $"{ip >> 24}.{(ip >> 16) & 255}.{(ip >> 8) & 255}.{ip & 255}");

    private void ReadAll(Action<int, FlowEntryState> visit)
    {
        var ops = new List<CsrOp>(ReadChunk * FlowEntryCodec.ReadOps);
        var results = new uint[ReadChunk * FlowEntryCodec.ReadOps];
        for (int first = 0; first < _slots.Length; first += ReadChunk)
        {
            int n = Math.Min(ReadChunk, _slots.Length - first);
            ops.Clear();
            for (int i = 0; i < n; i++)
                FlowEntryCodec.AddRead(ops, first + i);
            _device.Batch(CollectionsMarshal.AsSpan(ops), results);
            for (int i = 0; i < n; i++)
                visit(first + i, FlowEntryCodec.Decode(results.AsSpan(i * FlowEntryCodec.ReadOps, FlowEntryCodec.ReadOps)));
        }
    }

    private bool IsStash(int index) => index >= _g.MainEntries;

    private int SubOf(int index) => index / (_g.Buckets * _g.Ways);

    private int BucketStart(int sub, int bucket) => _g.Index(sub, bucket, 0);

    private Slot MakeSlot(FlowKey key, FlowAction action) =>
        new() { Valid = true, Key = key, Action = action, Bucket0 = BucketOf(0, key), Bucket1 = BucketOf(1, key) };

    private int FreeWay(int sub, int bucket)
    {
        int start = BucketStart(sub, bucket);
        for (int w = 0; w < _g.Ways; w++)
        {
            if (!_slots[start + w].Valid)
                return start + w;
        }
        return -1;
    }

    private int FreeWays(int sub, int bucket)
    {
        int start = BucketStart(sub, bucket);
        int n = 0;
        for (int w = 0; w < _g.Ways; w++)
        {
            if (!_slots[start + w].Valid)
                n++;
        }
        return n;
    }

    // Places one key in the shadow and appends its writes to _ops; false (nothing planned) when full.
    private bool Plan(FlowKey key, FlowAction action, out int index)
    {
        if (_where.TryGetValue(key, out index))
        {
            _slots[index].Action = action;
            FlowEntryCodec.AddWrite(_ops, index, key, action);
            return true;
        }
        var slot = MakeSlot(key, action);
        int f0 = FreeWays(0, slot.Bucket0);
        int f1 = FreeWays(1, slot.Bucket1);
        if (f0 > 0 || f1 > 0)
        {
            // The emptier bucket keeps both sub-tables filling evenly, which is what lets d-choice hashing reach high load.
            index = f0 >= f1 ? FreeWay(0, slot.Bucket0) : FreeWay(1, slot.Bucket1);
            Place(index, slot);
            return true;
        }
        if (TryCuckoo(slot, out index))
            return true;
        for (int s = _g.MainEntries; s < _g.TotalEntries; s++)
        {
            if (!_slots[s].Valid)
            {
                index = s;
                Place(s, slot);
                StashCount++;
                return true;
            }
        }
        index = -1;
        return false;
    }

    private void Place(int index, in Slot slot)
    {
        _slots[index] = slot;
        _where[slot.Key] = index;
        FlowEntryCodec.AddWrite(_ops, index, slot.Key, slot.Action);
    }

    // Breadth-first over "entry that could move to its other bucket"; the first entry whose other bucket
    // has a free way ends the search, and the path back to the new key's bucket is executed from that end.
    private bool TryCuckoo(in Slot newSlot, out int index)
    {
        index = -1;
        if (++_stamp == int.MaxValue)
        {
            Array.Clear(_visitedStamp);
            _stamp = 1;
        }
        int count = 0;
        for (int sub = 0; sub < 2; sub++)
        {
            int start = BucketStart(sub, sub == 0 ? newSlot.Bucket0 : newSlot.Bucket1);
            for (int w = 0; w < _g.Ways; w++)
            {
                _visitedStamp[start + w] = _stamp;
                _nodeSlot[count] = start + w;
                _nodeParent[count] = -1;
                _nodeDepth[count] = 1;
                count++;
            }
        }
        for (int head = 0; head < count; head++)
        {
            int at = _nodeSlot[head];
            ref readonly Slot e = ref _slots[at];
            int altSub = 1 - SubOf(at);
            int altBucket = altSub == 0 ? e.Bucket0 : e.Bucket1;
            int free = FreeWay(altSub, altBucket);
            if (free >= 0)
            {
                index = ExecutePath(head, free, newSlot);
                return true;
            }
            if (_nodeDepth[head] >= MaxMoves)
                continue;
            int start = BucketStart(altSub, altBucket);
            for (int w = 0; w < _g.Ways && count < MaxSearchNodes; w++)
            {
                int s = start + w;
                if (_visitedStamp[s] == _stamp)
                    continue;
                _visitedStamp[s] = _stamp;
                _nodeSlot[count] = s;
                _nodeParent[count] = head;
                _nodeDepth[count] = (byte)(_nodeDepth[head] + 1);
                count++;
            }
        }
        return false;
    }

    // Node `leaf` moves to `free`, its parent moves to where the leaf was, ... the root's slot gets the new key.
    private int ExecutePath(int leaf, int free, in Slot newSlot)
    {
        int target = free;
        for (int node = leaf; node >= 0; node = _nodeParent[node])
        {
            int from = _nodeSlot[node];
            Slot moving = _slots[from];
            Place(target, moving);
            Moves++;
            target = from;
        }
        Place(target, newSlot);
        return target;
    }

    // After a removal, a stash entry whose bucket has room goes back to the main table: written there
    // first, then invalidated in the stash.
    private void DrainStash()
    {
        if (StashCount == 0)
            return;
        for (int s = _g.MainEntries; s < _g.TotalEntries; s++)
        {
            if (!_slots[s].Valid)
                continue;
            Slot e = _slots[s];
            int to = FreeWay(0, e.Bucket0);
            if (to < 0)
                to = FreeWay(1, e.Bucket1);
            if (to < 0)
                continue;
            Place(to, e);
            _slots[s] = default;
            FlowEntryCodec.AddInvalidate(_ops, s);
            StashCount--;
        }
    }

    private void Flush()
    {
        if (_ops.Count == 0)
            return;
        try
        {
            _device.Batch(CollectionsMarshal.AsSpan(_ops), default);
        }
        catch
        {
            _faulted = true;
            throw;
        }
        finally
        {
            _ops.Clear();
        }
    }

    private void CheckUsable()
    {
        if (_faulted)
            throw new InvalidOperationException("a flow-table batch failed, so the shadow may differ from the hardware; call LoadFromHardware() first");
    }

    private string FullMessage(FlowKey key) => string.Create(CultureInfo.InvariantCulture,
        $"flow table full for {key}: buckets {BucketOf(0, key)} (sub 0) and {BucketOf(1, key)} (sub 1) are full, no cuckoo path within {MaxMoves} moves / {MaxSearchNodes} entries, stash {StashCount}/{_g.Stash} used; {Count}/{Capacity} entries ({LoadFactor:P1})");

    private struct Slot
    {
        public bool Valid;
        public FlowKey Key;
        public FlowAction Action;
        public int Bucket0;
        public int Bucket1;
    }
}
