using Offload.HwModel;
using Offload.Testing.Device;

namespace Offload.Device.Tests;

/// <summary>
/// A register-level stand-in for the flow-table part of the data plane (ID, PARAM_*, FT_*), small enough
/// to check placement exhaustively: after every FT_CMD it can verify that a set of keys still looks up.
/// </summary>
internal sealed class FakeFlowTableDevice : IDevice
{
    private readonly DataplaneGeometry _g;
    private readonly uint[] _staging = new uint[9];
    private readonly FlowEntryState[] _entries;

    public FakeFlowTableDevice(DataplaneGeometry g)
    {
        _g = g;
        _entries = new FlowEntryState[g.TotalEntries];
    }

    public string Transport => "fake";

    public int Commands { get; private set; }

    public int Batches { get; private set; }

    /// <summary>Keys that must be found after every FT_CMD (checked when set).</summary>
    public IReadOnlyCollection<FlowKey>? MustFind { get; set; }

    public List<string> LookupFailures { get; } = [];

    public int? Lookup(FlowKey key)
    {
        int b0 = (int)(FlowHash.CrcA(key) % (uint)_g.Buckets);
        int b1 = (int)(FlowHash.CrcB(key) % (uint)_g.Buckets);
        var candidates = Enumerable.Range(0, _g.Ways).Select(w => _g.Index(0, b0, w))
            .Concat(Enumerable.Range(0, _g.Ways).Select(w => _g.Index(1, b1, w)))
            .Concat(Enumerable.Range(_g.MainEntries, _g.Stash));
        foreach (int i in candidates.Order())
        {
            if (_entries[i].Valid && _entries[i].Key == key)
                return i;
        }
        return null;
    }

    public FlowEntryState Entry(int index) => _entries[index];

    public uint Read(uint address) => GeometryRegisters.TryRead(_g, address, out uint g) ? g : address switch
    {
        >= Reg.FtIndex and <= Reg.FtLastSeen => _staging[(address - Reg.FtIndex) / 4],
        _ => 0,
    };

    public void Write(uint address, uint value)
    {
        if (address is >= Reg.FtIndex and < Reg.FtLastSeen)
        {
            _staging[(address - Reg.FtIndex) / 4] = value;
            return;
        }
        if (address != Reg.FtCmd)
            return;
        Commands++;
        int index = (int)_staging[0];
        switch ((int)value)
        {
            case RegConst.FtCmdWrite:
                Span<uint> r = stackalloc uint[FlowEntryCodec.ReadOps];
                _staging.AsSpan(1, 7).CopyTo(r[2..]);
                r[9] = 0;
                _entries[index] = FlowEntryCodec.Decode(r);
                break;
            case RegConst.FtCmdInvalidate:
                _entries[index] = default;
                break;
            case RegConst.FtCmdRead:
                var e = _entries[index];
                _staging[1] = e.Key.SrcIp;
                _staging[2] = e.Key.DstIp;
                _staging[3] = FlowEntryCodec.Ports(e.Key);
                _staging[4] = FlowEntryCodec.Meta(e.Key, e.Valid);
                _staging[5] = FlowEntryCodec.ActionWord(e.Action);
                _staging[6] = e.Action.NatIp;
                _staging[7] = e.Action.NatPort;
                _staging[8] = e.LastSeen;
                break;
        }
        if (MustFind is { } keys)
        {
            foreach (var k in keys)
            {
                if (Lookup(k) is null)
                    LookupFailures.Add($"after FT_CMD {value} at {index}: {k} not found");
            }
        }
    }

    public void Batch(ReadOnlySpan<CsrOp> ops, Span<uint> results)
    {
        Batches++;
        for (int i = 0; i < ops.Length; i++)
        {
            uint v = 0;
            if (ops[i].Kind == CsrOpKind.Read)
                v = Read(ops[i].Address);
            else
                Write(ops[i].Address, ops[i].Value);
            if (!results.IsEmpty)
                results[i] = v;
        }
    }

    public void Dispose()
    {
    }
}
