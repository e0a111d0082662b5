using System.Buffers.Binary;
using Offload.Device;

namespace Offload.Testing.Device;

/// <summary>
/// An <see cref="IDevice"/> that is only the data plane's register file held in memory: ID and PARAM_* for a given
/// geometry, the flow table behind the FT_* staging registers, next hops, the host TX queue (frames are counted and
/// the last one kept, then discarded) and the watchdog registers. No frames flow through it.
/// </summary>
/// <remarks>
/// It exists so the classifier benchmark measures the classifier, not a transport: every register access the
/// control plane makes still happens, but costs a switch instead of a bus transaction. <see cref="Lookup"/> answers
/// the way the hardware looks a key up (docs/dataplane.md, "Flow table"), so a benchmark can play the hardware side
/// of established traffic. Not thread-safe.
/// </remarks>
public sealed class RegisterFileDevice : IDevice
{
    private const int FieldCount = 8;   // SRC_IP, DST_IP, PORTS, META, ACTION, NAT_IP, NAT_PORT, LAST_SEEN

    private readonly DataplaneGeometry _g;
    private readonly uint[] _entries;
    private readonly uint[] _staging = new uint[FieldCount];
    private readonly uint[] _nextHops;
    private readonly uint[] _nhStaging = new uint[5];
    private readonly byte[] _tx;
    private readonly byte[] _lastSent;
    private uint _ftIndex;
    private uint _nhIndex;
    private int _txLength;
    private int _lastSentLength;

    public RegisterFileDevice(DataplaneGeometry? geometry = null)
    {
        _g = geometry ?? new DataplaneGeometry();
        _entries = new uint[_g.TotalEntries * FieldCount];
        _nextHops = new uint[_g.NextHops * 5];
        _tx = new byte[RegConst.MetaBytes + _g.MaxFrame + 8];
        _lastSent = new byte[_g.MaxFrame];
    }

    public string Transport => "memory";

    /// <summary>What LAST_SEEN reads for entries written or hit from now on (the hardware's TIME &gt;&gt; TS_SHIFT).</summary>
    public uint LastSeenNow { get; set; }

    /// <summary>Frames committed to the host TX queue.</summary>
    public long SentFrames { get; private set; }

    /// <summary>Egress port of the last committed frame.</summary>
    public int LastSentPort { get; private set; } = -1;

    /// <summary>The last committed frame (without metadata).</summary>
    public ReadOnlySpan<byte> LastSent => _lastSent.AsSpan(0, _lastSentLength);

    public uint WatchdogKicks { get; private set; }

    /// <summary>Every committed frame, as it would leave: its egress port and a copy of its bytes (test support: it allocates).</summary>
    public event Action<int, byte[]>? Committed;

    public uint Read(uint address) => GeometryRegisters.TryRead(_g, address, out uint g) ? g : address switch
    {
        Reg.HostRxLen => 0,
        // Frames leave as soon as they are committed, so the queue is always empty.
        Reg.HostTxFree => (uint)(_g.HostTxDepth * (_g.DataWidth / 8)),
        Reg.FtIndex => _ftIndex,
        >= Reg.FtSrcIp and <= Reg.FtLastSeen when (address - Reg.FtSrcIp) % 4 == 0 => _staging[(address - Reg.FtSrcIp) / 4],
        _ => 0,
    };

    public void Write(uint address, uint value)
    {
        switch (address)
        {
            case Reg.FtIndex:
                _ftIndex = value;
                break;
            case >= Reg.FtSrcIp and <= Reg.FtNatPort when (address - Reg.FtSrcIp) % 4 == 0:
                _staging[(address - Reg.FtSrcIp) / 4] = value;
                break;
            case Reg.FtCmd:
                FlowCommand(value);
                break;
            case Reg.NhIndex:
                _nhIndex = value;
                break;
            case >= Reg.NhDmacLo and <= Reg.NhPort when (address - Reg.NhDmacLo) % 4 == 0:
                _nhStaging[(address - Reg.NhDmacLo) / 4] = value;
                break;
            case Reg.NhCmd when value == RegConst.NhCmdWrite && _nhIndex < (uint)_g.NextHops:
                _nhStaging.CopyTo(_nextHops.AsSpan((int)_nhIndex * 5));
                break;
            case Reg.HostTxData:
                if (_txLength + 4 <= _tx.Length)
                    BinaryPrimitives.WriteUInt32BigEndian(_tx.AsSpan(_txLength), value);
                _txLength += 4;
                break;
            case Reg.HostTxCommit:
                Commit((int)value);
                break;
            case Reg.WdogKick:
                WatchdogKicks++;
                break;
            default:
                break;
        }
    }

