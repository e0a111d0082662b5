using System.Buffers.Binary;
using System.Globalization;
using System.Text;
using Offload.Device.Interop;

namespace Offload.Device.Transports.Usb;

/// <summary>
/// The MPSSE pipe of a real FTDI FT2232H/FT232H (channel A) through libusb-1.0: bulk OUT endpoint 0x02 carries commands,
/// bulk IN endpoint 0x81 brings results, every 512-byte IN packet led by the chip's two modem-status bytes, which are
/// dropped here. Opening resets the channel, sets a 1 ms latency timer, purges both FIFOs and enters MPSSE mode.
/// </summary>
public sealed class FtdiUsbPipe : IUsbPipe
{
    private const int Interface = 0;
    private const ushort ChannelIndex = 1;          // wIndex of SIO requests: channel A
    private const byte EndpointOut = 0x02;
    private const byte EndpointIn = 0x81;
    private const int PacketSize = 512;             // high-speed bulk packet
    private const int StatusBytes = 2;
    private const byte RequestTypeOut = 0x40;       // vendor, device, host to device
    private const byte SioReset = 0x00;
    private const byte SioSetLatency = 0x09;
    private const byte SioSetBitmode = 0x0B;
    private const ushort PurgeRx = 1;
    private const ushort PurgeTx = 2;
    private const byte ModeReset = 0x00;
    private const byte ModeMpsse = 0x02;

    private readonly nint _context;
    private readonly nint _handle;
    private readonly uint _timeoutMs;
    private readonly ushort _vendor;
    private readonly ushort _product;
    private readonly byte[] _in = new byte[16 * PacketSize];
    private readonly Queue<byte> _ready = new();
    private bool _disposed;

    private FtdiUsbPipe(nint context, nint handle, string name, TimeSpan timeout, ushort vendor, ushort product)
    {
        _vendor = vendor;
        _product = product;
        _context = context;
        _handle = handle;
        Name = name;
        _timeoutMs = (uint)Math.Clamp(timeout.TotalMilliseconds, 1, int.MaxValue);
    }

    public string Name { get; }

    /// <summary>Finds the device by VID:PID (and serial), claims channel A and puts it in MPSSE mode.</summary>
    /// <exception cref="DeviceException">Absent (no such device, no libusb), permission denied (with the fix), busy, timeout.</exception>
    public static FtdiUsbPipe Open(ushort vendor, ushort product, string? serial, TimeSpan timeout)
    {
        string name = serial is null ? $"usb:{vendor:x4}:{product:x4}" : $"usb:{vendor:x4}:{product:x4}:{serial}";
        nint context;
        try
        {
            Check(LibUsb.Init(out context), name, "libusb_init", vendor, product);
        }
        catch (DllNotFoundException e)
        {
            throw new DeviceException(DeviceError.Absent, $"{name}: libusb-1.0.so.0 is not installed (Debian: apt-get install libusb-1.0-0)", e);
        }
        nint handle = 0;
        try
        {
            handle = Find(context, vendor, product, serial, name);
            LibUsb.SetAutoDetachKernelDriver(handle, 1);
            Check(LibUsb.ClaimInterface(handle, Interface), name, "claim channel A", vendor, product);
            Control(handle, SioReset, 0, name, vendor, product);
            Control(handle, SioSetLatency, 1, name, vendor, product);
            Control(handle, SioReset, PurgeRx, name, vendor, product);
            Control(handle, SioReset, PurgeTx, name, vendor, product);
            Control(handle, SioSetBitmode, ModeReset << 8, name, vendor, product);
            Control(handle, SioSetBitmode, ModeMpsse << 8, name, vendor, product);
            return new FtdiUsbPipe(context, handle, name, timeout, vendor, product);
        }
        catch
        {
            if (handle != 0)
                LibUsb.Close(handle);
            LibUsb.Exit(context);
            throw;
        }
    }

