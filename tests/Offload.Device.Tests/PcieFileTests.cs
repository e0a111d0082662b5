using System.Buffers.Binary;
using Offload.Device.Transports;

namespace Offload.Device.Tests;

/// <summary>
/// The PCIe transport over an ordinary file laid out like BAR 0, in a sysfs-like tree of its own: offsets, byte
/// order (little-endian, as PCIe carries registers), the all-ones rules and the named open errors. Needs no root
/// and no board; the permission-denied case needs a user that is not root (root bypasses file modes).
/// </summary>
public partial class PcieFileTests
{
    private const string Bdf = "0000:03:00.0";
    private string _root = null!;
    private string _fn = null!;
    private string _bar = null!;

    [SetUp]
    public void SetUp()
    {
        _root = Directory.CreateTempSubdirectory("offload-pcie-").FullName;
        _fn = Path.Combine(_root, Bdf);
        Directory.CreateDirectory(_fn);
        _bar = Path.Combine(_fn, "resource0");
        File.WriteAllText(Path.Combine(_fn, "enable"), "0");
    }

    [TearDown]
    public void TearDown()
    {
        foreach (var f in Directory.EnumerateFiles(_root, "*", SearchOption.AllDirectories))
            File.SetUnixFileMode(f, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        Directory.Delete(_root, recursive: true);
    }

    private static byte[] Bar(int length = 0x1_0000)
    {
        var b = new byte[length];
        void Put(uint reg, uint v) => BinaryPrimitives.WriteUInt32LittleEndian(b.AsSpan((int)reg), v);
        Put(Reg.Id, RegConst.IdValue);
        Put(Reg.Version, RegConst.VersionValue);
        Put(Reg.ParamDataW, 32);
        Put(Reg.ParamFtBuckets, 16);
        Put(Reg.ParamFtWays, 4);
        Put(Reg.ParamFtStash, 4);
        Put(Reg.ParamGroups, 2);
        Put(Reg.ParamSlots, 256);
        Put(Reg.ParamVmacs, 4);
        Put(Reg.ParamNexthops, 16);
        Put(Reg.ParamMaxFrame, 1518);
        Put(Reg.ParamHostRxDepth, 64);
        Put(Reg.ParamHostTxDepth, 512);
        Put(Reg.ParamLookupLatency, 4);
        return b;
    }

    private uint FileWord(uint offset) => BinaryPrimitives.ReadUInt32LittleEndian(File.ReadAllBytes(_bar).AsSpan((int)offset));

    [Test]
    public void Registers_are_little_endian_words_at_their_CSR_address()
    {
        File.WriteAllBytes(_bar, Bar());
        using var dev = PcieDevice.Open("03:00.0", _root);
        var dp = new Dataplane(dev);
        var g = dp.ReadGeometry();
        Assert.That((dp.Transport, dev.Name, dp.Version), Is.EqualTo(("pcie", "pcie:" + Bdf, RegConst.VersionValue)));
        Assert.That((g.DataWidth, g.Buckets, g.Ways, g.Stash, g.Groups, g.Slots, g.Vmacs, g.NextHops, g.MaxFrame, g.HostRxDepth, g.HostTxDepth, dp.LookupLatency),
            Is.EqualTo((32, 16, 4, 4, 2, 256, 4, 16, 1518, 64, 512, 4)));

        dev.Write(Reg.Scratch, 0x1122_3344);
        Assert.That(File.ReadAllBytes(_bar).AsSpan((int)Reg.Scratch, 4).ToArray(), Is.EqualTo(new byte[] { 0x44, 0x33, 0x22, 0x11 }),
            "byte 0 of the register is its least significant byte, at the register's own offset");
        CsrOp[] ops = [CsrOp.Write(Reg.VmacLo, 0xDEAD_BEEF), CsrOp.Read(Reg.VmacLo), CsrOp.Write(0xFFFC, 7), CsrOp.Read(Reg.Scratch)];
        var r = new uint[ops.Length];
        dev.Batch(ops, r);
        Assert.That(r, Is.EqualTo(new uint[] { 0, 0xDEAD_BEEF, 0, 0x1122_3344 }));
        Assert.That((FileWord(Reg.VmacLo), FileWord(0xFFFC)), Is.EqualTo((0xDEAD_BEEFu, 7u)), "the last word of the window is the last word of the file");
    }

    [Test]
    public void Addresses_outside_the_register_map_or_unaligned_are_refused_before_any_access()
    {
        File.WriteAllBytes(_bar, Bar(0x2_0000));
        using var dev = PcieDevice.Open(Bdf, _root);
        Assert.That(() => dev.Read(0x1_0000), Throws.InstanceOf<ArgumentOutOfRangeException>());
        Assert.That(() => dev.Write(Reg.Scratch + 2, 1), Throws.InstanceOf<ArgumentOutOfRangeException>());
        Assert.That(FileWord(Reg.Scratch), Is.Zero);
    }

    [Test]
    public void A_register_that_holds_all_ones_is_a_value_while_ID_answers()
    {
        var b = Bar();
        BinaryPrimitives.WriteUInt32LittleEndian(b.AsSpan((int)Reg.Scratch), 0xFFFF_FFFF);
        File.WriteAllBytes(_bar, b);
        using var dev = PcieDevice.Open(Bdf, _root);
        Assert.That(dev.Read(Reg.Scratch), Is.EqualTo(0xFFFF_FFFFu));
    }

    [Test]
    public void A_function_that_stops_answering_is_absent_on_the_next_read_or_write()
    {
        File.WriteAllBytes(_bar, Bar());
        using var dev = PcieDevice.Open(Bdf, _root);
        // What a surprise removal looks like from the CPU: every read completes as all ones.
        using (var f = new FileStream(_bar, FileMode.Open, FileAccess.Write))
            f.Write(Enumerable.Repeat((byte)0xFF, 0x1_0000).ToArray());
        Assert.That(() => dev.Read(Reg.Scratch), Throws.TypeOf<DeviceException>().With.Property(nameof(DeviceException.Error)).EqualTo(DeviceError.Absent));
        Assert.That(() => dev.Write(Reg.Scratch, 1), Throws.TypeOf<DeviceException>().With.Property(nameof(DeviceException.Error)).EqualTo(DeviceError.Absent)
            .And.Message.Contains("all ones"), "the read-back after a posted write sees it too");
    }

    [Test]
    public void A_BAR_of_all_ones_gets_the_function_enabled_then_is_named_absent_if_it_stays_so()
    {
        File.WriteAllBytes(_bar, Enumerable.Repeat((byte)0xFF, 0x1_0000).ToArray());
        var e = Assert.Throws<DeviceException>(() => PcieDevice.Open(Bdf, _root));
        Assert.That((e.Error, File.ReadAllText(Path.Combine(_fn, "enable"))), Is.EqualTo((DeviceError.Absent, "1")));
        Assert.That(e.Message, Does.Contain("even with the function enabled"));
    }

    [Test]
    public void No_such_function_and_no_BAR_0_are_absent_and_say_where_they_looked()
    {
        var e = Assert.Throws<DeviceException>(() => PcieDevice.Open("0000:09:00.0", _root));
        Assert.That((e.Error, e.Message.Contains("lspci -D", StringComparison.Ordinal)), Is.EqualTo((DeviceError.Absent, true)), e.Message);
        e = Assert.Throws<DeviceException>(() => PcieDevice.Open(Bdf, _root));
        Assert.That((e.Error, e.Message.Contains("no memory BAR 0", StringComparison.Ordinal)), Is.EqualTo((DeviceError.Absent, true)), e.Message);
    }

    [Test]
    public void A_BAR_smaller_than_the_register_map_is_a_mismatch()
    {
        File.WriteAllBytes(_bar, Bar(0x1000));
        var e = Assert.Throws<DeviceException>(() => PcieDevice.Open(Bdf, _root));
        Assert.That(e.Error, Is.EqualTo(DeviceError.Mismatch), e.Message);
    }

    [Test]
    public void A_BAR_that_is_not_ours_is_refused_by_the_ID_check()
    {
        var b = Bar();
        BinaryPrimitives.WriteUInt32LittleEndian(b, 0x1234_5678);
        File.WriteAllBytes(_bar, b);
        using var dev = PcieDevice.Open(Bdf, _root);
        var e = Assert.Throws<DeviceException>(() => new Dataplane(dev).ReadGeometry());
        Assert.That(e.Error, Is.EqualTo(DeviceError.Mismatch), e.Message);
    }

    [Test]
    public void Permission_denied_names_the_fix()
    {
        if (Environment.UserName == "root" || GetEuid() == 0)
            Assert.Ignore("root bypasses file modes: run the tests as a normal user to exercise permission denied");
        File.WriteAllBytes(_bar, Bar());
        File.SetUnixFileMode(_bar, UnixFileMode.UserRead);
        var e = Assert.Throws<DeviceException>(() => PcieDevice.Open(Bdf, _root));
        Assert.That(e.Error, Is.EqualTo(DeviceError.PermissionDenied));
        Assert.That(e.Message, Does.Contain("Run as root").And.Contain("udev rule").And.Contain(Bdf));
    }

    [TestCase("pcie:0000:01:00.0", "0000:01:00.0")]
    [TestCase("pcie:01:00.0", "0000:01:00.0")]
    [TestCase(" pcie:ABCD:EF:1F.7 ", "abcd:ef:1f.7")]
    public void Pcie_uris_parse_to_the_sysfs_name(string text, string address)
    {
        var uri = DeviceUri.Parse(text);
        Assert.That((uri.Scheme, uri.Host, uri.ToString()), Is.EqualTo(("pcie", address, "pcie:" + address)));
        Assert.That(DeviceUri.Parse(uri.ToString()), Is.EqualTo(uri));
    }

    [TestCase("pcie:")]
    [TestCase("pcie:0000:01:20.0")]
    [TestCase("pcie:01:00.8")]
    [TestCase("pcie:1:2:3:4.0")]
    [TestCase("pcie:00000:01:00.0")]
    public void Bad_pcie_uris_say_what_to_give(string text)
    {
        var e = Assert.Throws<FormatException>(() => DeviceUri.Parse(text));
        Assert.That(e.Message, Does.Contain("pcie:DDDD:BB:DD.F"));
    }

    [Test]
    public void Opening_a_function_this_machine_lacks_is_absent()
    {
        var e = Assert.Throws<DeviceException>(() => DeviceOpener.Open(DeviceUri.Parse("pcie:fffe:ff:1f.7")));
        Assert.That(e.Error, Is.EqualTo(DeviceError.Absent), e.Message);
    }

    [System.Runtime.InteropServices.LibraryImport("libc", EntryPoint = "geteuid")]
    private static partial uint GetEuid();
}
