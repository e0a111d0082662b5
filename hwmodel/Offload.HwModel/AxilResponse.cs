namespace Offload.HwModel;

/// <summary>An AXI4-Lite response code (BRESP/RRESP), as the register slave answers.</summary>
public enum AxilResponse
{
    /// <summary>The access completed.</summary>
    Okay = 0,

    /// <summary>Exclusive okay: AXI4-Lite has no exclusive accesses, so the slave never answers this.</summary>
    ExOkay = 1,

    /// <summary>The slave refused or could not complete the access (no CSR ack in time, a partial write strobe).</summary>
    SlvErr = 2,

    /// <summary>Nothing is decoded at the address (above the CSR window).</summary>
    DecErr = 3,
}
