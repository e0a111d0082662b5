using System.Reflection;
using System.Runtime.InteropServices;

namespace Offload.HwModel.Interop;

/// <summary>Native mirror of <c>ofm_csr_op</c> (hwmodel/ofmodel.h).</summary>
[StructLayout(LayoutKind.Sequential)]
internal struct NativeCsrOp
{
    public uint Kind;
    public uint Addr;
    public uint Value;
}

/// <summary>Native mirror of <c>ofm_port_stats</c>.</summary>
[StructLayout(LayoutKind.Sequential)]
internal struct NativePortStats
{
    public ulong RxFrames;
    public ulong RxWords;
    public ulong RxStallCycles;
    public ulong TxFrames;
    public ulong TxWords;
    public ulong TxFirstCycle;
    public ulong TxLastCycle;
}

/// <summary>
/// The C ABI of one model library. Each DATA_W is its own library (libofmodel_w64.so, libofmodel_w32.so)
/// and [LibraryImport] needs a constant library name, so each width gets its own import class below and
/// this base class lets <see cref="HwModel"/> hold either one.
/// </summary>
internal abstract unsafe class OfmApi
{
    public abstract int Width { get; }
    public abstract string FileName { get; }
    public abstract nint Create();
    public abstract void Destroy(nint m);
    public abstract int DataWidth();
    public abstract void Reset(nint m);
    public abstract ulong Cycles(nint m);
    public abstract int CsrWrite(nint m, uint addr, uint value);
    public abstract uint CsrRead(nint m, uint addr, int* err);
    public abstract int CsrBatch(nint m, NativeCsrOp* ops, uint n, uint* results);
    public abstract int AxilWrite(nint m, uint addr, uint data, uint strb);
    public abstract int AxilRead(nint m, uint addr, uint* data);
    public abstract uint SpiDrive(nint m, byte* pins, uint n, uint cyclesPerStep, byte* sampled);
    public abstract uint FlashSize();
    public abstract int FlashRead(nint m, uint addr, byte* buf, uint len);
    public abstract int FlashLoad(nint m, uint addr, byte* data, uint len);
    public abstract uint FlashStatus(nint m);
    public abstract void FlashTiming(nint m, ulong pageProgram, ulong sectorErase, ulong blockErase, ulong chipErase, ulong statusWrite);
    public abstract void FlashPowerCut(nint m);
    public abstract void FlashCounts(nint m, ulong* programs, ulong* erases, ulong* refused);
    public abstract int PushFrame(nint m, int port, byte* data, uint len);
    public abstract int PopFrame(nint m, int port, byte* buf, uint cap);
    public abstract uint TxPending(nint m, int port);
    public abstract ulong Run(nint m, ulong cycles);
    public abstract ulong RunUntilIdle(nint m, ulong maxCycles);
    public abstract void GetPortStats(nint m, int port, NativePortStats* stats);
    public abstract void ClearStats(nint m);
    public abstract void SetTxReady(nint m, int port, uint pattern);
    public abstract ulong TxViolations(nint m, int port);
    public abstract uint RxPending(nint m, int port);
    public abstract ulong TrafficLoop(nint m, byte* frame0, byte* frame1, uint len, uint depth, ulong step, ulong cycles);

    public static readonly int[] Widths = [64, 32];

    public static OfmApi ForWidth(int width)
    {
        OfmLibrary.EnsureResolver();
        return width switch
        {
            64 => OfmApiW64.Instance,
            32 => OfmApiW32.Instance,
            _ => throw new ArgumentOutOfRangeException(nameof(width), width, "the model is built for DATA_W 64 and 32 only"),
        };
    }
}

/// <summary>Finds libofmodel_w{width}.so next to the application (the build copies both there).</summary>
internal static class OfmLibrary
{
    /// <summary>Overrides the directory searched first, for tools that run from elsewhere.</summary>
    public const string DirectoryVariable = "OFFLOAD_HWMODEL_DIR";

    private static int s_registered;

    public static void EnsureResolver()
    {
        if (Interlocked.Exchange(ref s_registered, 1) == 0)
            NativeLibrary.SetDllImportResolver(typeof(OfmLibrary).Assembly, Resolve);
    }

    public static IReadOnlyList<string> Candidates(string fileName)
    {
        var list = new List<string>(2);
        string? dir = Environment.GetEnvironmentVariable(DirectoryVariable);
        if (!string.IsNullOrEmpty(dir))
            list.Add(Path.Combine(dir, fileName));
        list.Add(Path.Combine(AppContext.BaseDirectory, fileName));
        return list;
    }

    public static string? Find(string fileName) => Candidates(fileName).FirstOrDefault(File.Exists);

