using System.Globalization;
using Offload.Device.Interop;

namespace Offload.Device.Transports;

public sealed partial class PcieDevice
{
    /// <summary>Where Linux lists PCI functions, one directory per DDDD:BB:DD.F.</summary>
    public const string SysfsDevices = "/sys/bus/pci/devices";

    /// <summary>
    /// Opens a PCI function's BAR 0 through sysfs: maps <c>resource0</c>, and when the BAR reads all ones (memory
    /// decoding off, as after boot with no driver bound) enables the function through its <c>enable</c> file and
    /// reads again. ID and VERSION are checked by <see cref="Dataplane"/>, as for every transport.
    /// </summary>
    /// <param name="address">"DDDD:BB:DD.F" (or "BB:DD.F" in domain 0000), as <c>lspci -D</c> shows it.</param>
    /// <param name="sysfsDevices">The directory of functions; tests point it at a tree of their own.</param>
    /// <exception cref="DeviceException">No such function (<see cref="DeviceError.Absent"/>), no access to it
    /// (<see cref="DeviceError.PermissionDenied"/>, the message says the fix), a BAR too small for the register map
    /// (<see cref="DeviceError.Mismatch"/>).</exception>
    public static PcieDevice Open(string address, string sysfsDevices = SysfsDevices)
    {
        string bdf = NormalizeAddress(address);
        string name = "pcie:" + bdf;
        string dir = System.IO.Path.Combine(sysfsDevices, bdf);
        if (!Directory.Exists(dir))
            throw new DeviceException(DeviceError.Absent, $"{name}: no such PCI function ({dir} does not exist; `lspci -D` lists the functions this machine has)");
        string resource = System.IO.Path.Combine(dir, "resource0");
        if (!File.Exists(resource))
            throw new DeviceException(DeviceError.Absent, $"{name}: the function has no memory BAR 0 ({resource} does not exist)");
        MappedWindow window;
        try
        {
            window = MappedWindow.Open(resource);
        }
        catch (UnauthorizedAccessException e)
        {
            throw new DeviceException(DeviceError.PermissionDenied, $"{name}: permission denied opening {resource}. {AccessFix(bdf)}", e);
        }
        catch (IOException e) when (e.HResult == Errno.EPERM)
        {
            throw new DeviceException(DeviceError.PermissionDenied,
                $"{name}: the kernel refuses to map {resource} ({e.Message}): with kernel lockdown (Secure Boot) user space may not map PCI BARs; " +
                "boot with lockdown off, or reach the board through a kernel driver", e);
        }
        catch (IOException e) when (e.HResult == Errno.EINVAL)
        {
            throw new DeviceException(DeviceError.Other,
                $"{name}: {e.Message}: a kernel driver holds this BAR exclusively; unbind it (echo {bdf} > {dir}/driver/unbind)", e);
        }
        catch (IOException e) when (e is FileNotFoundException || e.HResult is Errno.ENOENT or Errno.ENODEV)
        {
            throw new DeviceException(DeviceError.Absent, $"{name}: {e.Message}", e);
        }
        catch (IOException e)
        {
            throw new DeviceException(DeviceError.Other, $"{name}: {e.Message}", e);
        }

        PcieDevice device;
        try
        {
            device = new PcieDevice(window, name);
        }
        catch
        {
            window.Dispose();
            throw;
        }
        try
        {
            if (window.Read32(Reg.Id) == AllOnes)
            {
                Enable(name, dir, bdf);
                if (window.Read32(Reg.Id) == AllOnes)
                    throw new DeviceException(DeviceError.Absent,
                        $"{name}: BAR 0 reads all ones even with the function enabled: the link is down, or the FPGA has no image loaded (is the bitstream on the board?)");
            }
            return device;
        }
        catch
        {
            device.Dispose();
            throw;
        }
    }

    /// <summary>"DDDD:BB:DD.F" in lower case, from that or "BB:DD.F".</summary>
    /// <exception cref="FormatException">Not a PCI address.</exception>
    public static string NormalizeAddress(string address)
    {
        ArgumentNullException.ThrowIfNull(address);
        string a = address.Trim();
        string[] parts = a.Split(':');
        if (parts.Length == 2)
            parts = ["0000", parts[0], parts[1]];
        if (parts.Length != 3 || parts[2].Split('.') is not [string dev, string fn]
            || !Hex(parts[0], 4, 0xFFFF, out int domain) || !Hex(parts[1], 2, 0xFF, out int bus) || !Hex(dev, 2, 0x1F, out int device)
            || fn.Length != 1 || fn[0] is < '0' or > '7')
            throw new FormatException($"'{address}' is not a PCI address: give DDDD:BB:DD.F (hex domain, bus and device, function 0..7) as `lspci -D` shows it");
        return string.Create(CultureInfo.InvariantCulture, $"{domain:x4}:{bus:x2}:{device:x2}.{fn}");

        static bool Hex(string s, int maxLength, int max, out int value) =>
            int.TryParse(s, NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out value) && s.Length >= 1 && s.Length <= maxLength && value <= max;
    }

    private static void Enable(string name, string dir, string bdf)
    {
        string enable = System.IO.Path.Combine(dir, "enable");
        try
        {
            File.WriteAllText(enable, "1");
        }
        catch (UnauthorizedAccessException e)
        {
            throw new DeviceException(DeviceError.PermissionDenied,
                $"{name}: BAR 0 reads all ones and the function must be enabled, but {enable} is not writable. {AccessFix(bdf)}", e);
        }
        catch (IOException e)
        {
            throw new DeviceException(DeviceError.Absent, $"{name}: BAR 0 reads all ones and enabling the function failed ({e.Message})", e);
        }
    }

    private static string AccessFix(string bdf) =>
        "Run as root, or give a group read-write access to the function's resource0 and enable files with a udev rule, e.g. " +
        $"/etc/udev/rules.d/90-offload.rules: ACTION==\"add\", SUBSYSTEM==\"pci\", KERNEL==\"{bdf}\", " +
        "RUN+=\"/bin/chgrp offload /sys%p/resource0 /sys%p/enable\", RUN+=\"/bin/chmod g+rw /sys%p/resource0 /sys%p/enable\" " +
        "(then `udevadm trigger`, and run as a member of group offload)";
}
