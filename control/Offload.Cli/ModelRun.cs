using System.Globalization;
using Offload.Device;
using Offload.Reference;

namespace Offload.Cli;

/// <summary>
/// Runs frames through the Verilator model and the reference model side by side, the way the demo and
/// `offload sim` use them: inputs go in from one source at a time, so each destination's outputs come in
/// a fixed order and are compared in sequence. The host queue is drained after every batch so it never
/// fills (a full queue drops by design, which the reference model does not predict).
/// </summary>
internal sealed class ModelRun : IDisposable
{
    private const int Batch = 64;
    private readonly byte[] _buffer = new byte[16384];
    private readonly List<PipelineOutput> _expected = [];
    private int _pending;

    public ModelRun(int width, DataplaneConfig? config = null, Func<DataplaneGeometry, DataplaneConfig>? build = null)
    {
        Device = ModelDevice.Create(width);
        Dataplane = new Dataplane(Device);
        Config = config ?? build?.Invoke(Dataplane.Geometry) ?? new DataplaneConfig(Dataplane.Geometry);
        Dataplane.Apply(Config);
        Flows = new FlowTableManager(Device, Dataplane.Geometry, FlowTableStart.Load);
        Reference = new ReferencePipeline(Config);
    }

    public ModelDevice Device { get; }

    public Dataplane Dataplane { get; }

    public DataplaneConfig Config { get; }

    public FlowTableManager Flows { get; }

    public ReferencePipeline Reference { get; }

    /// <summary>Everything the model emitted, in order per destination (0, 1, host = 2).</summary>
    public List<PipelineOutput> Outputs { get; } = [];

    public int Compared { get; private set; }

    public string? FirstMismatch { get; private set; }

    public ulong Cycles => Device.Model.Cycles;

    /// <summary>Installs a flow in the hardware table and the reference model's copy of it.</summary>
    public int Install(FlowKey key, FlowAction action)
    {
        int index = Flows.Insert(key, action);
        Config.Flows.Clear();
        Flows.CopyTo(Config);
        return index;
    }

    public void WriteNextHop(int index, NextHop nh)
    {
        Config.NextHops[index] = nh;
        Dataplane.WriteNextHop(index, nh);
    }

    public IReadOnlyList<PipelineOutput> Send(int port, ReadOnlySpan<byte> frame)
    {
        Device.Model.PushFrame(port, frame);
        var result = Reference.Process(port, frame);
        _expected.AddRange(result.Outputs);
        if (++_pending >= Batch)
            Flush();
        return result.Outputs;
    }

    public void SendHost(int port, ReadOnlySpan<byte> frame)
    {
        Flush();
        while (!Dataplane.SendHost(port, frame))
            Flush();
        _expected.AddRange(Reference.SendHost(port, frame).Outputs);
        _pending++;
    }

    /// <summary>Runs the model until nothing moves, collects every output and compares it with the reference.</summary>
    public IReadOnlyList<PipelineOutput> Flush()
    {
        var model = Device.Model;
        model.RunUntilIdle(200_000_000);
        var got = new List<PipelineOutput>();
        for (int p = 0; p < 2; p++)
        {
            int n;
            while ((n = model.PopFrame(p, _buffer)) >= 0)
                got.Add(PipelineOutput.ToPort(p, _buffer.AsSpan(0, n).ToArray()));
        }
        while (Dataplane.TryReceiveHost(_buffer, out var meta, out int len))
            got.Add(PipelineOutput.ToHost(new HostMetadata((byte)meta.Reason, meta.IngressPort, meta.Length, meta.Aux), _buffer.AsSpan(0, len).ToArray()));
        Compare(got);
        Outputs.AddRange(got);
        _expected.Clear();
        _pending = 0;
        return got;
    }

    private void Compare(List<PipelineOutput> got)
    {
        // Within one destination, outputs of one source keep their order; different sources may
        // interleave. Host entries name their source (ingress port); the callers never send frames from
        // both ports to the same network port in one batch.
        foreach (var stream in got.Concat(_expected).Select(StreamOf).Distinct().Order())
        {
            var g = got.Where(o => StreamOf(o) == stream).ToList();
            var e = _expected.Where(o => StreamOf(o) == stream).ToList();
            for (int i = 0; i < Math.Max(g.Count, e.Count); i++)
            {
                if (i >= g.Count || i >= e.Count || !Same(g[i], e[i]))
                {
                    FirstMismatch ??= string.Create(CultureInfo.InvariantCulture,
                        $"destination {Name(stream / 4)}, output {i}: model {(i < g.Count ? g[i].ToString() : "nothing")}, reference {(i < e.Count ? e[i].ToString() : "nothing")}");
                    return;
                }
                Compared++;
            }
        }
    }

    private static int StreamOf(PipelineOutput o) => (o.Port * 4) + (o.Metadata?.IngressPort ?? 3);

    private static bool Same(PipelineOutput a, PipelineOutput b) =>
        a.Port == b.Port && Equals(a.Metadata, b.Metadata) && a.Frame.AsSpan().SequenceEqual(b.Frame);

    public static string Name(int destination) => destination switch
    {
        0 => "port 0",
        1 => "port 1",
        _ => "host",
    };

    /// <summary>Counters of the model next to the reference model's, as (name, port 0, port 1, agree).</summary>
    public IEnumerable<(string Name, ulong Port0, ulong Port1, bool Agree)> Counters()
    {
        var c = Dataplane.ReadCounters();
        for (int i = 0; i < RegConst.CntPortCount; i++)
        {
            ulong a = c.Port0[i], b = c.Port1[i];
            yield return (CounterNames[i], a, b, a == Reference.Counter(0, i) && b == Reference.Counter(1, i));
        }
    }

    public static readonly string[] CounterNames =
    [
        "rx frames", "rx bytes", "tx frames", "tx bytes", "drop runt", "drop oversize", "drop malformed", "drop bad checksum",
        "drop not for us", "drop host full", "punted to host", "flow hits", "flow misses", "ARP replies", "TTL expired", "FIN/RST events",
    ];

    public void Dispose() => Device.Dispose();
}
