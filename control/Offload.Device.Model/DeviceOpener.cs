using Offload.Device.Transports;
using Offload.Device.Transports.Usb;

namespace Offload.Device;

/// <summary>
/// Opens a <see cref="DeviceUri"/> with every transport this build has. It lives beside the model transport because
/// only here are all of them in reach; Offload.Device itself stays free of the native model.
/// </summary>
public static class DeviceOpener
{
    /// <summary>How long a remote transport may take to connect or answer.</summary>
    public static readonly TimeSpan DefaultTimeout = TimeSpan.FromSeconds(10);

    /// <exception cref="DeviceException">The device is absent, refuses us, or does not answer in time.</exception>
    public static IDevice Open(DeviceUri uri, TimeSpan? timeout = null)
    {
        ArgumentNullException.ThrowIfNull(uri);
        return uri.Scheme switch
        {
            "model" => OpenModel(uri.ModelWidth),
            "tcp" => TcpDevice.Connect(uri.Host, uri.Port, timeout ?? DefaultTimeout),
            "pcie" => PcieDevice.Open(uri.Host),
            "usb" => OpenUsb(uri, timeout ?? DefaultTimeout),
            _ => throw new DeviceException(DeviceError.Absent, $"device {uri}: no such transport in this build ({DeviceUri.Known})"),
        };
    }

    private static UsbDevice OpenUsb(DeviceUri uri, TimeSpan timeout)
    {
        var (vendor, product, serial) = uri.UsbIds();
        return UsbDevice.Open(FtdiUsbPipe.Open(vendor, product, serial, timeout), timeout: timeout);
    }

    private static ModelDevice OpenModel(int width)
    {
        try
        {
            return ModelDevice.Create(width);
        }
        catch (HwModel.HwModelException e)
        {
            throw new DeviceException(DeviceError.Absent, $"device model:{width}: {e.Message}", e);
        }
    }
}
