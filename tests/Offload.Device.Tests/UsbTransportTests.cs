using System.Buffers.Binary;
using Offload.Device.Transports;
using Offload.Device.Transports.Usb;
using Offload.Device.Wire;

namespace Offload.Device.Tests;

/// <summary>The software FTDI on its own (no board on the cable): what AN_108 says the engine answers.</summary>
public class SoftFtdiTests
{
    [Test]
    public void An_unknown_opcode_is_answered_with_FA_and_the_opcode()
    {
        using var ftdi = new SoftFtdi(null);
        ftdi.Write([0xAA, Mpsse.SendImmediate, 0xAB]);
        var got = new byte[4];
        ftdi.Read(got);
        Assert.That(got, Is.EqualTo(new byte[] { 0xFA, 0xAA, 0xFA, 0xAB }));
    }

    [Test]
    public void With_loopback_on_bytes_clocked_out_come_back_in_either_bit_order()
    {
        using var ftdi = new SoftFtdi(null);
        ftdi.Write([Mpsse.LoopbackOn, Mpsse.SetLow, 0x08, Mpsse.SpiDirection]);
        ftdi.Write([0x31, 2, 0, 0x12, 0xC5, 0x7E, 0x39, 1, 0, 0x80, 0x01]);
        var got = new byte[5];
        ftdi.Read(got);
        Assert.That(got, Is.EqualTo(new byte[] { 0x12, 0xC5, 0x7E, 0x80, 0x01 }));
        // loopback off: MISO is the unconnected input, pulled high
        ftdi.Write([Mpsse.LoopbackOff, 0x31, 0, 0, 0x00]);
        ftdi.Read(got.AsSpan(0, 1));
        Assert.That(got[0], Is.EqualTo(0xFF));
    }

    [Test]
    public void A_command_split_across_two_writes_runs_once_it_is_whole()
    {
        using var ftdi = new SoftFtdi(null);
        ftdi.Write([Mpsse.LoopbackOn, 0x31, 1]);
        Assert.Throws<DeviceException>(() => ftdi.Read(new byte[1]));
        ftdi.Write([0, 0xDE, 0xAD]);
        var got = new byte[2];
        ftdi.Read(got);
        Assert.That(got, Is.EqualTo(new byte[] { 0xDE, 0xAD }));
    }

    [Test]
    public void Gpio_reads_give_outputs_as_set_and_inputs_high()
    {
        using var ftdi = new SoftFtdi(null);
        ftdi.Write([Mpsse.SetLow, 0x00, 0x0B, Mpsse.GetLow, Mpsse.SetHigh, 0x05, 0x0F, Mpsse.GetHigh]);
        var got = new byte[2];
        ftdi.Read(got);
        Assert.That(got, Is.EqualTo(new byte[] { 0xF4, 0xF5 }));
    }

    [Test]
    public void The_divisor_sets_sck()
    {
        using var ftdi = new SoftFtdi(null);
        ftdi.Write([Mpsse.DisableDiv5, Mpsse.SetDivisor, 2, 0]);
        Assert.That(ftdi.SckHz, Is.EqualTo(10_000_000));
        ftdi.Write([Mpsse.EnableDiv5]);
        Assert.That(ftdi.SckHz, Is.EqualTo(2_000_000));
        Assert.That(Mpsse.DivisorFor(10_000_000), Is.EqualTo(2));
        Assert.That(Mpsse.DivisorFor(7_000_000), Is.EqualTo(4), "never faster than asked");
    }

    [Test]
    public void Valid_opcodes_the_model_does_not_carry_out_are_refused_not_faked()
    {
        using var ftdi = new SoftFtdi(null);
        Assert.Throws<NotSupportedException>(() => ftdi.Write([0x4B, 0, 0]));
    }

    [Test]
    public void A_cable_with_no_board_is_absent_by_name()
    {
        using var dev = UsbDevice.Open(new SoftFtdi(null));
        var e = Assert.Throws<DeviceException>(() => dev.Read(Reg.Id))!;
        Assert.That((e.Error, e.Message), Is.EqualTo((DeviceError.Absent,
            "usb:soft-ftdi: nothing answers on the SPI bus (MISO reads 0xFF): is the FPGA configured with an image that has the SPI bridge, and is it wired to ADBUS0..3?")));
    }
}