    private static nint Resolve(string libraryName, Assembly assembly, DllImportSearchPath? searchPath)
    {
        if (!libraryName.StartsWith("ofmodel_w", StringComparison.Ordinal))
            return 0;
        string fileName = "lib" + libraryName + ".so";
        string? path = Find(fileName);
        if (path is null)
            throw new DllNotFoundException(MissingMessage(fileName));
        return NativeLibrary.Load(path);
    }

    public static string MissingMessage(string fileName) =>
        $"{fileName} not found (looked in: {string.Join(", ", Candidates(fileName))}). " +
        "Build the Verilator model with `make -C hwmodel` (needs verilator; `dotnet build` runs it through Offload.HwModel.csproj) " +
        $"or point {DirectoryVariable} at a directory holding it.";
}

internal sealed unsafe partial class OfmApiW64 : OfmApi
{
    private const string Lib = "ofmodel_w64";
    public static readonly OfmApiW64 Instance = new();

    public override int Width => 64;
    public override string FileName => "lib" + Lib + ".so";
    public override nint Create() => ofm_create();
    public override void Destroy(nint m) => ofm_destroy(m);
    public override int DataWidth() => ofm_data_width();
    public override void Reset(nint m) => ofm_reset(m);
    public override ulong Cycles(nint m) => ofm_cycles(m);
    public override int CsrWrite(nint m, uint addr, uint value) => ofm_csr_write(m, addr, value);
    public override uint CsrRead(nint m, uint addr, int* err) => ofm_csr_read(m, addr, err);
    public override int CsrBatch(nint m, NativeCsrOp* ops, uint n, uint* results) => ofm_csr_batch(m, ops, n, results);
    public override int AxilWrite(nint m, uint addr, uint data, uint strb) => ofm_axil_write(m, addr, data, strb);
    public override int AxilRead(nint m, uint addr, uint* data) => ofm_axil_read(m, addr, data);
    public override uint SpiDrive(nint m, byte* pins, uint n, uint cyclesPerStep, byte* sampled) => ofm_spi_drive(m, pins, n, cyclesPerStep, sampled);
    public override uint FlashSize() => ofm_flash_size();
    public override int FlashRead(nint m, uint addr, byte* buf, uint len) => ofm_flash_read(m, addr, buf, len);
    public override int FlashLoad(nint m, uint addr, byte* data, uint len) => ofm_flash_load(m, addr, data, len);
    public override uint FlashStatus(nint m) => ofm_flash_status(m);
    public override void FlashTiming(nint m, ulong pageProgram, ulong sectorErase, ulong blockErase, ulong chipErase, ulong statusWrite) =>
        ofm_flash_timing(m, pageProgram, sectorErase, blockErase, chipErase, statusWrite);
    public override void FlashPowerCut(nint m) => ofm_flash_power_cut(m);
    public override void FlashCounts(nint m, ulong* programs, ulong* erases, ulong* refused) => ofm_flash_counts(m, programs, erases, refused);
    public override int PushFrame(nint m, int port, byte* data, uint len) => ofm_push_frame(m, port, data, len);
    public override int PopFrame(nint m, int port, byte* buf, uint cap) => ofm_pop_frame(m, port, buf, cap);
    public override uint TxPending(nint m, int port) => ofm_tx_pending(m, port);
    public override ulong Run(nint m, ulong cycles) => ofm_run(m, cycles);
    public override ulong RunUntilIdle(nint m, ulong maxCycles) => ofm_run_until_idle(m, maxCycles);
    public override void GetPortStats(nint m, int port, NativePortStats* stats) => ofm_get_port_stats(m, port, stats);
    public override void ClearStats(nint m) => ofm_clear_stats(m);
    public override void SetTxReady(nint m, int port, uint pattern) => ofm_set_tx_ready(m, port, pattern);
    public override ulong TxViolations(nint m, int port) => ofm_tx_violations(m, port);
    public override uint RxPending(nint m, int port) => ofm_rx_pending(m, port);
    public override ulong TrafficLoop(nint m, byte* frame0, byte* frame1, uint len, uint depth, ulong step, ulong cycles) =>
        ofm_traffic_loop(m, frame0, frame1, len, depth, step, cycles);

