using System.Diagnostics;
using Offload.HwModel;

namespace Offload.Device.Tests;

/// <summary>
/// Speed of the model through the binding, to compare with hwmodel/build/ofmodel_bench_w64 (pure C++).
/// Explicit: numbers, not pass/fail; run with --filter Category=Speed.
/// </summary>
[Explicit("prints speed numbers; run on demand")]
[Category("Speed")]
public class ModelSpeedTests
{
    [Test]
    public void Cycles_per_second_in_bulk_and_one_call_per_cycle_and_register_accesses()
    {
        using var m = HwModel.HwModel.Create();
        const ulong bulk = 300_000;
        var sw = Stopwatch.StartNew();
        m.Run(bulk);
        double bulkRate = bulk / sw.Elapsed.TotalSeconds;

        const int single = 100_000;
        sw.Restart();
        for (int i = 0; i < single; i++)
            m.Run(1);
        double singleRate = single / sw.Elapsed.TotalSeconds;

        const int reads = 50_000;
        ulong c0 = m.Cycles;
        sw.Restart();
        for (int i = 0; i < reads; i++)
            m.CsrRead(Reg.Scratch);
        double readRate = reads / sw.Elapsed.TotalSeconds;
        double cyclesPerRead = (double)(m.Cycles - c0) / reads;

        var ops = Enumerable.Repeat(CsrOp.Read(Reg.Scratch), 1000).ToArray();
        var results = new uint[ops.Length];
        sw.Restart();
        for (int i = 0; i < reads / ops.Length; i++)
            m.CsrBatch(System.Runtime.InteropServices.MemoryMarshal.Cast<CsrOp, uint>(ops.AsSpan()), results);
        double batchRate = reads / sw.Elapsed.TotalSeconds;

        TestContext.Out.WriteLine($"Run(bulk): {bulkRate / 1e6:F2} M cycles/s; Run(1) per call: {singleRate / 1e6:F2} M cycles/s " +
            $"({1e9 / singleRate - 1e9 / bulkRate:F0} ns binding overhead per call); CsrRead: {readRate / 1e3:F0} k/s ({cyclesPerRead:F1} cycles each); " +
            $"CsrBatch of 1000 reads: {batchRate / 1e3:F0} k reads/s");
        Assert.Pass();
    }
}