/// <summary>USB URIs and what libusb's errors become.</summary>
public class UsbUriTests
{
    [TestCase("usb:0403:6010", "usb:0403:6010", (ushort)0x0403, (ushort)0x6010, null)]
    [TestCase("usb:0403:6014:FT4ZQ1", "usb:0403:6014:FT4ZQ1", (ushort)0x0403, (ushort)0x6014, "FT4ZQ1")]
    [TestCase("usb:0403:601A", "usb:0403:601a", (ushort)0x0403, (ushort)0x601A, null)]
    public void Usb_uris_parse_and_print_back(string text, string printed, ushort vendor, ushort product, string? serial)
    {
        var uri = DeviceUri.Parse(text);
        Assert.That((uri.ToString(), uri.UsbIds()), Is.EqualTo((printed, (vendor, product, serial))));
        Assert.That(DeviceUri.Parse(uri.ToString()), Is.EqualTo(uri));
    }

    [TestCase("usb:")]
    [TestCase("usb:0403")]
    [TestCase("usb:403:6010")]
    [TestCase("usb:0403:60x0")]
    [TestCase("usb:0403:6010:")]
    [TestCase("usb:0403:6010:a b")]
    public void Bad_usb_uris_say_what_to_give(string text)
    {
        var e = Assert.Throws<FormatException>(() => DeviceUri.Parse(text))!;
        Assert.That(e.Message, Does.StartWith($"device '{text}': give usb:VID:PID or usb:VID:PID:SERIAL"));
    }

    [Test]
    public void Permission_denied_names_the_udev_rule_and_the_group()
    {
        var e = FtdiUsbPipe.Error(-3, "usb:0403:6010", "opening bus 1 device 5", 0x0403, 0x6010);
        Assert.That(e.Error, Is.EqualTo(DeviceError.PermissionDenied));
        Assert.That(e.Message, Does.Contain("ATTR{idVendor}==\"0403\", ATTR{idProduct}==\"6010\"").And.Contain("usermod -aG plugdev"));
        Assert.That(FtdiUsbPipe.Error(-7, "usb:x", "bulk read", 0, 0).Error, Is.EqualTo(DeviceError.Timeout));
        Assert.That(FtdiUsbPipe.Error(-4, "usb:x", "bulk read", 0, 0).Error, Is.EqualTo(DeviceError.Absent));
    }

    [Test]
    public void The_two_status_bytes_of_every_512_byte_packet_are_dropped()
    {
        var transfer = new byte[512 + 5];
        for (int i = 0; i < transfer.Length; i++)
            transfer[i] = (byte)i;
        var q = new Queue<byte>();
        FtdiUsbPipe.StripStatus(transfer, q);
        var expected = Enumerable.Range(2, 510).Concat(Enumerable.Range(512 + 2, 3)).Select(i => (byte)i);
        Assert.That(q, Is.EqualTo(expected));
    }

    [Test]
    public void A_device_id_no_board_has_is_absent()
    {
        // VID 0000 is not assigned to anyone, so no device on any host has it: libusb finds nothing.
        var e = Assert.Throws<DeviceException>(() => DeviceOpener.Open(DeviceUri.Parse("usb:0000:0001:NOPE"), TimeSpan.FromSeconds(1)))!;
        Assert.That(e.Error, Is.EqualTo(DeviceError.Absent), e.Message);
        Assert.That(e.Message, Does.StartWith("usb:0000:0001:NOPE: "));
    }
}

/// <summary>The SPI bridge in the model, through the software FTDI: framing errors and sequence numbers by name.</summary>
[Category("Model")]
public class UsbBridgeModelTests
{
    private ModelDevice _model = null!;
    private SoftFtdi _ftdi = null!;

    [SetUp]
    public void SetUp()
    {
        _model = ModelDevice.Create(64);
        _ftdi = new SoftFtdi(_model);
    }

    [TearDown]
    public void TearDown()
    {
        _ftdi.Dispose();
        _model.Dispose();
    }

