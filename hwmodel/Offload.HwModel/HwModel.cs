using System.Runtime.InteropServices;
using Offload.HwModel.Interop;

namespace Offload.HwModel;

/// <summary>A register access the data plane did not acknowledge (the bus or the RTL is broken).</summary>
public sealed class HwModelException : Exception
{
    public HwModelException()
    {
    }

    public HwModelException(string message)
        : base(message)
    {
    }

    public HwModelException(string message, Exception innerException)
        : base(message, innerException)
    {
    }
}

/// <summary>
/// The Verilator model of <c>offload_top</c> in this process (hwmodel/shim.cpp through its C ABI).
/// Frames pushed are driven on the ingress streams back to back and egress frames are collected, all
/// inside native code while the clock runs (<see cref="Run"/>, <see cref="RunUntilIdle"/>, and every
/// register access, which ticks the clock too). Between calls nothing runs.
/// </summary>
/// <remarks>
/// Not thread-safe: an instance must be used by one thread at a time (the caller serializes, e.g. with a
/// lock around the model or by owning it on one thread). Separate instances are independent and may run
/// on different threads at once.
/// </remarks>
public sealed unsafe class HwModel : IDisposable
{
    /// <summary>Attempts of a register access before the model gives up (the shim waits 64 cycles for ack).</summary>
    public const int CsrTimeoutCycles = 64;

    private readonly OfmApi _api;
    private readonly OfmHandle _handle;

    private HwModel(OfmApi api, OfmHandle handle)
    {
        _api = api;
        _handle = handle;
        DataWidth = api.Width;
    }

    /// <summary>Stream width (DATA_W) the model was built with.</summary>
    public int DataWidth { get; }

    /// <summary>Widths for which a model library exists next to the application.</summary>
    public static IReadOnlyList<int> AvailableWidths =>
        OfmApi.Widths.Where(w => OfmLibrary.Find(LibraryFileName(w)) is not null).ToArray();

    public static string LibraryFileName(int dataWidth) => $"libofmodel_w{dataWidth}.so";

    /// <summary>Loads libofmodel_w{dataWidth}.so and creates a model, held in reset for a few cycles.</summary>
    /// <exception cref="DllNotFoundException">The library is missing; the message says how to build it.</exception>
    public static HwModel Create(int dataWidth = 64)
    {
        // CI's unit stage sets this to prove that its tests run without the model (a test that needs the model and
        // is not tagged for the model stage fails there with this message instead of passing by luck).
        if (Environment.GetEnvironmentVariable("OFFLOAD_HWMODEL") == "forbid")
            throw new HwModelException("the Verilator model is forbidden here (OFFLOAD_HWMODEL=forbid: the unit stage); tag the test [Category(\"Model\")]");
        var api = OfmApi.ForWidth(dataWidth);
        if (OfmLibrary.Find(api.FileName) is null)
            throw new DllNotFoundException(OfmLibrary.MissingMessage(api.FileName));
        int built = api.DataWidth();
        if (built != dataWidth)
            throw new HwModelException($"{api.FileName} reports DATA_W={built}, expected {dataWidth}: stale build?");
        nint m = api.Create();
        if (m == 0)
            throw new HwModelException("ofm_create failed (out of memory)");
        return new HwModel(api, new OfmHandle(m, api));
    }

    private nint H
    {
        get
        {
            ObjectDisposedException.ThrowIf(_handle.IsClosed, this);
            return _handle.DangerousGetHandle();
        }
    }

    /// <summary>Rising edges since the model was created (reset does not rewind it).</summary>
    public ulong Cycles => Call(_api.Cycles(H));

    /// <summary>Holds rst for a few cycles; drops queued and collected frames and clears the stats.</summary>
    public void Reset()
    {
        _api.Reset(H);
        GC.KeepAlive(this);
    }

    public void CsrWrite(uint address, uint value)
    {
        if (_api.CsrWrite(H, address, value) != 0)
            throw NoAck("write", address);
        GC.KeepAlive(this);
    }

