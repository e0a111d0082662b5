using System.Buffers.Binary;
using System.Globalization;
using System.Text;
using Offload.Device;
using Offload.HwModel;
using Offload.Reference;

namespace Offload.Cosim.Tests;

/// <summary>
/// Drives the Verilator model and the reference pipeline with the same inputs and compares what comes out.
/// Outputs from different sources (ingress port 0, port 1, the host TX queue) may interleave at a destination,
/// so each actual output is matched against the heads of the expected per-source queues for its destination;
/// within one source the order must be exact.
/// </summary>
internal sealed class CosimHarness : IDisposable
{
    public const int HostSource = 2;
    private const int MaxFrameBuffer = 16384;

    private static readonly string[] CounterNames =
    [
        "RX_FRAMES", "RX_BYTES", "TX_FRAMES", "TX_BYTES", "DROP_RUNT", "DROP_OVERSIZE", "DROP_MALFORMED", "DROP_BAD_CSUM",
        "DROP_NOT_FOR_US", "DROP_HOST_FULL", "PUNT", "FT_HIT", "FT_MISS", "ARP_REPLIES", "TTL_EXPIRED", "FIN_RST",
    ];

    private readonly Queue<Expected>[,] _expected = new Queue<Expected>[3, 3];
    private readonly byte[] _buffer = new byte[MaxFrameBuffer];
    private int _hostBytesPending;
    private int _framesPending;

    private CosimHarness(ModelDevice device, int seed)
    {
        Device = device;
        Seed = seed;
        Dataplane = new Dataplane(device);
        for (int d = 0; d < 3; d++)
        {
            for (int s = 0; s < 3; s++)
                _expected[d, s] = new Queue<Expected>();
        }
    }

    public ModelDevice Device { get; }

    public HwModel.HwModel Model => Device.Model;

    public Dataplane Dataplane { get; private set; }

    public ReferencePipeline Reference { get; private set; } = null!;

    public DataplaneConfig Config => Reference.Config;

    public DataplaneGeometry Geometry => Dataplane.Geometry;

    public int Seed { get; }

    /// <summary>Inputs so far (frames and host TX commits); numbers outputs in failure messages.</summary>
    public int FrameNumber { get; private set; }

    /// <summary>Frames pushed per <see cref="Flush"/> at most.</summary>
    public int BatchSize { get; set; } = 256;

    public ulong CyclesRun { get; private set; }

    public int OutputsCompared { get; private set; }

    /// <summary>Creates the model of <paramref name="dataWidth"/>; fails the test (never skips) when it is missing.</summary>
    public static CosimHarness Create(int dataWidth, int seed = 0)
    {
        ModelDevice device;
        try
        {
            device = ModelDevice.Create(dataWidth);
        }
        catch (DllNotFoundException e)
        {
            Assert.Fail($"The Verilator model for DATA_W={dataWidth} is missing, so co-simulation cannot run: {e.Message}");
            throw;
        }
        return new CosimHarness(device, seed);
    }

    /// <summary>The seed for random tests: OFFLOAD_SEED if set, else <paramref name="fallback"/>; printed either way.</summary>
    public static int SeedFromEnvironment(int fallback)
    {
        string? text = Environment.GetEnvironmentVariable("OFFLOAD_SEED");
        int seed = string.IsNullOrWhiteSpace(text) ? fallback : int.Parse(text, CultureInfo.InvariantCulture);
        TestContext.Out.WriteLine($"OFFLOAD_SEED={seed}" + (string.IsNullOrWhiteSpace(text) ? " (default; set OFFLOAD_SEED to change)" : ""));
        return seed;
    }

    /// <summary>Resets the model, loads the configuration built for its geometry, and starts a fresh reference.</summary>
    public DataplaneConfig Start(Func<DataplaneGeometry, DataplaneConfig> build)
    {
        Model.Reset();
        // A new Dataplane: the old one caches host-queue state from before the reset.
        Dataplane = new Dataplane(Device);
        var config = build(Dataplane.ReadGeometry());
        Dataplane.Apply(config);
        ClearArpCounters();
        Reference = new ReferencePipeline(config);
        foreach (var q in _expected)
            q.Clear();
        _hostBytesPending = 0;
        _framesPending = 0;
        FrameNumber = 0;
        return config;
    }

