using System.Buffers.Binary;
using Offload.Device;
using Offload.Testing.Simulation;

namespace Offload.Group.Tests.Simulation;

/// <summary>
/// The simulator's ARP responder emulation (<see cref="SimulatedPlane.Answer"/>) against the Verilator model of
/// the RTL: the slot table a converged group's Active wrote goes into the model's group table, hosts ARP through
/// both, and every reply must name the same forwarder. The simulation's host invariants and the benchmark's
/// distribution figures rest on this emulation.
/// </summary>
[Category("Model")]
public class ResponderModelTests
{
    private const uint HostIp = 0x0A00_0063;

    [TestCase(GlbpLoadBalancing.RoundRobin, 4)]
    [TestCase(GlbpLoadBalancing.Weighted, 3)]
    [TestCase(GlbpLoadBalancing.HostDependent, 4)]
    public void The_emulated_responder_answers_like_the_model(GlbpLoadBalancing mode, int members)
    {
        using var sim = new SegmentSimulator(new SegmentOptions { Seed = 301 });
        for (int box = 1; box <= members; box++)
        {
            byte weighting = (byte)(40 * box);
            sim.Join(box, o => o with { HelloTime = TimeSpan.FromSeconds(1), HoldTime = TimeSpan.FromSeconds(3), LoadBalancing = mode, Weighting = weighting });
        }
        sim.Run(TimeSpan.FromSeconds(15));
        var active = sim.Live().Single(m => m.State == GatewayState.Active);
        SimulatedPlane written = active.Plane;
        Assert.That(written.ArpEnabled, Is.True);
        Assert.That(written.Slots.ToArray().Distinct().Count(), Is.EqualTo(members), "every forwarder has slots");

        using var dev = ModelDevice.Create(64);
        var dp = new Dataplane(dev);
        var g = dp.ReadGeometry();
        var cfg = new DataplaneConfig(g);
        cfg.PortMacs[0] = MacAddress.Parse("02:0f:00:00:00:01");
        dp.Apply(cfg);
        var arpMode = mode == GlbpLoadBalancing.HostDependent ? ArpMode.HostDependent : ArpMode.RoundRobin;
        dp.WriteGroup(0, new GroupConfig(written.VirtualIp, written.Group, arpMode, CopyRequests: false, Enabled: true, written.Slots.ToArray()));

        // A plane written the same way starts its pointer where the model's CFG write left it: slot 0.
        var emulated = new SimulatedPlane();
        emulated.SetArpResponder(written.Group, written.VirtualIp, true, written.Slots, mode);

        var rng = new Random(302);
        var fromModel = new List<byte>();
        var fromEmulation = new List<byte>();
        for (int batch = 0; batch < 6; batch++)
        {
            var macs = new List<ulong>();
            for (int i = 0; i < 50; i++)
            {
                ulong mac = ((ulong)rng.NextInt64() & 0xFEFF_FFFF_FFFFUL) | 0x0200_0000_0000UL;
                macs.Add(mac);
                dev.Model.PushFrame(0, ArpRequest(new MacAddress(mac), written.VirtualIp));
                fromEmulation.Add(emulated.Answer(mac));
            }
            dev.Model.RunUntilIdle(1_000_000);
            int n = 0;
            while (dev.Model.PopFrame(0) is { } reply)
            {
                Assert.That(MacAddress.FromBytes(reply).Value, Is.EqualTo(macs[n++]), "replies leave in request order");
                var vmac = MacAddress.FromBytes(reply.AsSpan(6));
                Assert.That((vmac.Value >> 8) & 0x3FF, Is.EqualTo((ulong)written.Group));
                fromModel.Add((byte)vmac.Value);
            }
            Assert.That(n, Is.EqualTo(50), "one reply per request");
        }
        Assert.That(fromEmulation, Is.EqualTo(fromModel));
        Assert.That(fromModel.Distinct().Count(), Is.EqualTo(members), "the replies cover every forwarder");
    }

    private static byte[] ArpRequest(MacAddress sha, uint tpa)
    {
        var f = new byte[60];
        MacAddress.Broadcast.WriteTo(f);
        sha.WriteTo(f.AsSpan(6));
        BinaryPrimitives.WriteUInt16BigEndian(f.AsSpan(12), 0x0806);
        BinaryPrimitives.WriteUInt16BigEndian(f.AsSpan(14), 1);
        BinaryPrimitives.WriteUInt16BigEndian(f.AsSpan(16), 0x0800);
        f[18] = 6;
        f[19] = 4;
        BinaryPrimitives.WriteUInt16BigEndian(f.AsSpan(20), 1);
        sha.WriteTo(f.AsSpan(22));
        BinaryPrimitives.WriteUInt32BigEndian(f.AsSpan(28), HostIp);
        BinaryPrimitives.WriteUInt32BigEndian(f.AsSpan(38), tpa);
        return f;
    }
}