    public uint CsrRead(uint address)
    {
        int err;
        uint v = _api.CsrRead(H, address, &err);
        GC.KeepAlive(this);
        return err == 0 ? v : throw NoAck("read", address);
    }

    /// <summary>
    /// Runs the accesses in order in one native call. <paramref name="ops"/> holds them as {kind (0 write,
    /// 1 read), address, value} triples, <c>ofm_csr_op</c>'s layout, so a transport whose op type has that
    /// layout passes its span through without a copy; <paramref name="results"/>[i] gets what op i read
    /// (0 for writes) and may be empty when nothing is read back.
    /// </summary>
    public void CsrBatch(ReadOnlySpan<uint> ops, Span<uint> results)
    {
        if (ops.Length % 3 != 0)
            throw new ArgumentException($"ops holds {ops.Length} words, not whole (kind, address, value) triples", nameof(ops));
        int n = ops.Length / 3;
        if (!results.IsEmpty && results.Length < n)
            throw new ArgumentException($"results holds {results.Length} values for {n} operations", nameof(results));
        if (n == 0)
            return;
        int rc;
        fixed (uint* o = ops)
        fixed (uint* r = results)
        {
            rc = _api.CsrBatch(H, (NativeCsrOp*)o, (uint)n, results.IsEmpty ? null : r);
        }
        GC.KeepAlive(this);
        if (rc != 0)
            throw new HwModelException("a register access in a batch got no ack within 64 cycles; the batch stopped there");
    }

    /// <summary>
    /// One AXI4-Lite write through the register slave in front of the CSR bus (ofl_axil_csr), as a PCIe bridge
    /// drives it; the clock runs meanwhile. <paramref name="strobe"/> is the 4-bit write strobe. The slave
    /// decodes 20 address bits: the CSR block is the first 64 KiB, above it the answer is DECERR.
    /// </summary>
    /// <returns>The slave's response; an error response is an answer, not an exception.</returns>
    /// <exception cref="HwModelException">The slave did not answer at all.</exception>
    public AxilResponse AxilWrite(uint address, uint value, uint strobe = 0xF)
    {
        int rc = _api.AxilWrite(H, address, value, strobe);
        GC.KeepAlive(this);
        return rc >= 0 ? (AxilResponse)rc : throw NoAxilResponse("write", address);
    }

    /// <summary>One AXI4-Lite read through the register slave; see <see cref="AxilWrite"/>.</summary>
    /// <exception cref="HwModelException">The slave did not answer at all.</exception>
    public AxilResponse AxilRead(uint address, out uint value)
    {
        uint v = 0;
        int rc = _api.AxilRead(H, address, &v);
        GC.KeepAlive(this);
        value = v;
        return rc >= 0 ? (AxilResponse)rc : throw NoAxilResponse("read", address);
    }

    /// <summary>
    /// Drives the SPI bridge's pins (ofl_spi_csr, what an FTDI's MPSSE drives on a small board) one step at a time: for
    /// each step, <paramref name="pins"/>[i] (bit 0 SCK, bit 1 MOSI, bit 2 CS_N) is applied and the clock runs
    /// <paramref name="cyclesPerStep"/> cycles with the bridge as the CSR master; <paramref name="sampled"/>[i] then gets
    /// bit 0 MISO, bit 1 MISO driven, bit 2 the bridge busy. <paramref name="sampled"/> may be empty.
    /// </summary>
    public void SpiDrive(ReadOnlySpan<byte> pins, uint cyclesPerStep, Span<byte> sampled)
    {
        ArgumentOutOfRangeException.ThrowIfZero(cyclesPerStep);
        if (!sampled.IsEmpty && sampled.Length < pins.Length)
            throw new ArgumentException($"sampled holds {sampled.Length} values for {pins.Length} steps", nameof(sampled));
        if (pins.IsEmpty)
            return;
        fixed (byte* p = pins)
        fixed (byte* s = sampled)
        {
            _api.SpiDrive(H, p, (uint)pins.Length, cyclesPerStep, sampled.IsEmpty ? null : s);
        }
        GC.KeepAlive(this);
    }

