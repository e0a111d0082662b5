using System.Globalization;

namespace Offload.Device.Transports;

/// <summary>One device on this host that Offload could drive, as <c>offload devices</c> lists it.</summary>
/// <param name="Uri">What to pass as <c>--device</c>.</param>
/// <param name="Kind">"pcie" or "usb".</param>
/// <param name="Ids">Vendor and device (product) ID, "vvvv:dddd".</param>
/// <param name="Name">What the IDs are known as.</param>
/// <param name="Access">Whether this process can open it, and if not, the fix.</param>
/// <param name="Detail">Driver bound, serial number, bus position: what tells two boards apart.</param>
public sealed record FoundDevice(string Uri, string Kind, string Ids, string Name, string Access, string Detail);

/// <summary>
/// Finds the PCI functions and USB devices on this host that Offload can drive, from sysfs alone (what Hardware.Info
/// would have given, which is not served here): FPGA vendors' PCI IDs and Corundum's default, FTDI's MPSSE-capable
/// USB bridges. Reads only small attribute files, each bounded.
/// </summary>
public static class DeviceDiscovery
{
    // Vendor-wide PCI matches: an FPGA board enumerates with whatever device ID its bitstream gives it.
    private static readonly Dictionary<string, string> PciVendors = new(StringComparer.Ordinal)
    {
        ["10ee"] = "Xilinx (AMD) FPGA",
        ["1172"] = "Intel (Altera) FPGA",
        ["1204"] = "Lattice FPGA",
    };

    private static readonly Dictionary<string, string> PciDevices = new(StringComparer.Ordinal)
    {
        ["1234:1001"] = "Corundum mqnic (default IDs)",
    };

    // FTDI bridges with an MPSSE engine (SPI at up to 30 MHz): the USB path of small boards.
    private static readonly Dictionary<string, string> UsbDevices = new(StringComparer.Ordinal)
    {
        ["0403:6010"] = "FTDI FT2232H (MPSSE)",
        ["0403:6011"] = "FTDI FT4232H (MPSSE)",
        ["0403:6014"] = "FTDI FT232H (MPSSE)",
    };

    /// <summary>Everything Offload can drive under <paramref name="sysRoot"/> ("/sys" on a host; a folder in tests).</summary>
    /// <param name="sysRoot">The sysfs root.</param>
    /// <param name="devRoot">Where USB device nodes are ("/dev" on a host), to check access.</param>
    /// <param name="all">Also list PCI functions and USB devices that match nothing known (with their IDs).</param>
    public static IReadOnlyList<FoundDevice> Find(string sysRoot = "/sys", string devRoot = "/dev", bool all = false)
    {
        var found = new List<FoundDevice>();
        string pci = Path.Combine(sysRoot, "bus", "pci", "devices");
        if (Directory.Exists(pci))
        {
            foreach (string dir in Directory.EnumerateDirectories(pci).Order(StringComparer.Ordinal))
            {
                string? vendor = Hex(Path.Combine(dir, "vendor"));
                string? device = Hex(Path.Combine(dir, "device"));
                if (vendor is null || device is null)
                    continue;
                string ids = $"{vendor}:{device}";
                string? name = PciDevices.GetValueOrDefault(ids) ?? PciVendors.GetValueOrDefault(vendor);
                if (name is null && !all)
                    continue;
                string address = Path.GetFileName(dir);
                string resource = Path.Combine(dir, "resource0");
                string driver = Driver(dir);
                found.Add(new FoundDevice($"pcie:{address}", "pcie", ids, name ?? "(not a known FPGA board)", Access(resource, "resource0"),
                    driver.Length == 0 ? "no kernel driver bound"
                    : name is null ? $"kernel driver {driver} bound" : $"kernel driver {driver} bound (unbind it before mapping the BAR)"));
            }
        }
        string usb = Path.Combine(sysRoot, "bus", "usb", "devices");
        if (Directory.Exists(usb))
        {
            foreach (string dir in Directory.EnumerateDirectories(usb).Order(StringComparer.Ordinal))
            {
                string? vendor = Hex(Path.Combine(dir, "idVendor"));
                string? product = Hex(Path.Combine(dir, "idProduct"));
                if (vendor is null || product is null)
                    continue;
                string ids = $"{vendor}:{product}";
                string? name = UsbDevices.GetValueOrDefault(ids);
                if (name is null && !all)
                    continue;
                string? serial = Attribute(Path.Combine(dir, "serial"));
                int.TryParse(Attribute(Path.Combine(dir, "busnum")), NumberStyles.None, CultureInfo.InvariantCulture, out int bus);
                int.TryParse(Attribute(Path.Combine(dir, "devnum")), NumberStyles.None, CultureInfo.InvariantCulture, out int dev);
                string node = Path.Combine(devRoot, "bus", "usb", bus.ToString("D3", CultureInfo.InvariantCulture), dev.ToString("D3", CultureInfo.InvariantCulture));
                string product_ = Attribute(Path.Combine(dir, "product")) ?? "";
                found.Add(new FoundDevice(serial is null ? $"usb:{ids}" : $"usb:{ids}:{serial}", "usb", ids,
                    name ?? (product_.Length > 0 ? product_ : "(not a known bridge)"), Access(node, node),
                    $"bus {bus} device {dev}{(serial is null ? "" : $", serial {serial}")}"));
            }
        }
        return found;
    }

    private static string Access(string path, string what)
    {
        if (!File.Exists(path))
            return $"no {what}";
        try
        {
            using var h = File.OpenHandle(path, FileMode.Open, FileAccess.ReadWrite);
            return "ok";
        }
        catch (UnauthorizedAccessException)
        {
            return $"permission denied on {path}: run as root, or give your group rw access with a udev rule";
        }
        catch (IOException e)
        {
            return $"cannot open {path}: {e.Message}";
        }
    }

    private static string Driver(string dir)
    {
        var link = new FileInfo(Path.Combine(dir, "driver"));
        return link.LinkTarget is { } target ? Path.GetFileName(target) : "";
    }

    /// <summary>A sysfs ID file ("0x10ee\n" or "10ee\n") as four lower-case hex digits; null if absent or not an ID.</summary>
    private static string? Hex(string path)
    {
        string? s = Attribute(path);
        if (s is null)
            return null;
        if (s.StartsWith("0x", StringComparison.OrdinalIgnoreCase))
            s = s[2..];
        return s.Length == 4 && ushort.TryParse(s, NumberStyles.HexNumber, CultureInfo.InvariantCulture, out _) ? s.ToLowerInvariant() : null;
    }

    /// <summary>A small sysfs attribute, trimmed; at most 256 bytes are read, whatever the file claims.</summary>
    private static string? Attribute(string path)
    {
        try
        {
            using var f = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite, 1, FileOptions.None);
            Span<byte> buf = stackalloc byte[256];
            int n = f.ReadAtLeast(buf, buf.Length, throwOnEndOfStream: false);
            return System.Text.Encoding.ASCII.GetString(buf[..n]).Trim();
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return null;
        }
    }
}
