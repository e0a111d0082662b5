using Offload.Device.Transports;

namespace Offload.Device.Tests;

/// <summary>`offload devices` reads sysfs: checked on a tree laid out as the kernel lays it out, and on this host's own.</summary>
public class DeviceDiscoveryTests
{
    private string _root = null!;

    [SetUp]
    public void SetUp()
    {
        _root = Directory.CreateTempSubdirectory("offload-sysfs-").FullName;
        Pci("0000:01:00.0", "0x10ee", "0x9038", resource: true, driver: "xdma");
        Pci("0000:02:00.0", "0x1234", "0x1001", resource: true, driver: null);
        Pci("0000:00:1f.0", "0x8086", "0xa0a3", resource: true, driver: "i801_smbus");
        Pci("0000:03:00.0", "0x1172", "0x0001", resource: false, driver: null);
        Usb("1-1", "0403", "6010", "FT4ZQ1", bus: 1, dev: 5, node: true);
        Usb("1-2", "046d", "c52b", null, bus: 1, dev: 6, node: true);
        // A file that claims to be an ID but is not one, and one far too long: both ignored, neither read whole.
        Pci("0000:04:00.0", "0xzzzz", "0x0001", resource: true, driver: null);
        Pci("0000:05:00.0", new string('1', 100_000), "0x0001", resource: true, driver: null);
    }

    [TearDown]
    public void TearDown() => Directory.Delete(_root, recursive: true);

    private void Pci(string address, string vendor, string device, bool resource, string? driver)
    {
        string dir = Path.Combine(_root, "sys", "bus", "pci", "devices", address);
        Directory.CreateDirectory(dir);
        File.WriteAllText(Path.Combine(dir, "vendor"), vendor + "\n");
        File.WriteAllText(Path.Combine(dir, "device"), device + "\n");
        if (resource)
            File.WriteAllBytes(Path.Combine(dir, "resource0"), new byte[4096]);
        if (driver is not null)
        {
            string target = Path.Combine(_root, "sys", "bus", "pci", "drivers", driver);
            Directory.CreateDirectory(target);
            File.CreateSymbolicLink(Path.Combine(dir, "driver"), target);
        }
    }

    private void Usb(string name, string vendor, string product, string? serial, int bus, int dev, bool node)
    {
        string dir = Path.Combine(_root, "sys", "bus", "usb", "devices", name);
        Directory.CreateDirectory(dir);
        File.WriteAllText(Path.Combine(dir, "idVendor"), vendor + "\n");
        File.WriteAllText(Path.Combine(dir, "idProduct"), product + "\n");
        File.WriteAllText(Path.Combine(dir, "busnum"), $"{bus}\n");
        File.WriteAllText(Path.Combine(dir, "devnum"), $"{dev}\n");
        File.WriteAllText(Path.Combine(dir, "product"), "Dual RS232-HS\n");
        if (serial is not null)
            File.WriteAllText(Path.Combine(dir, "serial"), serial + "\n");
        if (node)
        {
            string d = Path.Combine(_root, "dev", "bus", "usb", $"{bus:D3}");
            Directory.CreateDirectory(d);
            File.WriteAllBytes(Path.Combine(d, $"{dev:D3}"), []);
        }
    }

    private IReadOnlyList<FoundDevice> Find(bool all = false) => DeviceDiscovery.Find(Path.Combine(_root, "sys"), Path.Combine(_root, "dev"), all);

    [Test]
    public void Boards_and_bridges_are_listed_with_their_device_uri()
    {
        var found = Find();
        Assert.That(found.Select(d => d.Uri), Is.EqualTo(new[] { "pcie:0000:01:00.0", "pcie:0000:02:00.0", "pcie:0000:03:00.0", "usb:0403:6010:FT4ZQ1" }));
        var xdma = found[0];
        Assert.That((xdma.Ids, xdma.Name, xdma.Detail), Is.EqualTo(("10ee:9038", "Xilinx (AMD) FPGA", "kernel driver xdma bound (unbind it before mapping the BAR)")));
        Assert.That((found[1].Name, found[1].Detail), Is.EqualTo(("Corundum mqnic (default IDs)", "no kernel driver bound")));
        Assert.That(found[2].Access, Is.EqualTo("no resource0"));
        var ftdi = found[3];
        Assert.That((ftdi.Kind, ftdi.Name, ftdi.Detail), Is.EqualTo(("usb", "FTDI FT2232H (MPSSE)", "bus 1 device 5, serial FT4ZQ1")));
        if (Environment.UserName == "root")
            Assert.That(ftdi.Access, Is.EqualTo("ok"));
    }

    [Test]
    public void All_adds_what_matches_nothing_known_and_skips_what_is_not_an_id()
    {
        var found = Find(all: true);
        Assert.That(found.Select(d => d.Ids), Is.EquivalentTo(new[] { "10ee:9038", "1234:1001", "8086:a0a3", "1172:0001", "0403:6010", "046d:c52b" }));
        Assert.That(found.Single(d => d.Ids == "046d:c52b").Uri, Is.EqualTo("usb:046d:c52b"));
    }

    [Test]
    public void A_host_without_these_buses_lists_nothing_and_this_host_lists_without_error()
    {
        Assert.That(DeviceDiscovery.Find(Path.Combine(_root, "nothing"), Path.Combine(_root, "dev")), Is.Empty);
        var here = DeviceDiscovery.Find(all: true);
        if (Directory.Exists("/sys/bus/pci/devices") && Directory.EnumerateDirectories("/sys/bus/pci/devices").Any())
            Assert.That(here.Where(d => d.Kind == "pcie"), Is.Not.Empty, "every PCI function of this host, with --all");
    }
}