    public unsafe void Write(ReadOnlySpan<byte> commands)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        while (!commands.IsEmpty)
        {
            int sent;
            int rc;
            fixed (byte* p = commands)
                rc = LibUsb.BulkTransfer(_handle, EndpointOut, p, commands.Length, out sent, _timeoutMs);
            if (rc != LibUsb.Success)
                throw Error(rc, Name, "bulk write", _vendor, _product);
            commands = commands[sent..];
        }
    }

    public unsafe void Read(Span<byte> buffer)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        int got = 0;
        // Each IN transfer may be only the two status bytes (the latency timer expired with nothing to send), so read
        // until enough data came; the transfer timeout bounds each try, the attempt count bounds the whole.
        for (int attempt = 0; got < buffer.Length; attempt++)
        {
            while (got < buffer.Length && _ready.Count > 0)
                buffer[got++] = _ready.Dequeue();
            if (got == buffer.Length)
                break;
            if (attempt > 1000)
                throw new DeviceException(DeviceError.Timeout, $"{Name}: {buffer.Length} byte(s) wanted, {got} came");
            int n;
            int rc;
            fixed (byte* p = _in)
                rc = LibUsb.BulkTransfer(_handle, EndpointIn, p, _in.Length, out n, _timeoutMs);
            if (rc != LibUsb.Success)
                throw Error(rc, Name, $"bulk read ({got} of {buffer.Length} bytes came)", _vendor, _product);
            StripStatus(_in.AsSpan(0, n), _ready);
        }
    }

    /// <summary>Drops the two modem-status bytes that lead every 512-byte packet of an IN transfer.</summary>
    public static void StripStatus(ReadOnlySpan<byte> transfer, Queue<byte> into)
    {
        for (int at = 0; at < transfer.Length; at += PacketSize)
        {
            var packet = transfer.Slice(at, Math.Min(PacketSize, transfer.Length - at));
            for (int i = StatusBytes; i < packet.Length; i++)
                into.Enqueue(packet[i]);
        }
    }

    public void Dispose()
    {
        if (_disposed)
            return;
        _disposed = true;
        unsafe
        {
            LibUsb.ControlTransfer(_handle, RequestTypeOut, SioSetBitmode, ModeReset << 8, ChannelIndex, null, 0, _timeoutMs);
        }
        LibUsb.ReleaseInterface(_handle, Interface);
        LibUsb.Close(_handle);
        LibUsb.Exit(_context);
    }

    /// <summary>What a libusb error means for this transport, with the fix where there is one.</summary>
    public static DeviceException Error(int rc, string name, string what, ushort vendor, ushort product) => rc switch
    {
        LibUsb.ErrorAccess => new DeviceException(DeviceError.PermissionDenied, $"{name}: permission denied ({what}). {AccessFix(vendor, product)}"),
        LibUsb.ErrorNoDevice or LibUsb.ErrorNotFound => new DeviceException(DeviceError.Absent, $"{name}: the device left the bus ({what})"),
        LibUsb.ErrorTimeout => new DeviceException(DeviceError.Timeout, $"{name}: no answer within the timeout ({what})"),
        LibUsb.ErrorBusy => new DeviceException(DeviceError.Other,
            $"{name}: channel A is held by another program (openocd, iceprog, openFPGALoader?) ({what})"),
        _ => new DeviceException(DeviceError.Other, $"{name}: {what} failed: {LibUsb.Describe(rc)}"),
    };

    /// <summary>The udev rule and group that give a user the device without root.</summary>
    public static string AccessFix(ushort vendor, ushort product) =>
        string.Create(CultureInfo.InvariantCulture,
            $"Run as root, or add a udev rule: echo 'SUBSYSTEM==\"usb\", ATTR{{idVendor}}==\"{vendor:x4}\", ATTR{{idProduct}}==\"{product:x4}\", MODE=\"0660\", GROUP=\"plugdev\"' | sudo tee /etc/udev/rules.d/60-offload-ftdi.rules && sudo udevadm control --reload && sudo udevadm trigger; then join the group: sudo usermod -aG plugdev $USER (and log in again)");

    private static unsafe void Control(nint handle, byte request, int value, string name, ushort vendor, ushort product)
    {
        int rc = LibUsb.ControlTransfer(handle, RequestTypeOut, request, (ushort)value, ChannelIndex, null, 0, 1000);
        if (rc < 0)
            throw Error(rc, name, $"FTDI request 0x{request:X2}", vendor, product);
    }

    private static void Check(int rc, string name, string what, ushort vendor, ushort product)
    {
        if (rc < 0)
            throw Error(rc, name, what, vendor, product);
    }

    private static unsafe nint Find(nint context, ushort vendor, ushort product, string? serial, string name)
    {
        nint count = LibUsb.GetDeviceList(context, out nint list);
        if (count < 0)
            throw Error((int)count, name, "listing USB devices", vendor, product);
        try
        {
            var seen = new List<string>();
            nint found = 0;
            byte* desc = stackalloc byte[LibUsb.DeviceDescriptorLength];
            for (int i = 0; i < count; i++)
            {
                nint dev = ((nint*)list)[i];
                if (LibUsb.GetDeviceDescriptor(dev, desc) != LibUsb.Success)
                    continue;
                var d = new ReadOnlySpan<byte>(desc, LibUsb.DeviceDescriptorLength);
                if (BinaryPrimitives.ReadUInt16LittleEndian(d[8..]) != vendor || BinaryPrimitives.ReadUInt16LittleEndian(d[10..]) != product)
                    continue;
                int rc = LibUsb.Open(dev, out nint h);
                if (rc != LibUsb.Success)
                    throw Error(rc, name, $"opening bus {LibUsb.GetBusNumber(dev)} device {LibUsb.GetDeviceAddress(dev)}", vendor, product);
                string s = ReadString(h, d[16]);
                if (serial is not null && s != serial)
                {
                    seen.Add(s);
                    LibUsb.Close(h);
                    continue;
                }
                if (found != 0)
                {
                    LibUsb.Close(h);
                    LibUsb.Close(found);
                    throw new DeviceException(DeviceError.Other, $"{name}: more than one device has these IDs; name one by serial (`offload devices` lists them)");
                }
                found = h;
            }
            if (found == 0)
            {
                string others = seen.Count == 0 ? "" : $" (serials here: {string.Join(", ", seen)})";
                throw new DeviceException(DeviceError.Absent, $"{name}: no such USB device{others}; `offload devices` lists what this host has");
            }
            return found;
        }
        finally
        {
            LibUsb.FreeDeviceList(list, 1);
        }
    }

    private static unsafe string ReadString(nint handle, byte index)
    {
        if (index == 0)
            return "";
        byte* buf = stackalloc byte[128];
        int n = LibUsb.GetStringDescriptorAscii(handle, index, buf, 128);
        return n > 0 ? Encoding.ASCII.GetString(buf, n) : "";
    }
}
