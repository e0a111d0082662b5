using Offload.Device;
using static Offload.Daemon.Tests.DaemonRig;

namespace Offload.Daemon.Tests;

[NonParallelizable]
[Category("Model")]
public class NodeTests
{
    [Test]
    public void The_loop_keeps_the_watchdog_from_expiring_and_a_stalled_loop_lets_it_expire()
    {
        using var rig = new DaemonRig();
        var node = rig.Add(ExampleAs(1, 110) with { WatchdogCycles = 50_000 });
        node.Gateway.Start();
        // Each step of the rig runs the model 4096 cycles and then the loop, which kicks.
        rig.Run(TimeSpan.FromSeconds(5));
        var dp = new Dataplane(node.Device);
        Assert.That(dp.ReadWatchdog(), Is.EqualTo(new WatchdogStatus(50_000, false, 0)));

        node.Model.Run(60_000);
        var stalled = dp.ReadWatchdog();
        Assert.That((stalled.Expired, stalled.Expiries), Is.EqualTo((true, 1u)), "no kick for longer than the timeout");
        node.Gateway.Step();
        Assert.That(dp.ReadWatchdog().Expired, Is.False, "the next round kicks it again");
    }

    [Test]
    public void A_restart_keeps_forwarding_through_the_vmac_filter_flows_and_next_hops_it_finds()
    {
        using var rig = new DaemonRig();
        var node = rig.Add(ExampleAs(1, 110));
        node.Gateway.Start();
        rig.Run(TimeSpan.FromSeconds(8));
        var vmac = node.OwnVmac;
        rig.FromClient(ClientTcp(1, vmac, Protocol.TcpFlags.Syn));
        Assert.That(node.Gateway.Flows.Count, Is.EqualTo(2));
        var before = node.Gateway.Flows.Entries.OrderBy(e => e.Index).ToList();

        rig.Restart(node);
        var after = node.Gateway.Flows.Entries.OrderBy(e => e.Index).ToList();
        Assert.That(after, Is.EqualTo(before), "the table was read back as it was");
        Assert.That(node.Gateway.Flows.VerifyAgainstHardware(), Is.Empty);
        // Before the new group has heard a single hello, the vMAC filter left by the old control plane still takes
        // the connection's frames, and the flow entry forwards them: the restart is hitless.
        Assert.That(node.Gateway.Groups[0].State, Is.Not.EqualTo(Group.GatewayState.Active));
        ulong notForUs = node.Counters(0).DropNotForUs;
        ulong hitsDuring = node.Counters(0).FlowHit;
        rig.FromClient(ClientTcp(1, vmac, Protocol.TcpFlags.Ack, payload: 10));
        Assert.That(node.Counters(0).DropNotForUs, Is.EqualTo(notForUs));
        Assert.That(node.Counters(0).FlowHit, Is.EqualTo(hitsDuring + 1));

        rig.Run(TimeSpan.FromSeconds(8));
        ulong hits = node.Counters(0).FlowHit;
        int sent = node.ToBackends.Count;
        rig.FromClient(ClientTcp(1, vmac, Protocol.TcpFlags.Ack, payload: 10));
        Assert.That(node.Counters(0).FlowHit, Is.EqualTo(hits + 1));
        Assert.That(node.ToBackends, Has.Count.EqualTo(sent + 1));
        int replies = rig.Segment.Count;
        var toBackend = node.ToBackends[^1];
        var ip = toBackend.AsSpan(14);
        rig.FromBackend(node, BackendTcp(MacAddress.FromBytes(toBackend), System.Buffers.Binary.BinaryPrimitives.ReadUInt32BigEndian(ip[16..]),
            System.Buffers.Binary.BinaryPrimitives.ReadUInt16BigEndian(ip[22..]), 1, Port1Mac(1)));
        var reply = rig.Segment.Skip(replies).Single(s => MacAddress.FromBytes(s.Frame) == ClientMac(1)).Frame;
        Assert.That(MacAddress.FromBytes(reply.AsSpan(6)), Is.EqualTo(vmac), "the client next hop written before the restart still holds");
    }
}
