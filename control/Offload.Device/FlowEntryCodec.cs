
namespace Offload.Device;

/// <summary>One flow-table entry as FT_CMD READ returns it.</summary>
public readonly record struct FlowEntryState(bool Valid, FlowKey Key, FlowAction Action, uint LastSeen);

/// <summary>Register sequences that write, invalidate and read flow-table entries through the FT_* staging registers.</summary>
public static class FlowEntryCodec
{
    /// <summary>Reads per entry in <see cref="AddRead"/> (the results sit at the end of its ops).</summary>
    public const int ReadValues = 8;

    /// <summary>Ops per entry of <see cref="AddRead"/>.</summary>
    public const int ReadOps = 2 + ReadValues;

    public const int WriteOps = 9;

    public static uint Meta(in FlowKey key, bool valid) =>
        ((uint)key.Protocol << RegField.FtMetaProtoLsb)
        | ((uint)(key.InPort & 1) << RegField.FtMetaInportLsb)
        | (valid ? 1u << RegField.FtMetaValidLsb : 0u);

    public static uint Ports(in FlowKey key) =>
        ((uint)key.SrcPort << RegField.FtPortsSportLsb) | ((uint)key.DstPort << RegField.FtPortsDportLsb);

    public static uint ActionWord(in FlowAction a) =>
        ((uint)a.NextHop << RegField.FtActionNhLsb)
        | ((a.TtlDecrement ? 1u : 0u) << RegField.FtActionTtlDecLsb)
        | (((uint)a.Nat & 3u) << RegField.FtActionNatLsb);

    public static void AddWrite(List<CsrOp> ops, int index, in FlowKey key, in FlowAction action)
    {
        ArgumentNullException.ThrowIfNull(ops);
        ops.Add(CsrOp.Write(Reg.FtIndex, (uint)index));
        ops.Add(CsrOp.Write(Reg.FtSrcIp, key.SrcIp));
        ops.Add(CsrOp.Write(Reg.FtDstIp, key.DstIp));
        ops.Add(CsrOp.Write(Reg.FtPorts, Ports(key)));
        ops.Add(CsrOp.Write(Reg.FtMeta, Meta(key, valid: true)));
        ops.Add(CsrOp.Write(Reg.FtAction, ActionWord(action)));
        ops.Add(CsrOp.Write(Reg.FtNatIp, action.NatIp));
        ops.Add(CsrOp.Write(Reg.FtNatPort, action.NatPort));
        ops.Add(CsrOp.Write(Reg.FtCmd, RegConst.FtCmdWrite));
    }

    public static void AddInvalidate(List<CsrOp> ops, int index)
    {
        ArgumentNullException.ThrowIfNull(ops);
        ops.Add(CsrOp.Write(Reg.FtIndex, (uint)index));
        ops.Add(CsrOp.Write(Reg.FtCmd, RegConst.FtCmdInvalidate));
    }

    /// <summary>FT_CMD READ of one entry, then reads of the staging registers it fills (decode with <see cref="Decode"/>).</summary>
    public static void AddRead(List<CsrOp> ops, int index)
    {
        ArgumentNullException.ThrowIfNull(ops);
        ops.Add(CsrOp.Write(Reg.FtIndex, (uint)index));
        ops.Add(CsrOp.Write(Reg.FtCmd, RegConst.FtCmdRead));
        ops.Add(CsrOp.Read(Reg.FtSrcIp));
        ops.Add(CsrOp.Read(Reg.FtDstIp));
        ops.Add(CsrOp.Read(Reg.FtPorts));
        ops.Add(CsrOp.Read(Reg.FtMeta));
        ops.Add(CsrOp.Read(Reg.FtAction));
        ops.Add(CsrOp.Read(Reg.FtNatIp));
        ops.Add(CsrOp.Read(Reg.FtNatPort));
        ops.Add(CsrOp.Read(Reg.FtLastSeen));
    }

    /// <summary>Decodes the <see cref="ReadOps"/> results of one <see cref="AddRead"/>.</summary>
    public static FlowEntryState Decode(ReadOnlySpan<uint> r)
    {
        if (r.Length < ReadOps)
            throw new ArgumentException($"an entry read has {ReadOps} results", nameof(r));
        r = r[2..];
        uint meta = r[3];
        uint act = r[4];
        var key = new FlowKey(
            InPort: (byte)((meta >> RegField.FtMetaInportLsb) & 1),
            SrcIp: r[0],
            DstIp: r[1],
            Protocol: (byte)(meta >> RegField.FtMetaProtoLsb),
            SrcPort: (ushort)(r[2] >> RegField.FtPortsSportLsb),
            DstPort: (ushort)(r[2] >> RegField.FtPortsDportLsb));
        var action = new FlowAction(
            NextHop: (byte)(act >> RegField.FtActionNhLsb),
            TtlDecrement: ((act >> RegField.FtActionTtlDecLsb) & 1) != 0,
            Nat: (NatMode)((act >> RegField.FtActionNatLsb) & 3),
            NatIp: r[5],
            NatPort: (ushort)r[6]);
        return new FlowEntryState(((meta >> RegField.FtMetaValidLsb) & 1) != 0, key, action, r[7]);
    }
}
