using System.Diagnostics;
using System.Globalization;
using System.Text;
using Offload.Reference;
using static Offload.Device.RegConst;

namespace Offload.Cosim.Tests;

/// <summary>
/// Seeded random traffic through the model and the reference, compared output by output and counter by counter.
/// OFFLOAD_SEED picks the seed (printed either way); a failure names it with the input number.
/// </summary>
[NonParallelizable]
public class RandomTrafficTests
{
    [TestCase(64, 100_000, ~0u, ~0u, TestName = "Seeded_random_traffic_matches_the_reference(64,100000)")]
    [TestCase(32, 20_000, ~0u, ~0u, TestName = "Seeded_random_traffic_matches_the_reference(32,20000)")]
    [TestCase(64, 10_000, 0x5555_5555u, 0x0F0F_F001u, TestName = "Seeded_random_traffic_with_egress_back_pressure(64,10000)")]
    public void Seeded_random_traffic_matches_the_reference(int dataWidth, int inputs, uint txReady0, uint txReady1)
    {
        int seed = CosimHarness.SeedFromEnvironment(1000 + dataWidth + (txReady0 == ~0u ? 0 : 1));
        using var h = CosimHarness.Create(dataWidth, seed);
        var rng = new Random(seed);
        var gen = new TrafficGenerator(rng);
        h.Start(g => gen.BuildConfig(g));
        // Egress tready patterns (bit c % 32 on cycle c): back-pressure must delay frames, never lose or change them.
        h.Model.SetTxReady(0, txReady0);
        h.Model.SetTxReady(1, txReady1);
        h.CompareCountersOnFlush = true;
        var paths = new Dictionary<string, int>();
        var clock = Stopwatch.StartNew();

        for (int n = 0; n < inputs; n++)
        {
            var item = gen.Next();
            ProcessResult r;
            if (item.RawCommit >= 0)
            {
                r = h.HostTransmitRaw(item.Frame, item.RawCommit);
            }
            else if (item.HostTx)
            {
                byte[] frame = h.FitsHostTx(item.Frame.Length) ? item.Frame : item.Frame[..1518];
                r = h.SendHost(item.Port, frame);
            }
            else
            {
                r = h.Send(item.Port, item.Frame);
            }
            string path = PathKind(r);
            paths[path] = paths.GetValueOrDefault(path) + 1;
        }
        h.Flush();
        h.CompareCounters("at the end ");
        h.CompareArpCounters();

        var report = new StringBuilder();
        report.AppendLine(CultureInfo.InvariantCulture,
            $"DATA_W={dataWidth} seed {seed}: {inputs} inputs, {h.OutputsCompared} outputs compared, {h.CyclesRun} cycles, {clock.Elapsed.TotalSeconds:F1} s");
        report.AppendLine("inputs by kind: " + string.Join(", ", gen.Kinds.OrderBy(k => k.Key).Select(k => $"{k.Key} {k.Value}")));
        report.AppendLine("paths taken: " + string.Join(", ", paths.OrderBy(k => k.Key).Select(k => $"{k.Key} {k.Value}")));
        TestContext.Out.Write(report.ToString());

        // The run must have exercised every outcome, or it proves less than it claims.
        Assert.Multiple(() =>
        {
            foreach (int c in new[] { CntDropRunt, CntDropOversize, CntDropMalformed, CntDropBadCsum, CntDropNotForUs, CntPunt, CntFtHit, CntFtMiss, CntArpReplies, CntTtlExpired, CntFinRst, CntTxFrames })
                Assert.That(h.Reference.Counter(0, c) + h.Reference.Counter(1, c), Is.Positive, $"counter {c} never moved");
            Assert.That(h.Reference.GlobalCounter(CntGlobalHostTxFrames), Is.Positive);
            Assert.That(h.Reference.GlobalCounter(CntGlobalHostTxDrops), Is.Positive);
            foreach (string path in new[] { "punt MISS", "punt TTL", "punt ARP", "punt BCAST", "punt EXCEPTION", "punt PROTO", "punt OTHER", "arp reply + copy", "hit + FIN_RST" })
                Assert.That(paths.ContainsKey(path), Is.True, $"no input took the path '{path}'");
        });
    }

    private static readonly string[] DropNames =
    [
        "", "", "", "", "DROP_RUNT", "DROP_OVERSIZE", "DROP_MALFORMED", "DROP_BAD_CSUM", "DROP_NOT_FOR_US",
    ];

    /// <summary>The path without its details: "punt MISS", "drop DROP_BAD_CSUM", "hit", "arp reply + copy".</summary>
    private static string PathKind(ProcessResult r)
    {
        string path = r.Path;
        if (path.StartsWith("host tx", StringComparison.Ordinal))
            return r.Dropped ? "host tx dropped" : "host tx";
        if (r.Dropped)
            return "drop " + DropNames[r.DropCounter];
        if (path.StartsWith("punt ", StringComparison.Ordinal))
            return path[..path.IndexOf(':', StringComparison.Ordinal)];
        if (path.StartsWith("hit", StringComparison.Ordinal))
            return path.Contains("FIN_RST", StringComparison.Ordinal) ? "hit + FIN_RST" : "hit";
        if (path.StartsWith("arp reply", StringComparison.Ordinal))
            return path.EndsWith("+ copy", StringComparison.Ordinal) ? "arp reply + copy" : "arp reply";
        return path;
    }
}