    public void Batch(ReadOnlySpan<CsrOp> ops, Span<uint> results)
    {
        for (int i = 0; i < ops.Length; i++)
        {
            var op = ops[i];
            if (op.Kind == CsrOpKind.Read)
            {
                uint v = Read(op.Address);
                if (!results.IsEmpty)
                    results[i] = v;
            }
            else
            {
                Write(op.Address, op.Value);
                if (!results.IsEmpty)
                    results[i] = 0;
            }
        }
    }

    /// <summary>
    /// The hardware's lookup of <paramref name="key"/>: both buckets and the stash, lowest matching index wins; a hit
    /// sets LAST_SEEN to <see cref="LastSeenNow"/>.
    /// </summary>
    public bool Lookup(in FlowKey key, out int index, out FlowAction action)
    {
        index = -1;
        action = default;
        int b0 = (int)(FlowHash.CrcA(key) % (uint)_g.Buckets);
        int b1 = (int)(FlowHash.CrcB(key) % (uint)_g.Buckets);
        for (int w = 0; w < _g.Ways && index < 0; w++)
        {
            if (Matches(_g.Index(0, b0, w), key))
                index = _g.Index(0, b0, w);
        }
        for (int w = 0; w < _g.Ways && index < 0; w++)
        {
            if (Matches(_g.Index(1, b1, w), key))
                index = _g.Index(1, b1, w);
        }
        for (int s = 0; s < _g.Stash && index < 0; s++)
        {
            if (Matches(_g.MainEntries + s, key))
                index = _g.MainEntries + s;
        }
        if (index < 0)
            return false;
        var e = _entries.AsSpan(index * FieldCount, FieldCount);
        action = new FlowAction(
            (byte)(e[4] >> RegField.FtActionNhLsb),
            ((e[4] >> RegField.FtActionTtlDecLsb) & 1) != 0,
            (NatMode)((e[4] >> RegField.FtActionNatLsb) & 3),
            e[5],
            (ushort)e[6]);
        e[7] = LastSeenNow;
        return true;
    }

    public void Dispose()
    {
    }

    private bool Matches(int index, in FlowKey key)
    {
        var e = _entries.AsSpan(index * FieldCount, FieldCount);
        return e[3] == FlowEntryCodec.Meta(key, valid: true) && e[0] == key.SrcIp && e[1] == key.DstIp && e[2] == FlowEntryCodec.Ports(key);
    }

    private void FlowCommand(uint command)
    {
        if (_ftIndex >= (uint)_g.TotalEntries)
            return;
        var e = _entries.AsSpan((int)_ftIndex * FieldCount, FieldCount);
        switch (command)
        {
            case RegConst.FtCmdWrite:
                _staging.AsSpan(0, FieldCount - 1).CopyTo(e);
                e[7] = LastSeenNow;
                break;
            case RegConst.FtCmdRead:
                e.CopyTo(_staging);
                break;
            case RegConst.FtCmdInvalidate:
                e[3] &= ~(1u << RegField.FtMetaValidLsb);
                break;
            default:
                break;
        }
    }

    private void Commit(int length)
    {
        int written = _txLength;
        _txLength = 0;
        if (length < RegConst.MetaBytes + 14 || length > RegConst.MetaBytes + _g.MaxFrame || length > written || _tx[0] > 1)
            return;
        SentFrames++;
        LastSentPort = _tx[0];
        _lastSentLength = length - RegConst.MetaBytes;
        _tx.AsSpan(RegConst.MetaBytes, _lastSentLength).CopyTo(_lastSent);
        Committed?.Invoke(LastSentPort, _lastSent.AsSpan(0, _lastSentLength).ToArray());
    }
}
