using System.Buffers.Binary;
using System.Runtime.InteropServices;

namespace Offload.Device;

/// <summary>
/// The data plane's registers in the terms of docs/dataplane.md: geometry, configuration, counters, the
/// host queues and the watchdog, over any <see cref="IDevice"/>. Table writes go out as batches.
/// </summary>
/// <remarks>
/// The one owner of its device: every access goes through here and is serialized by a private lock, so the host
/// loop, group timers and API views may call from their own threads without a lock of their own, and a
/// multi-step exchange (a host frame's length, then its words) is never split by another caller. Nothing else
/// should hold the <see cref="IDevice"/> once a Dataplane has it.
/// </remarks>
public sealed class Dataplane
{
    private const int MetaBytes = RegConst.MetaBytes;

    private readonly IDevice _device;
    private readonly Lock _gate = new();
    private DataplaneGeometry? _geometry;

    // Host-queue buffers sized for the largest frame once, so receiving and sending allocate nothing.
    private CsrOp[] _rxOps = [];
    private uint[] _rxWords = [];
    private CsrOp[] _txOps = [];

    // HOST_RX_LEN of the next frame, read at the end of the previous receive batch. Only a non-zero
    // value is kept: a frame at the head stays there until we pop it, while an empty queue can fill.
    private uint _rxLenAhead;

    // What HOST_TX_FREE said minus what was written since; free space only grows as the hardware
    // drains, so this never overstates it and saves a read per frame.
    private uint _txFreeEstimate;

    public Dataplane(IDevice device)
    {
        _device = device ?? throw new ArgumentNullException(nameof(device));
    }

    /// <summary>The transport's name ("model", "tcp", "usb", "pcie").</summary>
    public string Transport => _device.Transport;

    /// <summary>The geometry read by <see cref="ReadGeometry"/> (read on first need).</summary>
    public DataplaneGeometry Geometry
    {
        get
        {
            lock (_gate)
                return _geometry ?? ReadGeometry();
        }
    }

    /// <summary>VERSION as read by <see cref="ReadGeometry"/>.</summary>
    public uint Version { get; private set; }

    /// <summary>PARAM_LOOKUP_LATENCY as read by <see cref="ReadGeometry"/>.</summary>
    public int LookupLatency { get; private set; }

    /// <summary>One register read, serialized with every other access.</summary>
    public uint Read(uint address)
    {
        lock (_gate)
            return _device.Read(address);
    }

    /// <summary>One register write, serialized with every other access.</summary>
    public void Write(uint address, uint value)
    {
        lock (_gate)
            _device.Write(address, value);
    }

    /// <summary>A batch as <see cref="IDevice.Batch"/>, serialized with every other access (the flow-table manager's way in).</summary>
    public void Batch(ReadOnlySpan<CsrOp> ops, Span<uint> results)
    {
        lock (_gate)
            _device.Batch(ops, results);
    }