    [LibraryImport(Lib)] private static partial ulong ofm_traffic_loop(nint m, byte* frame0, byte* frame1, uint len, uint depth, ulong step, ulong cycles);
    [LibraryImport(Lib)] private static partial nint ofm_create();
    [LibraryImport(Lib)] private static partial void ofm_destroy(nint m);
    [LibraryImport(Lib)] private static partial int ofm_data_width();
    [LibraryImport(Lib)] private static partial void ofm_reset(nint m);
    [LibraryImport(Lib)] private static partial ulong ofm_cycles(nint m);
    [LibraryImport(Lib)] private static partial int ofm_csr_write(nint m, uint addr, uint value);
    [LibraryImport(Lib)] private static partial uint ofm_csr_read(nint m, uint addr, int* err);
    [LibraryImport(Lib)] private static partial int ofm_csr_batch(nint m, NativeCsrOp* ops, uint n, uint* results);
    [LibraryImport(Lib)] private static partial int ofm_axil_write(nint m, uint addr, uint data, uint strb);
    [LibraryImport(Lib)] private static partial int ofm_axil_read(nint m, uint addr, uint* data);
    [LibraryImport(Lib)] private static partial uint ofm_spi_drive(nint m, byte* pins, uint n, uint cyclesPerStep, byte* sampled);
    [LibraryImport(Lib)] private static partial uint ofm_flash_size();
    [LibraryImport(Lib)] private static partial int ofm_flash_read(nint m, uint addr, byte* buf, uint len);
    [LibraryImport(Lib)] private static partial int ofm_flash_load(nint m, uint addr, byte* data, uint len);
    [LibraryImport(Lib)] private static partial uint ofm_flash_status(nint m);
    [LibraryImport(Lib)] private static partial void ofm_flash_timing(nint m, ulong pageProgram, ulong sectorErase, ulong blockErase, ulong chipErase, ulong statusWrite);
    [LibraryImport(Lib)] private static partial void ofm_flash_power_cut(nint m);
    [LibraryImport(Lib)] private static partial void ofm_flash_counts(nint m, ulong* programs, ulong* erases, ulong* refused);
    [LibraryImport(Lib)] private static partial int ofm_push_frame(nint m, int port, byte* data, uint len);
    [LibraryImport(Lib)] private static partial int ofm_pop_frame(nint m, int port, byte* buf, uint cap);
    [LibraryImport(Lib)] private static partial uint ofm_tx_pending(nint m, int port);
    [LibraryImport(Lib)] private static partial ulong ofm_run(nint m, ulong cycles);
    [LibraryImport(Lib)] private static partial ulong ofm_run_until_idle(nint m, ulong maxCycles);
    [LibraryImport(Lib)] private static partial void ofm_get_port_stats(nint m, int port, NativePortStats* stats);
    [LibraryImport(Lib)] private static partial void ofm_clear_stats(nint m);
    [LibraryImport(Lib)] private static partial void ofm_set_tx_ready(nint m, int port, uint pattern);
    [LibraryImport(Lib)] private static partial ulong ofm_tx_violations(nint m, int port);
    [LibraryImport(Lib)] private static partial uint ofm_rx_pending(nint m, int port);
}

internal sealed unsafe partial class OfmApiW32 : OfmApi
{
    private const string Lib = "ofmodel_w32";
    public static readonly OfmApiW32 Instance = new();

    public override int Width => 32;
    public override string FileName => "lib" + Lib + ".so";
    public override nint Create() => ofm_create();
    public override void Destroy(nint m) => ofm_destroy(m);
    public override int DataWidth() => ofm_data_width();
    public override void Reset(nint m) => ofm_reset(m);
    public override ulong Cycles(nint m) => ofm_cycles(m);
    public override int CsrWrite(nint m, uint addr, uint value) => ofm_csr_write(m, addr, value);
    public override uint CsrRead(nint m, uint addr, int* err) => ofm_csr_read(m, addr, err);
    public override int CsrBatch(nint m, NativeCsrOp* ops, uint n, uint* results) => ofm_csr_batch(m, ops, n, results);
    public override int AxilWrite(nint m, uint addr, uint data, uint strb) => ofm_axil_write(m, addr, data, strb);
    public override int AxilRead(nint m, uint addr, uint* data) => ofm_axil_read(m, addr, data);
    public override uint SpiDrive(nint m, byte* pins, uint n, uint cyclesPerStep, byte* sampled) => ofm_spi_drive(m, pins, n, cyclesPerStep, sampled);
    public override uint FlashSize() => ofm_flash_size();
    public override int FlashRead(nint m, uint addr, byte* buf, uint len) => ofm_flash_read(m, addr, buf, len);
    public override int FlashLoad(nint m, uint addr, byte* data, uint len) => ofm_flash_load(m, addr, data, len);
    public override uint FlashStatus(nint m) => ofm_flash_status(m);
    public override void FlashTiming(nint m, ulong pageProgram, ulong sectorErase, ulong blockErase, ulong chipErase, ulong statusWrite) =>
        ofm_flash_timing(m, pageProgram, sectorErase, blockErase, chipErase, statusWrite);
    public override void FlashPowerCut(nint m) => ofm_flash_power_cut(m);
    public override void FlashCounts(nint m, ulong* programs, ulong* erases, ulong* refused) => ofm_flash_counts(m, programs, erases, refused);
    public override int PushFrame(nint m, int port, byte* data, uint len) => ofm_push_frame(m, port, data, len);
    public override int PopFrame(nint m, int port, byte* buf, uint cap) => ofm_pop_frame(m, port, buf, cap);
    public override uint TxPending(nint m, int port) => ofm_tx_pending(m, port);
    public override ulong Run(nint m, ulong cycles) => ofm_run(m, cycles);
    public override ulong RunUntilIdle(nint m, ulong maxCycles) => ofm_run_until_idle(m, maxCycles);
    public override void GetPortStats(nint m, int port, NativePortStats* stats) => ofm_get_port_stats(m, port, stats);
    public override void ClearStats(nint m) => ofm_clear_stats(m);
    public override void SetTxReady(nint m, int port, uint pattern) => ofm_set_tx_ready(m, port, pattern);
    public override ulong TxViolations(nint m, int port) => ofm_tx_violations(m, port);
    public override uint RxPending(nint m, int port) => ofm_rx_pending(m, port);
    public override ulong TrafficLoop(nint m, byte* frame0, byte* frame1, uint len, uint depth, ulong step, ulong cycles) =>
        ofm_traffic_loop(m, frame0, frame1, len, depth, step, cycles);

