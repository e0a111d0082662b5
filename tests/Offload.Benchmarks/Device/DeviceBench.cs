using System.Diagnostics;
using System.Net;
using Offload.Device;
using Offload.Device.Flash;
using Offload.Device.Transports;
using Offload.Device.Transports.Usb;
using Offload.Protocol;

namespace Offload.Benchmarks.Device;

/// <summary>One transport's figures, batched or not (the JSON keys of `offload bench device`).</summary>
public sealed record TransportFigures(string Uri, bool Batched, double CsrOpsPerSecond, double FlowInsertsPerSecond, double MissFramesPerSecond);

/// <summary>What `offload bench device` prints.</summary>
public sealed record DeviceBenchResult(IReadOnlyList<TransportFigures> Transports, string Note, FlashFigures? Flash = null);

/// <summary>
/// A 1 MiB image programmed into a slot and read back whole through the SPI-flash controller into the model's flash:
/// model cycles, and what they are in seconds at a 100 MHz core clock (SCK 25 MHz). The model's flash busy times are
/// shortened (docs/dataplane.md); <see cref="DatasheetBusySeconds"/> adds what a W25Q32's typical page-program and
/// block-erase times would add on a board.
/// </summary>
public sealed record FlashFigures(int Bytes, ulong ProgramVerifyCycles, double SecondsAtSpiClock, double DatasheetBusySeconds, bool Verified);

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
        foreach (string kind in new[] { "model", "tcp", "usb" })
        {
            progress?.Invoke($"{kind}: register accesses, flow inserts, miss frames");
            using var model = ModelDevice.Create(64);
            using var server = kind == "tcp" ? new DeviceServer(model, new IPEndPoint(IPAddress.Loopback, 0)) : null;
            using IDevice? remote = server is not null ? TcpDevice.Connect("127.0.0.1", server.LocalEndPoint.Port, TimeSpan.FromSeconds(30))
                : kind == "usb" ? UsbDevice.Open(new SoftFtdi(model)) : null;
            IDevice device = remote ?? model;
            // the USB row runs through the software FTDI into the model's SPI bridge (co-simulation, SCK 10 MHz at a
            // 100 MHz core): its time is the simulator's, not a cable's
            string uri = server?.Uri ?? (kind == "usb" ? "usb:soft-ftdi" : "model:");
            int slow = kind == "usb" ? 20 : 1;
            var dp = new Dataplane(device);
            var g = dp.ReadGeometry();
            var cfg = new DataplaneConfig(g);
            cfg.PortMacs[0] = Port0Mac;
            dp.Apply(cfg);

            double single = Median(() => CsrOps(dp, batch: 1, total: (kind == "tcp" ? 20_000 : 200_000) / scale / slow));
            double batched = Median(() => CsrOps(dp, batch: 1000, total: 1_000_000 / scale / slow));
            double insertOne = Median(() => Inserts(dp, g, 4000 / scale / slow, batched: false));
            double insertMany = Median(() => Inserts(dp, g, 4000 / scale / slow, batched: true));
            double miss = Median(() => MissFrames(dp, model, g, 2000 / scale / slow));
            rows.Add(new TransportFigures(uri, false, single, insertOne, miss));
            rows.Add(new TransportFigures(uri, true, batched, insertMany, miss));
        }
        progress?.Invoke("flash: program and verify a 1 MiB image");
        var flash = FlashProgramVerify();
        return new DeviceBenchResult(rows,
            "usb:soft-ftdi is the USB transport's exact MPSSE bytes through a software FTDI into the model's SPI bridge (simulated time, not a cable's); " +
            "a PCIe row needs a board; a miss-path frame is one or two exchanges whatever the batching", flash);
    }

    /// <summary>A 1 MiB image into slot A of the model's flash through the controller, programmed and read back.</summary>
    public static FlashFigures FlashProgramVerify()
    {
        const int bytes = 1 << 20;
        using var model = ModelDevice.Create(64);
        var golden = new byte[4096];
        ((ReadOnlySpan<byte>)[0xFF, 0x00, 0x00, 0xFF, 0x7E, 0xAA, 0x99, 0x7E]).CopyTo(golden);
        model.Model.FlashLoad(0, FlashLayout.Factory(new FlashImage("bench", "golden", golden)));
        var payload = new byte[bytes - FlashImage.HeaderLength];
        new Random(1).NextBytes(payload);
        ((ReadOnlySpan<byte>)[0xFF, 0x00, 0x00, 0xFF, 0x7E, 0xAA, 0x99, 0x7E]).CopyTo(payload);
        var image = new FlashImage("bench", "1 MiB", payload);
        var updater = new FlashUpdater(new SpiFlash(model, () => model.Run(256)));
        ulong start = model.Cycles;
        var r = updater.Update(image, FlashSlot.A, "bench image");
        ulong cycles = model.Cycles - start;
        bool verified = updater.Verify(image, FlashSlot.A);
        // W25Q32 typical: 0.4 ms a page program, 150 ms a 64 KiB block erase
        double busy = (bytes / SpiFlash.PageSize * 0.0004) + (bytes / SpiFlash.BlockSize * 0.150);
        return new FlashFigures(r.Bytes, cycles, cycles / 100e6, busy, verified);
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