    /// <summary>Reads ID, VERSION and the PARAM_* registers.</summary>
    /// <exception cref="DeviceException">ID is not 'OFLD': something else answers on this bus.</exception>
    public DataplaneGeometry ReadGeometry()
    {
        lock (_gate)
        {
            ReadOnlySpan<uint> addrs =
            [
                Reg.Id, Reg.Version, Reg.ParamDataW, Reg.ParamFtBuckets, Reg.ParamFtWays, Reg.ParamFtStash, Reg.ParamGroups,
                Reg.ParamSlots, Reg.ParamVmacs, Reg.ParamNexthops, Reg.ParamMaxFrame, Reg.ParamHostRxDepth,
                Reg.ParamHostTxDepth, Reg.ParamLookupLatency,
            ];
            Span<CsrOp> ops = stackalloc CsrOp[addrs.Length];
            for (int i = 0; i < addrs.Length; i++)
                ops[i] = CsrOp.Read(addrs[i]);
            Span<uint> v = stackalloc uint[addrs.Length];
            Batch(ops, v);
            if (v[0] != RegConst.IdValue)
                throw new DeviceException(DeviceError.Mismatch,
                    $"ID register reads 0x{v[0]:X8}, expected 0x{RegConst.IdValue:X8} ('OFLD'): not an Offload data plane, or the register bus is broken");
            // A different major version moves registers; an older minor lacks some this control plane writes.
            const uint ours = RegConst.VersionValue;
            if ((v[1] >> 24) != (ours >> 24) || ((v[1] >> 16) & 0xFF) < ((ours >> 16) & 0xFF))
                throw new DeviceException(DeviceError.Mismatch,
                    $"VERSION reads {FormatVersion(v[1])}, this control plane speaks register map {FormatVersion(ours)}: flash a matching image or use a matching control plane");
            Version = v[1];
            var g = new DataplaneGeometry(
                DataWidth: (int)v[2], Buckets: (int)v[3], Ways: (int)v[4], Stash: (int)v[5], Groups: (int)v[6], Slots: (int)v[7],
                Vmacs: (int)v[8], NextHops: (int)v[9], MaxFrame: (int)v[10], HostRxDepth: (int)v[11], HostTxDepth: (int)v[12]);
            if (g.Buckets <= 0 || g.Ways <= 0 || g.Slots <= 0 || g.MaxFrame < 14 || g.DataWidth is not (8 or 16 or 32 or 64))
                throw new DeviceException($"PARAM registers make no sense: {g}");
            LookupLatency = (int)v[13];
            _geometry = g;
            return g;
        }
    }

    /// <summary>
    /// Makes the hardware hold <paramref name="config"/>: port MACs, SYNC_PORT, every vMAC filter entry, every
    /// group (VIP, slot table, then CFG, so a group is enabled only once its slots are in place), every next
    /// hop, and every flow entry (entries not in <see cref="DataplaneConfig.Flows"/> are invalidated).
    /// </summary>
    public void Apply(DataplaneConfig config)
    {
        ArgumentNullException.ThrowIfNull(config);
        var g = Geometry;
        CheckFits(config, g);
        var ops = new List<CsrOp>(4096);

        for (int p = 0; p < 2; p++)
        {
            ops.Add(CsrOp.Write(Reg.PortMacLo + ((uint)p * Reg.PortMacLoStride), config.PortMacs[p].Lo));
            ops.Add(CsrOp.Write(Reg.PortMacHi + ((uint)p * Reg.PortMacHiStride), config.PortMacs[p].Hi));
        }
        ops.Add(CsrOp.Write(Reg.SyncPort, config.SyncPort));

        for (int i = 0; i < g.Vmacs; i++)
        {
            MacAddress? mac = i < config.Vmacs.Length ? config.Vmacs[i] : null;
            ops.Add(CsrOp.Write(Reg.VmacLo + ((uint)i * Reg.VmacLoStride), mac?.Lo ?? 0));
            ops.Add(CsrOp.Write(Reg.VmacHi + ((uint)i * Reg.VmacHiStride), VmacHiWord(mac)));
        }

        for (int i = 0; i < g.Groups; i++)
        {
            GroupConfig? grp = i < config.Groups.Length ? config.Groups[i] : null;
            uint vipAddr = Reg.GroupVip + ((uint)i * Reg.GroupVipStride);
            uint cfgAddr = Reg.GroupCfg + ((uint)i * Reg.GroupCfgStride);
            if (grp is null)
            {
                ops.Add(CsrOp.Write(cfgAddr, 0));
                ops.Add(CsrOp.Write(vipAddr, 0));
                continue;
            }
            // Disable while the slots change: a half-written table must not answer.
            ops.Add(CsrOp.Write(cfgAddr, GroupCfgWord(grp, enabled: false)));
            ops.Add(CsrOp.Write(vipAddr, grp.VirtualIp));
            ops.Add(CsrOp.Write(Reg.SlotAddr, (uint)(i * g.Slots)));
            for (int s = 0; s < g.Slots; s++)
                ops.Add(CsrOp.Write(Reg.SlotData, grp.Slots[s]));
            ops.Add(CsrOp.Write(cfgAddr, GroupCfgWord(grp, grp.Enabled)));
        }

        for (int i = 0; i < g.NextHops; i++)
        {
            NextHop nh = i < config.NextHops.Length ? config.NextHops[i] : default;
            AddNextHopWrite(ops, i, nh);
        }

        for (int i = 0; i < g.TotalEntries; i++)
        {
            if (config.Flows.TryGetValue(i, out var flow))
                FlowEntryCodec.AddWrite(ops, i, flow.Key, flow.Action);
            else
                FlowEntryCodec.AddInvalidate(ops, i);
        }

        Batch(CollectionsMarshal.AsSpan(ops), default);
    }