    /// <summary>Bytes of the behavioural SPI NOR flash on the model's flash pins (hwmodel/spi_flash.h).</summary>
    public int FlashSize => (int)_api.FlashSize();

    /// <summary>Copies flash contents without the SPI bus, as a programmer on the bench would see them.</summary>
    public void FlashRead(uint address, Span<byte> buffer)
    {
        int rc;
        fixed (byte* p = buffer)
            rc = _api.FlashRead(H, address, p, (uint)buffer.Length);
        GC.KeepAlive(this);
        if (rc != 0)
            throw new ArgumentOutOfRangeException(nameof(address), address, $"{buffer.Length} bytes at 0x{address:X} lie outside the {FlashSize}-byte flash");
    }

    /// <summary>Overwrites flash contents without the SPI bus (a factory image, a test's starting state).</summary>
    public void FlashLoad(uint address, ReadOnlySpan<byte> data)
    {
        int rc;
        fixed (byte* p = data)
            rc = _api.FlashLoad(H, address, p, (uint)data.Length);
        GC.KeepAlive(this);
        if (rc != 0)
            throw new ArgumentOutOfRangeException(nameof(address), address, $"{data.Length} bytes at 0x{address:X} lie outside the {FlashSize}-byte flash");
    }

    /// <summary>The flash's status register 1 (bit 0 BUSY, 1 WEL, 2..4 BP, 5 TB, 6 SEC).</summary>
    public byte FlashStatus => (byte)Call(_api.FlashStatus(H));

    /// <summary>Busy times of the flash, in model cycles.</summary>
    public void FlashTiming(ulong pageProgram, ulong sectorErase, ulong blockErase, ulong chipErase, ulong statusWrite)
    {
        _api.FlashTiming(H, pageProgram, sectorErase, blockErase, chipErase, statusWrite);
        GC.KeepAlive(this);
    }

    /// <summary>Cuts the flash's power: an erase or program still running leaves its range scrambled.</summary>
    public void FlashPowerCut()
    {
        _api.FlashPowerCut(H);
        GC.KeepAlive(this);
    }

    /// <summary>Page programs and erases the flash carried out, and those it refused (protected range).</summary>
    public (ulong Programs, ulong Erases, ulong Refused) FlashCounts()
    {
        ulong p, e, r;
        _api.FlashCounts(H, &p, &e, &r);
        GC.KeepAlive(this);
        return (p, e, r);
    }

    /// <summary>Queues a frame (no FCS) for ingress on port 0 or 1; it is driven when the clock runs.</summary>
    public void PushFrame(int port, ReadOnlySpan<byte> frame)
    {
        CheckPort(port);
        if (frame.IsEmpty)
            throw new ArgumentException("a frame has at least one byte", nameof(frame));
        int rc;
        fixed (byte* p = frame)
            rc = _api.PushFrame(H, port, p, (uint)frame.Length);
        GC.KeepAlive(this);
        if (rc != 0)
            throw new HwModelException("ofm_push_frame refused the frame");
    }

    /// <summary>Takes the oldest frame collected on egress port <paramref name="port"/>.</summary>
    /// <returns>Its length, or -1 when none is waiting.</returns>
    /// <exception cref="ArgumentException">The buffer is too small; the frame stays queued.</exception>
    public int PopFrame(int port, Span<byte> buffer)
    {
        CheckPort(port);
        int rc;
        fixed (byte* p = buffer)
            rc = _api.PopFrame(H, port, p, (uint)buffer.Length);
        GC.KeepAlive(this);
        if (rc == 0)
            return -1;
        if (rc < 0)
            throw new ArgumentException($"the frame waiting on port {port} is {-rc} bytes; the buffer holds {buffer.Length}", nameof(buffer));
        return rc;
    }