    [Test]
    public void A_second_link_starts_at_sequence_0_and_the_first_then_sees_a_sequence_gap()
    {
        using var a = UsbDevice.Open(_ftdi, ownsPipe: false);
        a.Write(Reg.Scratch, 1);
        Assert.That(a.Read(Reg.Scratch), Is.EqualTo(1));
        using var b = UsbDevice.Open(_ftdi, ownsPipe: false);
        b.Write(Reg.Scratch, 2);
        var e = Assert.Throws<DeviceException>(() => a.Read(Reg.Scratch))!;
        Assert.That(e.Error, Is.EqualTo(DeviceError.SequenceGap), e.Message);
        Assert.That(b.Read(Reg.Scratch), Is.EqualTo(2), "the refused request ran nothing and b's link goes on");
    }

    [Test]
    public void Requests_the_bridge_refuses_run_nothing_and_do_not_move_the_sequence()
    {
        using (var dev = UsbDevice.Open(_ftdi, ownsPipe: false))
            dev.Write(Reg.Scratch, 0x1111);   // sequence 0: the link's expected number is now 1
        var good = Request(1, (WireOp.Write, Reg.Scratch, [0x2222]));
        // trailing bytes after the last command
        Assert.That(Exchange([.. good, 0, 0, 0, 0]).Status, Is.EqualTo(WireStatus.Malformed));
        // not whole words
        Assert.That(Exchange(good[..^2]).Status, Is.EqualTo(WireStatus.Malformed));
        // version 2
        var v2 = good.ToArray();
        v2[2] = 2;
        Assert.That(Exchange(v2).Status, Is.EqualTo(WireStatus.UnsupportedVersion));
        // more reads than the bridge keeps
        var reads = Request(1, (WireOp.Write, Reg.Scratch, [0x3333]), (WireOp.ReadFixed, Reg.Scratch, new uint[UsbDevice.ResponseWords + 1]));
        Assert.That(Exchange(reads).Status, Is.EqualTo(WireStatus.TooLarge));
        // more bytes than the bridge stores
        var big = Request(1, (WireOp.WriteFixed, Reg.Scratch, new uint[UsbDevice.RequestBytes / 4]));
        Assert.That(Exchange(big).Status, Is.EqualTo(WireStatus.TooLarge));
        // out of sequence
        Assert.That(Exchange(Request(5, (WireOp.Write, Reg.Scratch, [0x4444]))).Status, Is.EqualTo(WireStatus.SequenceGap));
        Assert.That(_model.Read(Reg.Scratch), Is.EqualTo(0x1111), "nothing refused ran");
        var (status, completed, words) = Exchange(Request(1, (WireOp.Write, Reg.Scratch, [0x2222]), (WireOp.Read, Reg.Scratch, [0]), (WireOp.Read, Reg.Id, [0])));
        Assert.That((status, completed, words), Is.EqualTo((WireStatus.Ok, 3u, new uint[] { 0x2222, RegConst.IdValue })));
    }

    [Test]
    public void Without_guard_clocks_the_transport_reads_again_until_the_bridge_is_done()
    {
        using var dev = UsbDevice.Open(_ftdi);
        dev.GuardClocks = false;
        var ops = new CsrOp[UsbDevice.ResponseWords];
        for (int i = 0; i < ops.Length; i++)
            ops[i] = CsrOp.Read(Reg.Id);
        var r = new uint[ops.Length];
        dev.Batch(ops, r);
        Assert.That(r, Is.All.EqualTo(RegConst.IdValue));
        Assert.That(dev.BusyPolls, Is.GreaterThan(0), "256 reads outlast one response read");
    }

    [Test]
    public void With_guard_clocks_a_full_batch_is_ready_at_the_first_read()
    {
        using var dev = UsbDevice.Open(_ftdi);
        var ops = new List<CsrOp>();
        for (int i = 0; i < 300; i++)
            ops.Add(CsrOp.Write(Reg.Scratch, (uint)i));
        for (int i = 0; i < UsbDevice.ResponseWords; i++)
            ops.Add(CsrOp.Read(Reg.Scratch));
        dev.Batch(ops.ToArray(), new uint[ops.Count]);
        Assert.That((dev.Exchanges, dev.BusyPolls), Is.EqualTo((1L, 0L)));
    }