    /// <summary>"major.minor.patch" of a VERSION register value.</summary>
    public static string FormatVersion(uint version) => $"{version >> 24}.{(version >> 16) & 0xFF}.{version & 0xFFFF}";

    /// <summary>The ports' own MACs (sources of ARP replies and rewritten frames) and SYNC_PORT, in one batch.</summary>
    public void WritePorts(MacAddress port0, MacAddress port1, ushort syncPort)
    {
        Span<CsrOp> ops =
        [
            CsrOp.Write(Reg.PortMacLo, port0.Lo),
            CsrOp.Write(Reg.PortMacHi, port0.Hi),
            CsrOp.Write(Reg.PortMacLo + Reg.PortMacLoStride, port1.Lo),
            CsrOp.Write(Reg.PortMacHi + Reg.PortMacHiStride, port1.Hi),
            CsrOp.Write(Reg.SyncPort, syncPort),
        ];
        Batch(ops, default);
    }

    /// <summary>Writes one vMAC filter entry; null invalidates it.</summary>
    public void WriteVmac(int index, MacAddress? mac)
    {
        Span<(int Index, MacAddress? Mac)> one = [(index, mac)];
        WriteVmacs(one);
    }

    /// <summary>
    /// Writes a set of vMAC filter entries (null invalidates one) in one batch. Entries being set are written
    /// before entries being cleared, so a vMAC moving from one index to another is never missing in between.
    /// </summary>
    public void WriteVmacs(ReadOnlySpan<(int Index, MacAddress? Mac)> entries)
    {
        var g = Geometry;
        foreach (var (index, _) in entries)
        {
            if ((uint)index >= (uint)g.Vmacs)
                throw new ArgumentOutOfRangeException(nameof(entries), index, $"vMAC filter index {index} is outside the table (0..{g.Vmacs - 1})");
        }
        Span<CsrOp> ops = entries.Length <= 32 ? stackalloc CsrOp[2 * entries.Length] : new CsrOp[2 * entries.Length];
        int k = 0;
        for (int pass = 0; pass < 2; pass++)
        {
            foreach (var (index, mac) in entries)
            {
                if ((mac is not null) != (pass == 0))
                    continue;
                ops[k++] = CsrOp.Write(Reg.VmacLo + ((uint)index * Reg.VmacLoStride), mac?.Lo ?? 0);
                ops[k++] = CsrOp.Write(Reg.VmacHi + ((uint)index * Reg.VmacHiStride), VmacHiWord(mac));
            }
        }
        Batch(ops, default);
    }

    /// <summary>The whole vMAC filter as the hardware holds it (null where an entry is not valid), in one batch.</summary>
    public MacAddress?[] ReadVmacs()
    {
        var g = Geometry;
        var ops = new CsrOp[2 * g.Vmacs];
        for (int i = 0; i < g.Vmacs; i++)
        {
            ops[2 * i] = CsrOp.Read(Reg.VmacLo + ((uint)i * Reg.VmacLoStride));
            ops[(2 * i) + 1] = CsrOp.Read(Reg.VmacHi + ((uint)i * Reg.VmacHiStride));
        }
        var r = new uint[ops.Length];
        Batch(ops, r);
        var result = new MacAddress?[g.Vmacs];
        for (int i = 0; i < g.Vmacs; i++)
        {
            uint hi = r[(2 * i) + 1];
            if (((hi >> RegField.VmacHiValidLsb) & 1) != 0)
                result[i] = new MacAddress(((ulong)((hi >> RegField.VmacHiMacLsb) & 0xFFFF) << 32) | r[2 * i]);
        }
        return result;
    }

