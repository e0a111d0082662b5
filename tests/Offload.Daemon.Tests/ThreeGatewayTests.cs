using Offload.Device;
using Offload.Group;
using Offload.Protocol;
using static Offload.Daemon.Tests.DaemonRig;

namespace Offload.Daemon.Tests;

/// <summary>
/// Three gateways: A syncs its connections to both peers; when A dies exactly one of them wins A's vMAC through
/// GLBP and installs the flows, the other keeps its copies held and its data plane keeps refusing the vMAC.
/// </summary>
[NonParallelizable]
[Category("Model")]
public class ThreeGatewayTests
{
    [Test]
    public void Only_the_peer_that_wins_the_vmac_installs_the_flows_and_forwards_them()
    {
        using var rig = new DaemonRig();
        var a = rig.Add(ExampleAs(1, priority: 110) with { Groups = [ExampleAs(1, 110).Groups[0] with { MaxForwarders = 3 }] });
        var b = rig.Add(ExampleAs(2, priority: 105) with { Groups = [ExampleAs(2, 105).Groups[0] with { MaxForwarders = 3 }] });
        var c = rig.Add(ExampleAs(3, priority: 100) with { Groups = [ExampleAs(3, 100).Groups[0] with { MaxForwarders = 3 }] });
        foreach (var n in rig.Nodes)
            n.Gateway.Start();
        rig.Run(TimeSpan.FromSeconds(12));
        Assert.That(rig.Nodes.Select(n => n.Group.State), Is.EqualTo(new[] { GatewayState.Active, GatewayState.Standby, GatewayState.Listen }));
        Assert.That(rig.Nodes.Select(n => n.OwnVmac).Distinct().Count(), Is.EqualTo(3), "a forwarder each");

        MacAddress vmacA = a.OwnVmac;
        var clients = Enumerable.Range(1, 4).ToList();
        var throughA = new Dictionary<int, byte[]>();
        foreach (int client in clients)
        {
            rig.FromClient(ClientTcp(client, vmacA, TcpFlags.Syn));
            rig.FromClient(ClientTcp(client, vmacA, TcpFlags.Ack, payload: 10));
            throughA[client] = a.ToBackends[^1];
        }
        rig.Run(TimeSpan.FromSeconds(1));
        Assert.That(b.Gateway.Sync!.Stored, Has.Count.EqualTo(clients.Count));
        Assert.That(c.Gateway.Sync!.Stored, Has.Count.EqualTo(clients.Count));

        DaemonRig.Crash(a);
        rig.Run(TimeSpan.FromSeconds(6));
        var takers = new[] { b, c }.Where(n => n.Group.Forwarders.Any(f => f.Vmac == vmacA.Value && f.State == ForwarderState.Active)).ToList();
        Assert.That(takers, Has.Count.EqualTo(1), "one gateway forwards A's vMAC");
        var taker = takers[0];
        var other = taker == b ? c : b;
        Assert.That(taker.Gateway.TakeoverInstalls, Is.EqualTo(clients.Count));
        Assert.That(other.Gateway.Takeovers, Is.Zero);
        Assert.That(other.Gateway.Flows.Count, Is.Zero);
        Assert.That(other.Gateway.Sync!.Stored, Has.Count.EqualTo(clients.Count), "the other keeps its copies for a later takeover");

        // The segment floods the clients' frames to both: the taker's hardware forwards, the other's refuses.
        ulong refused = other.Counters(0).DropNotForUs;
        foreach (int client in clients)
        {
            int sent = taker.ToBackends.Count;
            rig.FromClient(ClientTcp(client, vmacA, TcpFlags.Ack, payload: 10));
            Assert.That(taker.ToBackends, Has.Count.EqualTo(sent + 1));
            Assert.That(taker.ToBackends[^1].AsSpan(12).ToArray(), Is.EqualTo(throughA[client].AsSpan(12).ToArray()));
            Assert.That(MacAddress.FromBytes(taker.ToBackends[^1]), Is.EqualTo(MacAddress.FromBytes(throughA[client])));
        }
        Assert.That(other.Counters(0).DropNotForUs - refused, Is.EqualTo((ulong)clients.Count));
        Assert.That(other.ToBackends, Is.Empty);
    }
}
