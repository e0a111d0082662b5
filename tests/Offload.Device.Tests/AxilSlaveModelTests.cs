using Offload.HwModel;

namespace Offload.Device.Tests;

/// <summary>
/// The AXI4-Lite slave (hdl/rtl/ofl_axil_csr.v) in front of the model's CSR port, driven the way a PCIe bridge
/// drives it: the responses docs/dataplane.md promises, and exactly one CSR access per transaction that is let
/// through (none for a refused one). The no-ack timeout (SLVERR) cannot be provoked here, since the CSR block acks
/// everything within 4 cycles; tests/hdl/ofl_axil_csr_tb.v covers it against a stand-in that never acks.
/// </summary>
[TestFixture(64)]
[TestFixture(32)]
[Category("Model")]
public class AxilSlaveModelTests(int width)
{
    private HwModel.HwModel _m = null!;

    [SetUp]
    public void SetUp() => _m = HwModel.HwModel.Create(width);

    [TearDown]
    public void TearDown() => _m?.Dispose();

    [Test]
    public void Reads_and_writes_reach_the_same_registers_as_direct_accesses()
    {
        Assert.That((_m.AxilRead(Reg.Id, out uint id), id), Is.EqualTo((AxilResponse.Okay, RegConst.IdValue)));
        Assert.That(_m.AxilWrite(Reg.Scratch, 0xA5A5_0001), Is.EqualTo(AxilResponse.Okay));
        Assert.That(_m.CsrRead(Reg.Scratch), Is.EqualTo(0xA5A5_0001), "the direct path sees the AXI write");
        _m.CsrWrite(Reg.Scratch, 0x5A5A_0002);
        Assert.That((_m.AxilRead(Reg.Scratch, out uint v), v), Is.EqualTo((AxilResponse.Okay, 0x5A5A_0002u)), "and the reverse");
        Assert.That((_m.AxilRead(Reg.Id + 3, out uint low), low), Is.EqualTo((AxilResponse.Okay, RegConst.IdValue)), "address bits 1..0 are ignored");
    }

    [Test]
    public void Each_transaction_makes_exactly_one_access_to_a_register_with_side_effects()
    {
        // ARPCNT_DATA moves ARPCNT_ADDR on by one per CSR access, read or write: it counts the accesses.
        _m.AxilWrite(Reg.ArpcntAddr, 0);
        for (int i = 0; i < 3; i++)
            Assert.That(_m.AxilWrite(Reg.ArpcntData, (uint)(100 + i)), Is.EqualTo(AxilResponse.Okay));
        Assert.That(_m.AxilRead(Reg.ArpcntData, out _), Is.EqualTo(AxilResponse.Okay));
        Assert.That(_m.CsrRead(Reg.ArpcntAddr), Is.EqualTo(4u));
        _m.CsrWrite(Reg.ArpcntAddr, 1);
        Assert.That((_m.AxilRead(Reg.ArpcntData, out uint c1), c1), Is.EqualTo((AxilResponse.Okay, 101u)));
    }

    [TestCase(0x3u)]
    [TestCase(0x1u)]
    [TestCase(0xEu)]
    [TestCase(0x8u)]
    public void A_partial_strobe_is_refused_with_SLVERR_and_touches_nothing(uint strobe)
    {
        _m.CsrWrite(Reg.Scratch, 0x1111_1111);
        _m.CsrWrite(Reg.ArpcntAddr, 7);
        Assert.That(_m.AxilWrite(Reg.Scratch, 0x2222_2222, strobe), Is.EqualTo(AxilResponse.SlvErr));
        Assert.That(_m.AxilWrite(Reg.ArpcntData, 0x2222_2222, strobe), Is.EqualTo(AxilResponse.SlvErr));
        Assert.That((_m.CsrRead(Reg.Scratch), _m.CsrRead(Reg.ArpcntAddr)), Is.EqualTo((0x1111_1111u, 7u)));
    }

    [Test]
    public void A_write_with_no_strobe_is_an_okay_no_op()
    {
        _m.CsrWrite(Reg.Scratch, 0x1111_1111);
        _m.CsrWrite(Reg.ArpcntAddr, 7);
        Assert.That(_m.AxilWrite(Reg.Scratch, 0x2222_2222, 0), Is.EqualTo(AxilResponse.Okay));
        Assert.That(_m.AxilWrite(Reg.ArpcntData, 0x2222_2222, 0), Is.EqualTo(AxilResponse.Okay));
        Assert.That((_m.CsrRead(Reg.Scratch), _m.CsrRead(Reg.ArpcntAddr)), Is.EqualTo((0x1111_1111u, 7u)));
    }

    [TestCase(0x1_0000u)]
    [TestCase(0x1_0008u)]
    [TestCase(0xF_FFFCu)]
    public void Above_the_CSR_window_is_DECERR_and_does_not_alias(uint address)
    {
        _m.CsrWrite(Reg.Scratch, 0x1111_1111);
        Assert.That(_m.AxilWrite(address, 0x3333_3333), Is.EqualTo(AxilResponse.DecErr));
        Assert.That(_m.AxilRead(address, out _), Is.EqualTo(AxilResponse.DecErr));
        Assert.That(_m.CsrRead(Reg.Scratch), Is.EqualTo(0x1111_1111u), "a write above the window reached the register at its low 16 bits");
        Assert.That((_m.AxilRead(Reg.Scratch, out uint v), v), Is.EqualTo((AxilResponse.Okay, 0x1111_1111u)), "the slave answers normally after an error");
    }

    [Test]
    public void The_cosimulated_BAR_shows_error_responses_as_a_root_complex_does()
    {
        using var dev = new ModelDevice(_m, ownsModel: false);
        using var bar = new ModelAxilWindow(dev);
        Assert.That(bar.Read32(Reg.Id), Is.EqualTo(RegConst.IdValue));
        Assert.That(bar.Read32(0x1_0000), Is.EqualTo(0xFFFF_FFFFu), "a failed read completes as all ones");
        bar.Write32(0x1_0008, 5);
        Assert.That((bar.ErrorResponses, _m.CsrRead(Reg.Scratch)), Is.EqualTo((2L, 0u)), "the posted write was lost, and counted");
    }

    [Test]
    public void An_access_takes_a_handful_of_cycles()
    {
        ulong c0 = _m.Cycles;
        const int n = 100;
        for (int i = 0; i < n; i++)
        {
            _m.AxilWrite(Reg.Scratch, (uint)i);
            _m.AxilRead(Reg.Scratch, out _);
        }
        double perAccess = (double)(_m.Cycles - c0) / (2 * n);
        TestContext.Out.WriteLine($"{perAccess:F1} cycles per AXI4-Lite access (direct CSR access: 3)");
        // A bound, not a figure: a slave that stalls for its timeout on every access would show here.
        Assert.That(perAccess, Is.LessThan(12));
    }
}