    [Test]
    public void A_bridge_still_busy_after_the_timeout_is_a_timeout()
    {
        using var dev = UsbDevice.Open(_ftdi, timeout: TimeSpan.Zero, time: new StoppedAfterOne());
        dev.GuardClocks = false;
        var ops = new CsrOp[UsbDevice.ResponseWords];
        for (int i = 0; i < ops.Length; i++)
            ops[i] = CsrOp.Read(Reg.Id);
        var e = Assert.Throws<DeviceException>(() => dev.Batch(ops, new uint[ops.Length]))!;
        Assert.That(e.Error, Is.EqualTo(DeviceError.Timeout), e.Message);
    }

    // Time that moves a second per reading, so the first check finds the timeout passed whatever the host's clock does.
    private sealed class StoppedAfterOne : TimeProvider
    {
        private long _now;

        public override long TimestampFrequency => 1;

        public override long GetTimestamp() => ++_now;
    }

    private static byte[] Request(uint seq, params (WireOp Op, uint Address, uint[] Data)[] commands)
    {
        var bytes = new List<byte>();
        var h = new byte[12];
        BinaryPrimitives.WriteUInt16BigEndian(h, CommandWire.RequestMagic);
        h[2] = CommandWire.Version;
        BinaryPrimitives.WriteUInt32BigEndian(h.AsSpan(4), seq);
        BinaryPrimitives.WriteUInt16BigEndian(h.AsSpan(8), (ushort)commands.Length);
        bytes.AddRange(h);
        foreach (var (op, address, data) in commands)
        {
            var c = new byte[8];
            c[0] = (byte)op;
            BinaryPrimitives.WriteUInt16BigEndian(c.AsSpan(2), (ushort)data.Length);
            BinaryPrimitives.WriteUInt32BigEndian(c.AsSpan(4), address);
            bytes.AddRange(c);
            if (op is WireOp.Write or WireOp.WriteFixed)
            {
                foreach (uint w in data)
                {
                    var b = new byte[4];
                    BinaryPrimitives.WriteUInt32BigEndian(b, w);
                    bytes.AddRange(b);
                }
            }
        }
        return bytes.ToArray();
    }

    // The transport's SPI transactions by hand: the request, idle clocks, then the marker and header and up to 2 words.
    private (WireStatus Status, uint Completed, uint[] Words) Exchange(byte[] request)
    {
        var c = new List<byte> { Mpsse.SetLow, 0x00, Mpsse.SpiDirection, Mpsse.BytesOut };
        c.Add((byte)request.Length);
        c.Add((byte)(request.Length >> 8));
        c.Add(0x01);
        c.AddRange(request);
        c.AddRange([Mpsse.SetLow, 0x08, Mpsse.SpiDirection, Mpsse.ClockBytes, 255, 0]);
        const int answer = 1 + 16 + 8;
        c.AddRange([Mpsse.SetLow, 0x00, Mpsse.SpiDirection, Mpsse.BytesOut, 0, 0, 0x02, Mpsse.BytesIn, answer - 1, 0]);
        c.AddRange([Mpsse.SetLow, 0x08, Mpsse.SpiDirection, Mpsse.SendImmediate]);
        _ftdi.Write(c.ToArray());
        var r = new byte[answer];
        _ftdi.Read(r);
        Assert.That(r[0], Is.EqualTo(0xA5), "the answer is ready");
        Assert.That(BinaryPrimitives.ReadUInt16BigEndian(r.AsSpan(1)), Is.EqualTo(CommandWire.ResponseMagic));
        uint words = BinaryPrimitives.ReadUInt32BigEndian(r.AsSpan(13));
        var w = new uint[Math.Min(words, 2)];
        for (int i = 0; i < w.Length; i++)
            w[i] = BinaryPrimitives.ReadUInt32BigEndian(r.AsSpan(17 + (4 * i)));
        return ((WireStatus)r[4], BinaryPrimitives.ReadUInt32BigEndian(r.AsSpan(9)), w);
    }
}