    /// <summary>
    /// Writes one group table entry in one batch: CFG with the enable bit clear, VIP, the slot table, then CFG as
    /// asked (as <see cref="Apply"/> does, so a half-written table never answers). Null clears the entry (CFG and
    /// VIP 0). Any write of CFG restarts the group's round-robin pointer at slot 0.
    /// </summary>
    public void WriteGroup(int index, GroupConfig? group)
    {
        var g = Geometry;
        ArgumentOutOfRangeException.ThrowIfNegative(index);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(index, g.Groups);
        uint vipAddr = Reg.GroupVip + ((uint)index * Reg.GroupVipStride);
        uint cfgAddr = Reg.GroupCfg + ((uint)index * Reg.GroupCfgStride);
        if (group is null)
        {
            Span<CsrOp> clear = [CsrOp.Write(cfgAddr, 0), CsrOp.Write(vipAddr, 0)];
            Batch(clear, default);
            return;
        }
        if (group.Slots.Length != g.Slots)
            throw new ArgumentException($"group {index} has {group.Slots.Length} slots, the hardware has {g.Slots}", nameof(group));
        var ops = new CsrOp[g.Slots + 4];
        ops[0] = CsrOp.Write(cfgAddr, GroupCfgWord(group, enabled: false));
        ops[1] = CsrOp.Write(vipAddr, group.VirtualIp);
        ops[2] = CsrOp.Write(Reg.SlotAddr, (uint)(index * g.Slots));
        for (int s = 0; s < g.Slots; s++)
            ops[3 + s] = CsrOp.Write(Reg.SlotData, group.Slots[s]);
        ops[^1] = CsrOp.Write(cfgAddr, GroupCfgWord(group, group.Enabled));
        Batch(ops, default);
    }

    /// <summary>Rewrites one group's slot table (SLOT_ADDR once, then SLOT_DATA auto-increments).</summary>
    public void WriteSlots(int group, ReadOnlySpan<byte> slots)
    {
        var g = Geometry;
        ArgumentOutOfRangeException.ThrowIfNegative(group);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(group, g.Groups);
        if (slots.Length != g.Slots)
            throw new ArgumentException($"a slot table has {g.Slots} entries, got {slots.Length}", nameof(slots));
        var ops = new CsrOp[slots.Length + 1];
        ops[0] = CsrOp.Write(Reg.SlotAddr, (uint)(group * g.Slots));
        for (int s = 0; s < slots.Length; s++)
            ops[s + 1] = CsrOp.Write(Reg.SlotData, slots[s]);
        Batch(ops, default);
    }