    /// <summary>Convenience for tests: the oldest egress frame as a new array, or null.</summary>
    public byte[]? PopFrame(int port)
    {
        CheckPort(port);
        int rc = _api.PopFrame(H, port, null, 0);
        if (rc == 0)
            return null;
        var frame = new byte[-rc];
        fixed (byte* p = frame)
            rc = _api.PopFrame(H, port, p, (uint)frame.Length);
        GC.KeepAlive(this);
        return rc == frame.Length ? frame : throw new HwModelException("ofm_pop_frame changed its answer");
    }

    /// <summary>Egress frames collected and not yet popped.</summary>
    public int TxPending(int port)
    {
        CheckPort(port);
        return (int)Call(_api.TxPending(H, port));
    }

    /// <summary>Ingress frames queued and not yet fully accepted (the one in progress included).</summary>
    public int RxPending(int port)
    {
        CheckPort(port);
        return (int)Call(_api.RxPending(H, port));
    }

    public ulong Run(ulong cycles) => Call(_api.Run(H, cycles));

    /// <summary>
    /// The benchmark's traffic loop run entirely in C++ (see ofm_traffic_loop): the baseline that the same
    /// loop driven from C# is compared with.
    /// </summary>
    public ulong TrafficLoop(ReadOnlySpan<byte> frame0, ReadOnlySpan<byte> frame1, int depth, ulong step, ulong cycles)
    {
        if (frame0.Length != frame1.Length || frame0.IsEmpty)
            throw new ArgumentException("both frames must have the same, non-zero length", nameof(frame1));
        ArgumentOutOfRangeException.ThrowIfLessThan(depth, 1);
        ArgumentOutOfRangeException.ThrowIfZero(step);
        fixed (byte* f0 = frame0)
        fixed (byte* f1 = frame1)
        {
            return Call(_api.TrafficLoop(H, f0, f1, (uint)frame0.Length, (uint)depth, step, cycles));
        }
    }

    /// <summary>
    /// Runs until every ingress queue is empty and the design reports <c>idle</c> for a few cycles in a row,
    /// or <paramref name="maxCycles"/> have run. Returns the cycles run (== max when it never went idle).
    /// </summary>
    public ulong RunUntilIdle(ulong maxCycles = 10_000_000) => Call(_api.RunUntilIdle(H, maxCycles));

    public PortStats GetPortStats(int port)
    {
        CheckPort(port);
        NativePortStats s;
        _api.GetPortStats(H, port, &s);
        GC.KeepAlive(this);
        return new PortStats(s.RxFrames, s.RxWords, s.RxStallCycles, s.TxFrames, s.TxWords, s.TxFirstCycle, s.TxLastCycle);
    }

    public void ClearStats()
    {
        _api.ClearStats(H);
        GC.KeepAlive(this);
    }

    /// <summary>Egress back-pressure: tready on cycle c is bit (c % 32) of <paramref name="pattern"/> (all ones by default).</summary>
    public void SetTxReady(int port, uint pattern)
    {
        CheckPort(port);
        _api.SetTxReady(H, port, pattern);
        GC.KeepAlive(this);
    }

    /// <summary>
    /// AXI-Stream rule breaks seen on egress port <paramref name="port"/> since the last clear: a non-last word
    /// not full, tkeep not contiguous from lane 0, or a stalled word changed or withdrawn. 0 on a correct design.
    /// </summary>
    public ulong TxViolations(int port)
    {
        CheckPort(port);
        return Call(_api.TxViolations(H, port));
    }

    public void Dispose() => _handle.Dispose();

    private T Call<T>(T value)
    {
        GC.KeepAlive(this);
        return value;
    }

    private static void CheckPort(int port)
    {
        if ((uint)port > 1)
            throw new ArgumentOutOfRangeException(nameof(port), port, "ports are 0 and 1");
    }

    private static HwModelException NoAxilResponse(string what, uint address) =>
        new($"AXI4-Lite {what} at 0x{address:X5} got no response from the slave");

    private static HwModelException NoAck(string what, uint address) =>
        new($"CSR {what} at 0x{address:X4} got no ack within {CsrTimeoutCycles} cycles");
}
