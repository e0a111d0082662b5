namespace Offload.Device.Transports;

/// <summary>
/// A window of 32-bit memory-mapped registers, as a PCIe BAR is to the host: what <see cref="PcieDevice"/> reads
/// and writes. The real one maps sysfs <c>resource0</c> (<see cref="MappedWindow"/>); a test maps an ordinary file
/// laid out like a BAR; co-simulation sends each access to the model's AXI4-Lite slave.
/// </summary>
/// <remarks>
/// Offsets are byte offsets, 4-byte aligned, below <see cref="Length"/>. Values are the register's 32-bit value:
/// the window owns the byte order (PCIe is little-endian). A read that the far side answers with an error returns
/// all ones, as a root complex does for a failed completion; a write is posted and its fate is not reported.
/// </remarks>
public interface IMmioWindow : IDisposable
{
    /// <summary>Size of the window in bytes.</summary>
    long Length { get; }

    uint Read32(uint offset);

    void Write32(uint offset, uint value);
}