    /// <summary>
    /// The contract does not say reset clears the ARP counter memory, so every counter is written to 0
    /// (ARPCNT_DATA writes auto-increment the address).
    /// </summary>
    public void ClearArpCounters()
    {
        var ops = new CsrOp[(Geometry.Groups * 256) + 1];
        ops[0] = CsrOp.Write(Reg.ArpcntAddr, 0);
        for (int i = 1; i < ops.Length; i++)
            ops[i] = CsrOp.Write(Reg.ArpcntData, 0);
        Device.Batch(ops, default);
    }

    /// <summary>Compare every counter after each flush, so a counter mismatch is pinned to a batch.</summary>
    public bool CompareCountersOnFlush { get; set; }

    /// <summary>True when a frame of <paramref name="length"/> bytes fits the host TX queue (HOST_TX_DEPTH words of DATA_W).</summary>
    public bool FitsHostTx(int length) =>
        HostMetadata.Size + length + 4 + (Geometry.DataWidth / 8) <= Geometry.HostTxDepth * (Geometry.DataWidth / 8);

    /// <summary>Bytes the host RX queue can hold: HOST_RX_DEPTH words of DATA_W.</summary>
    public int HostQueueBytes => Geometry.HostRxDepth * (Geometry.DataWidth / 8);

    private int HostEntryBytes(int frameLength)
    {
        int w = Geometry.DataWidth / 8;
        return ((HostMetadata.Size + frameLength + w - 1) / w) * w;
    }

    /// <summary>
    /// Sends one frame into ingress <paramref name="port"/> of both the model and the reference. Flushes first
    /// when the batch is full or the host RX queue could overflow (the reference assumes it never does).
    /// </summary>
    public ProcessResult Send(int port, byte[] frame)
    {
        // An input puts at most one frame-sized entry in the host queue (a punt or an ARP copy; a FIN/RST
        // event is smaller). Flush before the reference sees the frame, so counters compared at the flush
        // cover the same inputs on both sides.
        int hostBytes = HostEntryBytes(frame.Length);
        if (_framesPending >= BatchSize || _hostBytesPending + hostBytes > HostQueueBytes / 2)
            Flush();
        int n = FrameNumber++;
        var result = Reference.Process(port, frame);
        foreach (var o in result.Outputs)
            _expected[o.Port, port].Enqueue(new Expected(n, port, frame, o, result.Path));
        Model.PushFrame(port, frame);
        _hostBytesPending += hostBytes;
        _framesPending++;
        return result;
    }

    /// <summary>Sends a frame through the host TX queue (<c>Dataplane.SendHost</c>) and the reference.</summary>
    public ProcessResult SendHost(int port, byte[] frame)
    {
        int n = FrameNumber++;
        if (!Dataplane.SendHost(port, frame))
        {
            Flush();
            Assert.That(Dataplane.SendHost(port, frame), Is.True, $"seed {Seed} input #{n}: the host TX queue has no room even when idle");
        }
        var result = Reference.SendHost(port, frame);
        foreach (var o in result.Outputs)
            _expected[o.Port, HostSource].Enqueue(new Expected(n, HostSource, frame, o, result.Path));
        _framesPending++;
        return result;
    }

    /// <summary>
    /// Writes <paramref name="written"/> to HOST_TX_DATA (4 bytes per write, first byte in bits 31..24) and
    /// <paramref name="commit"/> to HOST_TX_COMMIT, bypassing Dataplane's checks, for invalid commits.
    /// </summary>
    public ProcessResult HostTransmitRaw(byte[] written, int commit)
    {
        if (written.Length % 4 != 0)
            throw new ArgumentException("HOST_TX_DATA takes 4 bytes per write", nameof(written));
        int n = FrameNumber++;
        var ops = new CsrOp[(written.Length / 4) + 1];
        for (int i = 0; i < written.Length / 4; i++)
            ops[i] = CsrOp.Write(Reg.HostTxData, BinaryPrimitives.ReadUInt32BigEndian(written.AsSpan(i * 4)));
        ops[^1] = CsrOp.Write(Reg.HostTxCommit, (uint)commit);
        Device.Batch(ops, default);
        var result = Reference.HostTransmit(written, commit);
        foreach (var o in result.Outputs)
            _expected[o.Port, HostSource].Enqueue(new Expected(n, HostSource, written, o, result.Path));
        _framesPending++;
        return result;
    }