    public void WriteNextHop(int index, NextHop nextHop)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(index);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(index, Geometry.NextHops);
        var ops = new List<CsrOp>(8);
        AddNextHopWrite(ops, index, nextHop);
        Batch(CollectionsMarshal.AsSpan(ops), default);
    }

    /// <summary>Reads every 64-bit counter (LO then HI, as the latch requires) in one batch.</summary>
    public DataplaneCounters ReadCounters()
    {
        const int perPort = RegConst.CntPortCount;
        const int global = RegConst.CntGlobalCount;
        const int n = (2 * perPort) + global;
        Span<CsrOp> ops = stackalloc CsrOp[2 * n];
        int k = 0;
        for (int p = 0; p < 2; p++)
        {
            for (int i = 0; i < perPort; i++)
            {
                uint lo = Reg.CntPortLo + ((uint)p * RegConst.CntPortStride) + ((uint)i * Reg.CntPortLoStride);
                ops[k++] = CsrOp.Read(lo);
                ops[k++] = CsrOp.Read(lo + (Reg.CntPortHi - Reg.CntPortLo));
            }
        }
        for (int i = 0; i < global; i++)
        {
            uint lo = Reg.CntGlobalLo + ((uint)i * Reg.CntGlobalLoStride);
            ops[k++] = CsrOp.Read(lo);
            ops[k++] = CsrOp.Read(lo + (Reg.CntGlobalHi - Reg.CntGlobalLo));
        }
        Span<uint> r = stackalloc uint[2 * n];
        Batch(ops, r);
        Span<ulong> v = stackalloc ulong[n];
        for (int i = 0; i < n; i++)
            v[i] = r[2 * i] | ((ulong)r[(2 * i) + 1] << 32);
        return new DataplaneCounters(
            PortCounters.FromValues(v[..perPort]), PortCounters.FromValues(v[perPort..(2 * perPort)]),
            v[2 * perPort + RegConst.CntGlobalHostTxFrames], v[2 * perPort + RegConst.CntGlobalHostTxDrops]);
    }

    /// <summary>Clears every counter (a write of a LO register clears that counter).</summary>
    public void ClearCounters()
    {
        var ops = new List<CsrOp>(40);
        for (int p = 0; p < 2; p++)
        {
            for (int i = 0; i < RegConst.CntPortCount; i++)
                ops.Add(CsrOp.Write(Reg.CntPortLo + ((uint)p * RegConst.CntPortStride) + ((uint)i * Reg.CntPortLoStride), 0));
        }
        for (int i = 0; i < RegConst.CntGlobalCount; i++)
            ops.Add(CsrOp.Write(Reg.CntGlobalLo + ((uint)i * Reg.CntGlobalLoStride), 0));
        Batch(CollectionsMarshal.AsSpan(ops), default);
    }

    /// <summary>ARP replies sent with the vMAC of (group, forwarder).</summary>
    public uint ReadArpCounter(int group, int forwarder)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(group);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(group, Geometry.Groups);
        ArgumentOutOfRangeException.ThrowIfNegative(forwarder);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(forwarder, 255);
        Span<CsrOp> ops = [CsrOp.Write(Reg.ArpcntAddr, (uint)((group * 256) + forwarder)), CsrOp.Read(Reg.ArpcntData)];
        Span<uint> r = stackalloc uint[2];
        Batch(ops, r);
        return r[1];
    }

    /// <summary>TIME, the data plane's cycle counter (LO latches HI).</summary>
    public ulong ReadTime()
    {
        Span<CsrOp> ops = [CsrOp.Read(Reg.TimeLo), CsrOp.Read(Reg.TimeHi)];
        Span<uint> r = stackalloc uint[2];
        Batch(ops, r);
        return r[0] | ((ulong)r[1] << 32);
    }

    /// <summary>
    /// Takes the frame at the head of the host RX queue: its metadata, and the frame (without metadata)
    /// copied to <paramref name="buffer"/>. Two round trips at most (HOST_RX_LEN, then every HOST_RX_DATA
    /// word in one batch that also reads the next frame's length), one when that length was already known.
    /// </summary>
    /// <returns>False when the queue is empty.</returns>
    /// <exception cref="ArgumentException">The buffer is smaller than the frame; it stays at the head.</exception>
    public bool TryReceiveHost(Span<byte> buffer, out HostFrame meta, out int frameLength)
    {
        lock (_gate)
        {
            uint len = _rxLenAhead != 0 ? _rxLenAhead : Read(Reg.HostRxLen);
            _rxLenAhead = 0;
            meta = default;
            frameLength = 0;
            if (len == 0)
                return false;
            var g = Geometry;
            if (len < MetaBytes || len > MetaBytes + g.MaxFrame)
                throw new DeviceException($"HOST_RX_LEN reads {len}: outside {MetaBytes}..{MetaBytes + g.MaxFrame}");
            int dataLen = (int)len - MetaBytes;
            if (buffer.Length < dataLen)
            {
                _rxLenAhead = len;
                throw new ArgumentException($"the host frame is {dataLen} bytes; the buffer holds {buffer.Length}", nameof(buffer));
            }
            EnsureHostBuffers(g);
            int words = (int)((len + 3) / 4);
            var ops = _rxOps.AsSpan(0, words + 1);
            ops[words] = CsrOp.Read(Reg.HostRxLen);
            var r = _rxWords.AsSpan(0, words + 1);
            try
            {
                Batch(ops, r);
            }
            finally
            {
                // The shared op array must hold data reads again whatever happened, or every later frame reads out of step.
                ops[words] = CsrOp.Read(Reg.HostRxData);
            }

            uint w0 = r[0];
            meta = new HostFrame((HostReason)(w0 >> 24), (byte)(w0 >> 16), (ushort)w0, r[1], ((ulong)r[2] << 32) | r[3]);
            _rxLenAhead = r[words];
            if (meta.Length != dataLen)
                throw new DeviceException($"host frame metadata says {meta.Length} bytes, HOST_RX_LEN says {dataLen} (+{MetaBytes})");

            var data = r[4..words];
            int full = dataLen / 4;
            for (int i = 0; i < full; i++)
                BinaryPrimitives.WriteUInt32BigEndian(buffer[(i * 4)..], data[i]);
            for (int b = full * 4; b < dataLen; b++)
                buffer[b] = (byte)(data[b / 4] >> (24 - (8 * (b % 4))));
            frameLength = dataLen;
            return true;
        }
    }

    /// <summary>
    /// Queues a frame (no FCS, 14..MAX_FRAME bytes) for transmission on <paramref name="port"/> through the
    /// host TX queue: HOST_TX_DATA words (metadata byte 0 = port) and HOST_TX_COMMIT in one batch.
    /// </summary>
    /// <returns>False when the queue has no room for it now (nothing was written).</returns>
    public bool SendHost(int port, ReadOnlySpan<byte> frame)
    {
        lock (_gate)
        {
            if ((uint)port > 1)
                throw new ArgumentOutOfRangeException(nameof(port), port, "ports are 0 and 1");
            var g = Geometry;
            if (frame.Length < 14 || frame.Length > g.MaxFrame)
                throw new ArgumentException($"a frame is 14..{g.MaxFrame} bytes, got {frame.Length}", nameof(frame));
            int total = MetaBytes + frame.Length;
            int words = (total + 3) / 4;
            // The queue stores DATA_W words, so a frame may use up to a word more than it writes.
            uint need = (uint)((words * 4) + (g.DataWidth / 8));
            if (_txFreeEstimate < need)
            {
                _txFreeEstimate = Read(Reg.HostTxFree);
                if (_txFreeEstimate < need)
                    return false;
            }
            EnsureHostBuffers(g);
            var ops = _txOps.AsSpan(0, words + 1);
            ops[0] = CsrOp.Write(Reg.HostTxData, (uint)port << 24);
            ops[1] = CsrOp.Write(Reg.HostTxData, 0);
            ops[2] = CsrOp.Write(Reg.HostTxData, 0);
            ops[3] = CsrOp.Write(Reg.HostTxData, 0);
            int fullWords = frame.Length / 4;
            for (int i = 0; i < fullWords; i++)
                ops[4 + i] = CsrOp.Write(Reg.HostTxData, BinaryPrimitives.ReadUInt32BigEndian(frame[(i * 4)..]));
            if (frame.Length % 4 != 0)
            {
                uint tail = 0;
                for (int b = fullWords * 4; b < frame.Length; b++)
                    tail |= (uint)frame[b] << (24 - (8 * (b % 4)));
                ops[4 + fullWords] = CsrOp.Write(Reg.HostTxData, tail);
            }
            ops[words] = CsrOp.Write(Reg.HostTxCommit, (uint)total);
            Batch(ops, default);
            _txFreeEstimate -= need;
            return true;
        }
    }

    /// <summary>Restarts the watchdog (any write of WDOG_KICK); also clears EXPIRED.</summary>
    public void Kick() => Write(Reg.WdogKick, 1);

    /// <summary>Sets WDOG_TIMEOUT in cycles (0 turns the watchdog off) and kicks it.</summary>
    public void SetWatchdog(uint timeoutCycles)
    {
        Span<CsrOp> ops = [CsrOp.Write(Reg.WdogTimeout, timeoutCycles), CsrOp.Write(Reg.WdogKick, 1)];
        Batch(ops, default);
    }

    public WatchdogStatus ReadWatchdog()
    {
        Span<CsrOp> ops = [CsrOp.Read(Reg.WdogTimeout), CsrOp.Read(Reg.WdogStatus), CsrOp.Read(Reg.WdogExpiries)];
        Span<uint> r = stackalloc uint[3];
        Batch(ops, r);
        return new WatchdogStatus(r[0], ((r[1] >> RegField.WdogStatusExpiredLsb) & 1) != 0, r[2]);
    }

    private void EnsureHostBuffers(DataplaneGeometry g)
    {
        int maxWords = ((MetaBytes + g.MaxFrame + 3) / 4) + 1;
        if (_rxOps.Length >= maxWords)
            return;
        _rxOps = new CsrOp[maxWords];
        _rxOps.AsSpan().Fill(CsrOp.Read(Reg.HostRxData));
        _rxWords = new uint[maxWords];
        _txOps = new CsrOp[maxWords];
    }

    private static uint VmacHiWord(MacAddress? mac) =>
        mac is { } m ? (m.Hi << RegField.VmacHiMacLsb) | (1u << RegField.VmacHiValidLsb) : 0;

    private static uint GroupCfgWord(GroupConfig grp, bool enabled) =>
        ((enabled ? 1u : 0u) << RegField.GroupCfgEnLsb)
        | ((uint)grp.Mode << RegField.GroupCfgModeLsb)
        | ((grp.CopyRequests ? 1u : 0u) << RegField.GroupCfgCopyLsb)
        | ((uint)(grp.GroupId & 0x3FF) << RegField.GroupCfgGidLsb);

    /// <summary>Reads next-hop entry <paramref name="index"/> back from the hardware (NH_CMD READ).</summary>
    public NextHop ReadNextHop(int index)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(index);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(index, Geometry.NextHops);
        Span<CsrOp> ops =
        [
            CsrOp.Write(Reg.NhIndex, (uint)index),
            CsrOp.Write(Reg.NhCmd, RegConst.NhCmdRead),
            CsrOp.Read(Reg.NhDmacLo),
            CsrOp.Read(Reg.NhDmacHi),
            CsrOp.Read(Reg.NhSmacLo),
            CsrOp.Read(Reg.NhSmacHi),
            CsrOp.Read(Reg.NhPort),
        ];
        Span<uint> r = stackalloc uint[ops.Length];
        Batch(ops, r);
        return new NextHop(
            (byte)((r[6] >> RegField.NhPortPortLsb) & 1),
            new MacAddress(((ulong)(r[3] & 0xFFFF) << 32) | r[2]),
            new MacAddress(((ulong)(r[5] & 0xFFFF) << 32) | r[4]));
    }

    private static void AddNextHopWrite(List<CsrOp> ops, int index, NextHop nh)
    {
        ops.Add(CsrOp.Write(Reg.NhIndex, (uint)index));
        ops.Add(CsrOp.Write(Reg.NhDmacLo, nh.Destination.Lo));
        ops.Add(CsrOp.Write(Reg.NhDmacHi, nh.Destination.Hi));
        ops.Add(CsrOp.Write(Reg.NhSmacLo, nh.Source.Lo));
        ops.Add(CsrOp.Write(Reg.NhSmacHi, nh.Source.Hi));
        ops.Add(CsrOp.Write(Reg.NhPort, (uint)(nh.Port & 1) << RegField.NhPortPortLsb));
        ops.Add(CsrOp.Write(Reg.NhCmd, RegConst.NhCmdWrite));
    }

    private static void CheckFits(DataplaneConfig config, DataplaneGeometry g)
    {
        for (int i = g.Vmacs; i < config.Vmacs.Length; i++)
        {
            if (config.Vmacs[i] is not null)
                throw new ArgumentException($"vMAC entry {i} is set, the hardware has {g.Vmacs}", nameof(config));
        }
        for (int i = 0; i < config.Groups.Length; i++)
        {
            var grp = config.Groups[i];
            if (grp is null)
                continue;
            if (i >= g.Groups)
                throw new ArgumentException($"group {i} is set, the hardware has {g.Groups}", nameof(config));
            if (grp.Slots.Length != g.Slots)
                throw new ArgumentException($"group {i} has {grp.Slots.Length} slots, the hardware has {g.Slots}", nameof(config));
        }
        for (int i = g.NextHops; i < config.NextHops.Length; i++)
        {
            if (config.NextHops[i] != default)
                throw new ArgumentException($"next hop {i} is set, the hardware has {g.NextHops}", nameof(config));
        }
        foreach (int i in config.Flows.Keys)
        {
            if ((uint)i >= (uint)g.TotalEntries)
                throw new ArgumentException($"flow index {i} is outside the table (0..{g.TotalEntries - 1})", nameof(config));
        }
    }
}
