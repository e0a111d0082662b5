using System.Collections.Concurrent;
using System.Net;
using Offload.Device.Transports;
using Offload.Device.Transports.Usb;

namespace Offload.Device.Tests;

public enum TransportKind
{
    /// <summary>The in-process model, called directly.</summary>
    Model,

    /// <summary>The same model behind a <see cref="DeviceServer"/> on loopback, reached through <see cref="TcpDevice"/>.</summary>
    Tcp,

    /// <summary>
    /// <see cref="PcieDevice"/> over the model's AXI4-Lite slave (<c>ofl_axil_csr</c>): each register access of the
    /// PCIe transport is one AXI4-Lite transaction into the RTL a board has behind its PCIe bridge.
    /// </summary>
    Pcie,

    /// <summary>
    /// <see cref="UsbDevice"/> through a <see cref="SoftFtdi"/>: the USB transport's exact MPSSE bytes drive a software
    /// FTDI whose SPI pins drive the model's SPI bridge (<c>ofl_spi_csr</c>), as a cable drives a small board.
    /// </summary>
    Usb,
}

/// <summary>
/// One contract, every transport that runs here: what the control plane relies on from a device must hold the same
/// whichever carries the registers. New transports join by adding a <see cref="TransportKind"/>.
/// </summary>
[TestFixture(TransportKind.Model)]
[TestFixture(TransportKind.Tcp)]
[TestFixture(TransportKind.Pcie)]
[TestFixture(TransportKind.Usb)]
[Category("Model")]
public class TransportContractTests(TransportKind kind)
{
    private static readonly MacAddress Port0Mac = MacAddress.Parse("02:00:00:00:00:10");
    private static readonly MacAddress Port1Mac = MacAddress.Parse("02:00:00:00:00:11");
    private static readonly MacAddress Host = MacAddress.Parse("02:aa:00:00:00:01");
    private static readonly MacAddress Backend = MacAddress.Parse("02:bb:00:00:00:03");

    private ModelDevice _model = null!;
    private DeviceServer? _server;
    private ModelAxilWindow? _window;
    private IDevice _device = null!;
    private Dataplane _dp = null!;

    [SetUp]
    public void SetUp()
    {
        _model = ModelDevice.Create(64);
        if (kind == TransportKind.Tcp)
        {
            _server = new DeviceServer(_model, new IPEndPoint(IPAddress.Loopback, 0));
            _device = TcpDevice.Connect("127.0.0.1", _server.LocalEndPoint.Port, TimeSpan.FromSeconds(30));
        }
        else if (kind == TransportKind.Pcie)
        {
            _window = new ModelAxilWindow(_model);
            _device = new PcieDevice(_window, "pcie:model");
        }
        else if (kind == TransportKind.Usb)
        {
            _device = UsbDevice.Open(new SoftFtdi(_model));
        }
        else
        {
            _device = _model;
        }
        _dp = new Dataplane(_device);
    }

    [TearDown]
    public void TearDown()
    {
        // The PCIe transport never sends an access the slave must refuse; a read that got one would have been all ones.
        long errors = _window?.ErrorResponses ?? 0;
        // For the model transport _device is _model: disposing it twice is harmless.
        _device?.Dispose();
        _window?.Dispose();
        _server?.Dispose();
        _model?.Dispose();
        Assert.That(errors, Is.Zero, "AXI4-Lite error responses");
    }

    [Test]
    public void Geometry_and_version_are_the_register_maps()
    {
        var g = _dp.ReadGeometry();
        Assert.That((g.DataWidth, g.TotalEntries, _dp.Version), Is.EqualTo((64, 8196, RegConst.VersionValue)));
        Assert.That(_dp.Transport, Is.EqualTo(kind switch { TransportKind.Tcp => "tcp", TransportKind.Pcie => "pcie", TransportKind.Usb => "usb", _ => "model" }));
    }

    [Test]
    public void A_batch_runs_in_order_and_each_read_comes_back_at_its_own_index()
    {
        CsrOp[] ops =
        [
            CsrOp.Write(Reg.Scratch, 1), CsrOp.Read(Reg.Scratch), CsrOp.Write(Reg.Scratch, 2), CsrOp.Read(Reg.Scratch), CsrOp.Read(Reg.Id),
            CsrOp.Write(Reg.VmacLo, 0x1234_5678), CsrOp.Write(Reg.VmacLo + Reg.VmacLoStride, 0x9ABC_DEF0),
            CsrOp.Read(Reg.VmacLo), CsrOp.Read(Reg.VmacLo + Reg.VmacLoStride),
        ];
        var r = new uint[ops.Length];
        _device.Batch(ops, r);
        Assert.That(r, Is.EqualTo(new uint[] { 0, 1, 0, 2, RegConst.IdValue, 0, 0, 0x1234_5678, 0x9ABC_DEF0 }));
        _device.Write(Reg.Scratch, 77);
        Assert.That(_device.Read(Reg.Scratch), Is.EqualTo(77));
    }