    /// <summary>Runs the model until idle, then takes every output and matches it against the expected ones.</summary>
    public void Flush(ulong maxCycles = 20_000_000)
    {
        ulong ran = Model.RunUntilIdle(maxCycles);
        CyclesRun += ran;
        if (ran >= maxCycles)
            Assert.Fail($"seed {Seed}: the model did not go idle within {maxCycles} cycles (after input #{FrameNumber - 1})");
        while (Dataplane.TryReceiveHost(_buffer, out HostFrame meta, out int length))
        {
            var actual = new HostMetadata((byte)meta.Reason, meta.IngressPort, meta.Length, meta.Aux);
            Match(PipelineOutput.Host, _buffer.AsSpan(0, length), actual);
        }
        for (int p = 0; p < 2; p++)
        {
            int length;
            while ((length = Model.PopFrame(p, _buffer)) >= 0)
                Match(p, _buffer.AsSpan(0, length), null);
        }
        var missing = new StringBuilder();
        for (int d = 0; d < 3; d++)
        {
            for (int s = 0; s < 3; s++)
            {
                foreach (var e in _expected[d, s].Take(3))
                    missing.AppendLine(CultureInfo.InvariantCulture, $"  to {DestName(d)}: {e.Describe()}");
                if (_expected[d, s].Count > 3)
                    missing.AppendLine(CultureInfo.InvariantCulture, $"  ... and {_expected[d, s].Count - 3} more from {SourceName(s)} to {DestName(d)}");
            }
        }
        if (missing.Length > 0)
            Assert.Fail($"seed {Seed}: the model did not produce these expected outputs:\n{missing}");
        _hostBytesPending = 0;
        _framesPending = 0;
        if (CompareCountersOnFlush)
            CompareCounters();
    }

    private void Match(int destination, ReadOnlySpan<byte> frame, HostMetadata? metadata)
    {
        Expected? best = null;
        int bestSource = -1;
        for (int s = 0; s < 3; s++)
        {
            if (_expected[destination, s].TryPeek(out var head) && head.Output.Metadata == metadata
                && frame.SequenceEqual(head.Output.Frame) && (best is null || head.Number < best.Number))
            {
                best = head;
                bestSource = s;
            }
        }
        if (best is not null)
        {
            _expected[destination, bestSource].Dequeue();
            OutputsCompared++;
            return;
        }
        var sb = new StringBuilder();
        sb.AppendLine(CultureInfo.InvariantCulture, $"seed {Seed}: an output on {DestName(destination)} matches none of the expected ones.");
        sb.AppendLine(CultureInfo.InvariantCulture, $"  model     : {(metadata is null ? "" : $"[{metadata}] ")}{frame.Length} bytes {Convert.ToHexString(frame)}");
        bool any = false;
        for (int s = 0; s < 3; s++)
        {
            if (!_expected[destination, s].TryPeek(out var head))
                continue;
            any = true;
            int diff = FirstDifference(frame, head.Output.Frame);
            sb.AppendLine(CultureInfo.InvariantCulture, $"  reference : {head.Describe()}");
            string bytes = diff < 0 ? "bytes equal" : $"first differing byte {diff} (model 0x{At(frame, diff)}, reference 0x{At(head.Output.Frame, diff)})";
            sb.AppendLine(CultureInfo.InvariantCulture, $"              {(head.Output.Metadata == metadata ? "metadata equal" : "metadata differs")}, {bytes}");
            sb.AppendLine(CultureInfo.InvariantCulture, $"              input frame on {SourceName(s)}: {Convert.ToHexString(head.Input)}");
        }
        if (!any)
            sb.AppendLine("  the reference expected nothing more on this destination");
        Assert.Fail(sb.ToString());
    }