    [LibraryImport(Lib)] private static partial ulong ofm_traffic_loop(nint m, byte* frame0, byte* frame1, uint len, uint depth, ulong step, ulong cycles);
    [LibraryImport(Lib)] private static partial nint ofm_create();
    [LibraryImport(Lib)] private static partial void ofm_destroy(nint m);
    [LibraryImport(Lib)] private static partial int ofm_data_width();
    [LibraryImport(Lib)] private static partial void ofm_reset(nint m);
    [LibraryImport(Lib)] private static partial ulong ofm_cycles(nint m);
    [LibraryImport(Lib)] private static partial int ofm_csr_write(nint m, uint addr, uint value);
    [LibraryImport(Lib)] private static partial uint ofm_csr_read(nint m, uint addr, int* err);
    [LibraryImport(Lib)] private static partial int ofm_csr_batch(nint m, NativeCsrOp* ops, uint n, uint* results);
    [LibraryImport(Lib)] private static partial int ofm_axil_write(nint m, uint addr, uint data, uint strb);
    [LibraryImport(Lib)] private static partial int ofm_axil_read(nint m, uint addr, uint* data);
    [LibraryImport(Lib)] private static partial uint ofm_spi_drive(nint m, byte* pins, uint n, uint cyclesPerStep, byte* sampled);
    [LibraryImport(Lib)] private static partial uint ofm_flash_size();
    [LibraryImport(Lib)] private static partial int ofm_flash_read(nint m, uint addr, byte* buf, uint len);
    [LibraryImport(Lib)] private static partial int ofm_flash_load(nint m, uint addr, byte* data, uint len);
    [LibraryImport(Lib)] private static partial uint ofm_flash_status(nint m);
    [LibraryImport(Lib)] private static partial void ofm_flash_timing(nint m, ulong pageProgram, ulong sectorErase, ulong blockErase, ulong chipErase, ulong statusWrite);
    [LibraryImport(Lib)] private static partial void ofm_flash_power_cut(nint m);
    [LibraryImport(Lib)] private static partial void ofm_flash_counts(nint m, ulong* programs, ulong* erases, ulong* refused);
    [LibraryImport(Lib)] private static partial int ofm_push_frame(nint m, int port, byte* data, uint len);
    [LibraryImport(Lib)] private static partial int ofm_pop_frame(nint m, int port, byte* buf, uint cap);
    [LibraryImport(Lib)] private static partial uint ofm_tx_pending(nint m, int port);
    [LibraryImport(Lib)] private static partial ulong ofm_run(nint m, ulong cycles);
    [LibraryImport(Lib)] private static partial ulong ofm_run_until_idle(nint m, ulong maxCycles);
    [LibraryImport(Lib)] private static partial void ofm_get_port_stats(nint m, int port, NativePortStats* stats);
    [LibraryImport(Lib)] private static partial void ofm_clear_stats(nint m);
    [LibraryImport(Lib)] private static partial void ofm_set_tx_ready(nint m, int port, uint pattern);
    [LibraryImport(Lib)] private static partial ulong ofm_tx_violations(nint m, int port);
    [LibraryImport(Lib)] private static partial uint ofm_rx_pending(nint m, int port);
}

/// <summary>Owns one native <c>ofm*</c>; destroys it with the library it came from.</summary>
internal sealed class OfmHandle : SafeHandle
{
    private readonly OfmApi _api;

    public OfmHandle(nint handle, OfmApi api)
        : base(0, ownsHandle: true)
    {
        _api = api;
        SetHandle(handle);
    }

    public override bool IsInvalid => handle == 0;

    protected override bool ReleaseHandle()
    {
        _api.Destroy(handle);
        return true;
    }
}
