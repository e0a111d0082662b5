using Offload.Device;

namespace Offload.Testing.Device;

/// <summary>ID, VERSION and the PARAM_* registers of a geometry: what every register-file fake answers the same way.</summary>
public static class GeometryRegisters
{
    public static bool TryRead(DataplaneGeometry g, uint address, out uint value)
    {
        ArgumentNullException.ThrowIfNull(g);
        uint? v = address switch
        {
            Reg.Id => RegConst.IdValue,
            Reg.Version => RegConst.VersionValue,
            Reg.ParamDataW => (uint)g.DataWidth,
            Reg.ParamFtBuckets => (uint)g.Buckets,
            Reg.ParamFtWays => (uint)g.Ways,
            Reg.ParamFtStash => (uint)g.Stash,
            Reg.ParamGroups => (uint)g.Groups,
            Reg.ParamSlots => (uint)g.Slots,
            Reg.ParamVmacs => (uint)g.Vmacs,
            Reg.ParamNexthops => (uint)g.NextHops,
            Reg.ParamMaxFrame => (uint)g.MaxFrame,
            Reg.ParamHostRxDepth => (uint)g.HostRxDepth,
            Reg.ParamHostTxDepth => (uint)g.HostTxDepth,
            _ => null,
        };
        value = v ?? 0;
        return v is not null;
    }
}