    private static string At(ReadOnlySpan<byte> b, int i) => i < b.Length ? b[i].ToString("x2", CultureInfo.InvariantCulture) : "--";

    private static int FirstDifference(ReadOnlySpan<byte> a, ReadOnlySpan<byte> b)
    {
        int n = Math.Min(a.Length, b.Length);
        for (int i = 0; i < n; i++)
        {
            if (a[i] != b[i])
                return i;
        }
        return a.Length == b.Length ? -1 : n;
    }

    /// <summary>Reads every counter from the model and compares it with the reference; all differences in one failure.</summary>
    public void CompareCounters(string when = "")
    {
        var c = Dataplane.ReadCounters();
        var sb = new StringBuilder();
        for (int p = 0; p < 2; p++)
        {
            for (int i = 0; i < RegConst.CntPortCount; i++)
            {
                ulong model = c.Port(p)[i];
                ulong reference = Reference.Counter(p, i);
                if (model != reference)
                    sb.AppendLine(CultureInfo.InvariantCulture, $"  port {p} {CounterNames[i]}: model {model}, reference {reference}");
            }
        }
        if (c.HostTxFrames != Reference.GlobalCounter(RegConst.CntGlobalHostTxFrames))
            sb.AppendLine(CultureInfo.InvariantCulture, $"  HOST_TX_FRAMES: model {c.HostTxFrames}, reference {Reference.GlobalCounter(RegConst.CntGlobalHostTxFrames)}");
        if (c.HostTxDrops != Reference.GlobalCounter(RegConst.CntGlobalHostTxDrops))
            sb.AppendLine(CultureInfo.InvariantCulture, $"  HOST_TX_DROPS: model {c.HostTxDrops}, reference {Reference.GlobalCounter(RegConst.CntGlobalHostTxDrops)}");
        if (sb.Length > 0)
            Assert.Fail($"seed {Seed}: counters differ {when}(after {FrameNumber} inputs):\n{sb}");
    }

    /// <summary>Compares the per-forwarder ARP reply counters of every configured group.</summary>
    public void CompareArpCounters()
    {
        var sb = new StringBuilder();
        for (int g = 0; g < Config.Groups.Length; g++)
        {
            if (Config.Groups[g] is not { } grp)
                continue;
            foreach (int f in grp.Slots.Select(x => (int)x).Append(0).Distinct().Order())
            {
                uint model = Dataplane.ReadArpCounter(g, f);
                uint reference = Reference.ArpCounter(g, f);
                if (model != reference)
                    sb.AppendLine(CultureInfo.InvariantCulture, $"  group {g} forwarder {f}: model {model}, reference {reference}");
            }
        }
        if (sb.Length > 0)
            Assert.Fail($"seed {Seed}: ARP reply counters differ:\n{sb}");
    }

    /// <summary>Flushes and compares every counter and the ARP counters.</summary>
    public void Check()
    {
        Flush();
        CompareCounters();
        CompareArpCounters();
    }

    public FlowEntryState ReadEntry(int index)
    {
        var ops = new List<CsrOp>();
        FlowEntryCodec.AddRead(ops, index);
        var r = new uint[ops.Count];
        Device.Batch(ops.ToArray(), r);
        return FlowEntryCodec.Decode(r);
    }

    public void Dispose() => Device.Dispose();

    private static string DestName(int d) => d == PipelineOutput.Host ? "the host RX queue" : $"port {d}";

    private static string SourceName(int s) => s == HostSource ? "host TX" : $"port {s}";

    private sealed record Expected(int Number, int Source, byte[] Input, PipelineOutput Output, string Path)
    {
        public string Describe() =>
            $"input #{Number} from {SourceName(Source)} ({Path}): " +
            (Output.Metadata is { } m ? $"[{m}] " : "") + $"{Output.Frame.Length} bytes {Convert.ToHexString(Output.Frame)}";
    }
}