    [Test]
    public void A_whole_configuration_goes_out_and_reads_back()
    {
        var g = _dp.ReadGeometry();
        var cfg = new DataplaneConfig(g);
        cfg.PortMacs[0] = Port0Mac;
        cfg.PortMacs[1] = Port1Mac;
        for (int i = 0; i < g.Vmacs; i++)
            cfg.Vmacs[i] = MacAddress.Glbp(1, (byte)(i + 1));
        for (int i = 0; i < g.NextHops; i++)
            cfg.NextHops[i] = new NextHop((byte)(i & 1), new MacAddress(0x02BB_0000_0000UL + (ulong)i), Port1Mac);
        // Every flow entry is written (invalidated) too: tens of thousands of accesses, more than one request can carry.
        _dp.Apply(cfg);
        Assert.That(_dp.ReadVmacs(), Is.EqualTo(cfg.Vmacs));
        for (int i = 0; i < g.NextHops; i += 37)
            Assert.That(_dp.ReadNextHop(i), Is.EqualTo(cfg.NextHops[i]), $"next hop {i}");
    }

    [Test]
    public void Flow_inserts_leave_the_hardware_equal_to_the_shadow()
    {
        var g = _dp.ReadGeometry();
        var ftm = new FlowTableManager(_dp, g, FlowTableStart.Clear);
        foreach (var key in TestKeys.Random(3000, seed: 11))
            ftm.Insert(key, new FlowAction(NextHop: 3, TtlDecrement: true));
        Assert.That(ftm.VerifyAgainstHardware(), Is.Empty);
        Assert.That(new FlowTableManager(_dp, g, FlowTableStart.Load).Count, Is.EqualTo(3000), "read back by a new manager");
    }

    [Test]
    public void Host_frames_cross_both_ways()
    {
        var g = _dp.ReadGeometry();
        var cfg = new DataplaneConfig(g);
        cfg.PortMacs[0] = Port0Mac;
        cfg.PortMacs[1] = Port1Mac;
        _dp.Apply(cfg);
        var key = new FlowKey(0, 0x0A00_0001, 0x0A00_0064, 6, 40000, 80);
        var miss = Packets.Ipv4(Port0Mac, Host, key, payload: 301);
        _model.PushFrame(0, miss);
        _model.RunUntilIdle(100_000);
        var buf = new byte[g.MaxFrame];
        Assert.That(_dp.TryReceiveHost(buf, out var meta, out int len), Is.True);
        Assert.That((meta.Reason, buf.AsSpan(0, len).ToArray()), Is.EqualTo((HostReason.Miss, miss)));
        Assert.That(_dp.TryReceiveHost(buf, out _, out _), Is.False);

        var out1 = Packets.Ipv4(Backend, Port1Mac, key, payload: 77);
        Assert.That(_dp.SendHost(1, out1), Is.True);
        _model.RunUntilIdle(100_000);
        var sent = new byte[g.MaxFrame];
        int n = _model.PopFrame(1, sent);
        Assert.That(sent.AsSpan(0, Math.Max(n, 0)).ToArray(), Is.EqualTo(out1));
    }

    [Test]
    public void Callers_on_many_threads_are_serialized_by_the_owner_while_the_clock_runs()
    {
        const int threads = 4;
        const int perThread = 60;
        var g = _dp.ReadGeometry();
        var cfg = new DataplaneConfig(g);
        cfg.PortMacs[1] = Port1Mac;
        _dp.Apply(cfg);
        var left = new ConcurrentBag<byte[]>();
        using var all = new CountdownEvent(threads * perThread);
        using (var clock = ModelClock.Start(_model, (port, frame) =>
        {
            if (port == 1)
            {
                left.Add(frame.ToArray());
                all.Signal();
            }
        }))
        {
            using var stop = new CancellationTokenSource();
            // A reader of tables and counters beside the senders, as API views are beside the loop.
            var reader = Task.Run(() =>
            {
                while (!stop.IsCancellationRequested)
                {
                    _dp.ReadCounters();
                    _dp.ReadVmacs();
                }
            });
            var senders = Enumerable.Range(0, threads).Select(t => Task.Run(() =>
            {
                for (int i = 0; i < perThread; i++)
                {
                    var key = new FlowKey(1, (uint)(t + 1), (uint)i, 17, 1000, 2000);
                    var frame = Packets.Ipv4(Backend, Port1Mac, key, payload: 20 + ((t * perThread) + i) % 200);
                    // The queue fills while the clock drains it: try again once it has run.
                    while (!_dp.SendHost(1, frame))
                        Thread.Sleep(1);
                }
            })).ToArray();
            // A guard against a hang, not a performance assertion.
            Assert.That(Task.WaitAll(senders, TimeSpan.FromMinutes(2)), Is.True, "every sender finished");
            Assert.That(all.Wait(TimeSpan.FromMinutes(2)), Is.True, $"{left.Count} of {threads * perThread} frames left port 1");
            stop.Cancel();
            reader.Wait();
            Assert.That(clock.Fault, Is.Null);
        }
        var expected = Enumerable.Range(0, threads).SelectMany(t => Enumerable.Range(0, perThread).Select(i =>
            Convert.ToHexString(Packets.Ipv4(Backend, Port1Mac, new FlowKey(1, (uint)(t + 1), (uint)i, 17, 1000, 2000), payload: 20 + ((t * perThread) + i) % 200))));
        Assert.That(left.Select(Convert.ToHexString), Is.EquivalentTo(expected), "every frame whole, none mixed with another");
        Assert.That(_dp.ReadCounters().HostTxFrames, Is.EqualTo((ulong)(threads * perThread)));
    }
}
