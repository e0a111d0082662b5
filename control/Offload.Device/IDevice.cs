using Offload.HwModel;

namespace Offload.Device;

/// <summary>
/// Register access to one data plane, whatever carries it (in-process model, socket, USB, PCIe).
/// Implementations are not required to be thread-safe; callers serialize access.
/// </summary>
public interface IDevice : IDisposable
{
    /// <summary>Short transport name for logs and the CLI ("model", "socket", "usb", "pcie").</summary>
    string Transport { get; }

    uint Read(uint address);

    void Write(uint address, uint value);

    /// <summary>
    /// Runs <paramref name="ops"/> in order as one exchange, which is how table writes avoid one round trip
    /// each. <paramref name="results"/>[i] receives what op i read (0 for writes); it may be empty when the
    /// batch reads nothing back, otherwise it holds at least <c>ops.Length</c> values.
    /// </summary>
    void Batch(ReadOnlySpan<CsrOp> ops, Span<uint> results);
}

/// <summary>The device did not complete a register access (no ack, link lost, protocol error).</summary>
public sealed class DeviceException : IOException
{
    public DeviceException()
    {
    }

    public DeviceException(string message)
        : base(message)
    {
    }

    public DeviceException(string message, Exception innerException)
        : base(message, innerException)
    {
    }
}
