using System.Runtime.InteropServices;

namespace Offload.Device.Interop;

/// <summary>
/// The libusb-1.0 calls the USB transport makes, imported from Debian's runtime library (<c>libusb-1.0.so.0</c>: the
/// unversioned <c>.so</c> comes only with the -dev package). Pointers to libusb's opaque objects stay <c>nint</c>.
/// </summary>
internal static partial class LibUsb
{
    private const string Lib = "libusb-1.0.so.0";

    internal const int Success = 0;
    internal const int ErrorIo = -1;
    internal const int ErrorAccess = -3;
    internal const int ErrorNoDevice = -4;
    internal const int ErrorNotFound = -5;
    internal const int ErrorBusy = -6;
    internal const int ErrorTimeout = -7;

    /// <summary>Length of a standard device descriptor, bytes (USB 2.0, 9.6.1).</summary>
    internal const int DeviceDescriptorLength = 18;

    [LibraryImport(Lib, EntryPoint = "libusb_init")]
    internal static partial int Init(out nint context);

    [LibraryImport(Lib, EntryPoint = "libusb_exit")]
    internal static partial void Exit(nint context);

    [LibraryImport(Lib, EntryPoint = "libusb_get_device_list")]
    internal static partial nint GetDeviceList(nint context, out nint list);

    [LibraryImport(Lib, EntryPoint = "libusb_free_device_list")]
    internal static partial void FreeDeviceList(nint list, int unrefDevices);

    [LibraryImport(Lib, EntryPoint = "libusb_get_device_descriptor")]
    internal static unsafe partial int GetDeviceDescriptor(nint device, byte* descriptor);

    [LibraryImport(Lib, EntryPoint = "libusb_get_bus_number")]
    internal static partial byte GetBusNumber(nint device);

    [LibraryImport(Lib, EntryPoint = "libusb_get_device_address")]
    internal static partial byte GetDeviceAddress(nint device);

    [LibraryImport(Lib, EntryPoint = "libusb_open")]
    internal static partial int Open(nint device, out nint handle);

    [LibraryImport(Lib, EntryPoint = "libusb_close")]
    internal static partial void Close(nint handle);

    [LibraryImport(Lib, EntryPoint = "libusb_get_string_descriptor_ascii")]
    internal static unsafe partial int GetStringDescriptorAscii(nint handle, byte index, byte* data, int length);

    [LibraryImport(Lib, EntryPoint = "libusb_set_auto_detach_kernel_driver")]
    internal static partial int SetAutoDetachKernelDriver(nint handle, int enable);

    [LibraryImport(Lib, EntryPoint = "libusb_claim_interface")]
    internal static partial int ClaimInterface(nint handle, int interfaceNumber);

    [LibraryImport(Lib, EntryPoint = "libusb_release_interface")]
    internal static partial int ReleaseInterface(nint handle, int interfaceNumber);

    [LibraryImport(Lib, EntryPoint = "libusb_control_transfer")]
    internal static unsafe partial int ControlTransfer(nint handle, byte requestType, byte request, ushort value, ushort index, byte* data, ushort length, uint timeoutMs);

    [LibraryImport(Lib, EntryPoint = "libusb_bulk_transfer")]
    internal static unsafe partial int BulkTransfer(nint handle, byte endpoint, byte* data, int length, out int transferred, uint timeoutMs);

    [LibraryImport(Lib, EntryPoint = "libusb_error_name")]
    internal static partial nint ErrorName(int code);

    internal static string Describe(int code)
    {
        try
        {
            return Marshal.PtrToStringAnsi(ErrorName(code)) ?? $"libusb error {code}";
        }
        catch (DllNotFoundException)
        {
            return $"libusb error {code}";
        }
    }
}
