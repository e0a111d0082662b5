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

/// <summary>Why a device access failed, for messages and for callers that react differently (retry, give up).</summary>
public enum DeviceError
{
    /// <summary>Not classified (a transport's own failure).</summary>
    Other,

    /// <summary>Nothing answers at the address: no such PCI function, USB device, or listener.</summary>
    Absent,

    /// <summary>The device exists but this process may not open it (the message says the fix).</summary>
    PermissionDenied,

    /// <summary>The device took too long to answer.</summary>
    Timeout,

    /// <summary>An answer did not belong to the request it should answer (lost or repeated transfer).</summary>
    SequenceGap,

    /// <summary>The ID or VERSION register says this is not the data plane this control plane speaks to.</summary>
    Mismatch,

    /// <summary>The transport's framing was broken (bad header, wrong length, an error status).</summary>
    Protocol,
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

    public DeviceException(DeviceError error, string message, Exception? innerException = null)
        : base(message, innerException)
    {
        Error = error;
    }

    public DeviceError Error { get; }
}

/// <summary>
/// A device that raises a line when it may hold frames for the host (an interrupt, where a board has one), so the
/// control plane can sleep between timer deadlines instead of polling the host queue every few milliseconds.
/// </summary>
public interface IHostAttention
{
    /// <summary>Set when the host RX queue may have become non-empty; an auto-reset event.</summary>
    WaitHandle HostAttention { get; }
}
