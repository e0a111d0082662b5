using System.Diagnostics;
using System.Net;
using Offload.Device;
using Offload.Device.Transports;
using Offload.Protocol;

namespace Offload.Benchmarks.Device;

/// <summary>One transport's figures, batched or not (the JSON keys of `offload bench device`).</summary>
public sealed record TransportFigures(string Uri, bool Batched, double CsrOpsPerSecond, double FlowInsertsPerSecond, double MissFramesPerSecond);

/// <summary>What `offload bench device` prints.</summary>
public sealed record DeviceBenchResult(IReadOnlyList<TransportFigures> Transports, string Note);

/// <summary>
/// Register operations, flow inserts and miss-path frames per second through each transport that runs here: the
/// in-process model, and the same model served over TCP loopback in the command framing. Each figure is the median of
/// three runs; the model's own clock is not timed (frames are pushed and run to the host queue first), so the figures
/// are the transport's and the control plane's, not the RTL's.
/// </summary>
public static class DeviceBench
{
    private const int Runs = 3;
    private static readonly MacAddress Port0Mac = MacAddress.Parse("02:00:00:00:00:10");

    /// <param name="quick">A tenth of the work per figure (for tests; noisier).</param>
    /// <param name="progress">Told what runs now.</param>
    public static DeviceBenchResult Run(bool quick = false, Action<string>? progress = null)
    {
        int scale = quick ? 10 : 1;
        var rows = new List<TransportFigures>();
        foreach (string kind in new[] { "model", "tcp" })
        {
            progress?.Invoke($"{kind}: register accesses, flow inserts, miss frames");
            using var model = ModelDevice.Create(64);
            using var server = kind == "tcp" ? new DeviceServer(model, new IPEndPoint(IPAddress.Loopback, 0)) : null;
            using var remote = server is null ? null : TcpDevice.Connect("127.0.0.1", server.LocalEndPoint.Port, TimeSpan.FromSeconds(30));
            IDevice device = remote ?? (IDevice)model;
            string uri = server?.Uri ?? "model:";
            var dp = new Dataplane(device);
            var g = dp.ReadGeometry();
            var cfg = new DataplaneConfig(g);
            cfg.PortMacs[0] = Port0Mac;
            dp.Apply(cfg);

            double single = Median(() => CsrOps(dp, batch: 1, total: (kind == "tcp" ? 20_000 : 200_000) / scale));
            double batched = Median(() => CsrOps(dp, batch: 1000, total: 1_000_000 / scale));
            double insertOne = Median(() => Inserts(dp, g, 4000 / scale, batched: false));
            double insertMany = Median(() => Inserts(dp, g, 4000 / scale, batched: true));
            double miss = Median(() => MissFrames(dp, model, g, 2000 / scale));
            rows.Add(new TransportFigures(uri, false, single, insertOne, miss));
            rows.Add(new TransportFigures(uri, true, batched, insertMany, miss));
        }
        return new DeviceBenchResult(rows,
            "USB (software FTDI) and PCIe rows come with those transports; a miss-path frame is one or two exchanges whatever the batching");
    }

    private static double Median(Func<double> run)
    {
        var v = new double[Runs];
        for (int i = 0; i < Runs; i++)
            v[i] = run();
        Array.Sort(v);
        return v[Runs / 2];
    }

    private static double CsrOps(Dataplane dp, int batch, int total)
    {
        var ops = new CsrOp[batch];
        Array.Fill(ops, CsrOp.Read(Reg.Scratch));
        var results = new uint[batch];
        var sw = Stopwatch.StartNew();
        for (int done = 0; done < total; done += batch)
            dp.Batch(ops, results);
        return total / sw.Elapsed.TotalSeconds;
    }

    private static double Inserts(Dataplane dp, DataplaneGeometry g, int n, bool batched)
    {
        var ftm = new FlowTableManager(dp, g, FlowTableStart.Clear);
        var rng = new Random(n);
        var flows = new (FlowKey, FlowAction)[n];
        for (int i = 0; i < n; i++)
            flows[i] = (new FlowKey(0, 0x0A00_0000u | (uint)i, 0xC0A8_0000u | (uint)rng.Next(1 << 16), 6, (ushort)rng.Next(1024, 65535), 80), new FlowAction(NextHop: 1));
        var sw = Stopwatch.StartNew();
        if (batched)
        {
            // In chunks of 256, as a classifier installs a burst of new connections.
            for (int i = 0; i < n; i += 256)
                ftm.InsertMany(flows.AsSpan(i, Math.Min(256, n - i)).ToArray());
        }
        else
        {
            foreach (var (k, a) in flows)
                ftm.Insert(k, a);
        }
        return n / sw.Elapsed.TotalSeconds;
    }

    private static double MissFrames(Dataplane dp, ModelDevice model, DataplaneGeometry g, int total)
    {
        const int chunk = 16;
        var frames = new byte[chunk][];
        for (int i = 0; i < chunk; i++)
        {
            var eth = new EthernetHeader(Port0Mac.Value, 0x02AA_0000_0001UL);
            var ip = new Ipv4Header(0x0A00_0001u + (uint)i, 0x0A00_0064, 17);
            frames[i] = FrameBuilder.BuildUdp(eth, ip, 40000, 53, new byte[200]);
        }
        var buf = new byte[g.MaxFrame];
        var timed = new Stopwatch();
        int got = 0;
        while (got < total)
        {
            foreach (var f in frames)
                model.PushFrame(0, f);
            model.RunUntilIdle(1_000_000);
            timed.Start();
            while (dp.TryReceiveHost(buf, out _, out _))
                got++;
            timed.Stop();
        }
        return got / timed.Elapsed.TotalSeconds;
    }
}
