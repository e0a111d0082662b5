namespace Offload.Device.Transports.Usb;

/// <summary>
/// The byte pipe to an FTDI chip's MPSSE engine: what the host writes are MPSSE commands, what it reads are the bytes
/// those commands return. On hardware it is libusb bulk transfers (<see cref="FtdiUsbPipe"/>); in co-simulation a
/// software FTDI whose pins drive the SPI bridge in the Verilator model. Either way the transport above sends the same
/// bytes.
/// </summary>
public interface IUsbPipe : IDisposable
{
    /// <summary>What messages call the pipe, e.g. "usb:0403:6010:FT1234".</summary>
    string Name { get; }

    /// <summary>Sends MPSSE commands; returns when the chip has taken all of them.</summary>
    /// <exception cref="DeviceException">The device left the bus or did not take the bytes in time.</exception>
    void Write(ReadOnlySpan<byte> commands);

    /// <summary>Reads exactly <paramref name="buffer"/>.Length bytes of command results (no USB status bytes).</summary>
    /// <exception cref="DeviceException">Fewer bytes came within the pipe's timeout (<see cref="DeviceError.Timeout"/>).</exception>
    void Read(Span<byte> buffer);
}
