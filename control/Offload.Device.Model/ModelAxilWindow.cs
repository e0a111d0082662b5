using Offload.Device.Transports;
using Offload.HwModel;

namespace Offload.Device;

/// <summary>
/// A BAR in co-simulation: every 32-bit access of a <see cref="PcieDevice"/> becomes one AXI4-Lite transaction into
/// the model's register slave (<c>ofl_axil_csr</c>), so the PCIe transport's exact accesses run against the RTL a
/// board has behind its PCIe bridge. An error response is what a root complex makes of it: all ones for a read, and
/// nothing for a write (writes are posted); each one is counted in <see cref="ErrorResponses"/> so tests can ask.
/// </summary>
public sealed class ModelAxilWindow : IMmioWindow
{
    /// <summary>The slave decodes 20 address bits: the CSR block's 64 KiB, then DECERR up to 1 MiB.</summary>
    public const long WindowLength = 1 << 20;

    private readonly ModelDevice _model;
    private long _errors;

    public ModelAxilWindow(ModelDevice model)
    {
        _model = model ?? throw new ArgumentNullException(nameof(model));
    }

    public long Length => WindowLength;

    /// <summary>SLVERR and DECERR responses seen so far.</summary>
    public long ErrorResponses => Interlocked.Read(ref _errors);

    public uint Read32(uint offset)
    {
        if (_model.AxilRead(offset, out uint value) == AxilResponse.Okay)
            return value;
        Interlocked.Increment(ref _errors);
        return 0xFFFF_FFFF;
    }

    public void Write32(uint offset, uint value)
    {
        if (_model.AxilWrite(offset, value) != AxilResponse.Okay)
            Interlocked.Increment(ref _errors);
    }

    /// <summary>The model belongs to whoever created it; the window holds nothing of its own.</summary>
    public void Dispose()
    {
    }
}
