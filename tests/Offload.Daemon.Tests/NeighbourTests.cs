using System.Text.Json.Nodes;
using Offload.Balancer.Classification;
using Offload.Device;
using Offload.Gateway;
using Offload.Protocol;
using static Offload.Daemon.Tests.DaemonRig;

namespace Offload.Daemon.Tests;

/// <summary>
/// Backends and route next hops named by address only: the gateway asks for their MACs by ARP out of its own port 1
/// (through the device's host TX queue), gives them next-hop entries itself, follows a MAC that moves, and gives up
/// (and says so) on one that never answers. Everything runs on the Verilator model; the backends' ARP is played by
/// the test on the wire side of port 1.
/// </summary>
[NonParallelizable]
[Category("Model")]
public class NeighbourTests
{
    private static readonly uint Port1Ip = Ipv4Address.Parse("198.51.100.254");
    private static readonly uint[] BackendIps = [Ipv4Address.Parse("198.51.100.1"), Ipv4Address.Parse("198.51.100.2"), Ipv4Address.Parse("198.51.100.3")];
    private static readonly uint RouterIp = Ipv4Address.Parse("198.51.100.200");

    private static MacAddress BackendMac(int i) => new(0x02BB_0000_0000UL + (ulong)i);

    /// <summary>The example gateway with its backends and its default route named by address alone.</summary>
    private static GatewayConfig ByAddress() => GatewayConfig.Parse(ByAddressJson(), "example by address");

    private static string ByAddressJson()
    {
        var json = JsonNode.Parse(File.ReadAllText(ExamplePath), documentOptions: new System.Text.Json.JsonDocumentOptions
        {
            CommentHandling = System.Text.Json.JsonCommentHandling.Skip,
            AllowTrailingCommas = true,
        })!;
        json["gateway"]!["port1Ip"] = Ipv4Address.Format(Port1Ip);
        foreach (var b in json["services"]![0]!["backends"]!.AsArray())
        {
            b!.AsObject().Remove("mac");
            b.AsObject().Remove("nextHop");
        }
        json["routes"] = new JsonArray(new JsonObject { ["prefix"] = "0.0.0.0/0", ["via"] = Ipv4Address.Format(RouterIp), ["egressPort"] = 1 });
        json["api"]!["listen"] = "127.0.0.1:0";
        // One gateway alone: no peers, and no track, whose pool is down until the first backend answers.
        json.AsObject().Remove("sync");
        json["groups"]![0]!.AsObject().Remove("track");
        return json.ToJsonString();
    }

    private static List<ArpPacket> ArpOut(Node node, int from = 0) =>
        [.. node.ToBackends.Skip(from).Select(f => ArpPacket.TryReadFrame(f, out var a) ? a : (ArpPacket?)null).Where(a => a is not null).Select(a => a!.Value)];

    private static byte[] Reply(uint ip, MacAddress mac, Node to) =>
        FrameBuilder.BuildArp(new EthernetHeader(to.Config.Port1Mac.Value, mac.Value), ArpPacket.Reply(mac.Value, ip, to.Config.Port1Mac.Value, Port1Ip));

    private static byte[] Gratuitous(uint ip, MacAddress mac) =>
        FrameBuilder.BuildArp(new EthernetHeader(MacAddress.Broadcast.Value, mac.Value), ArpPacket.Request(mac.Value, ip, ip));

    // The group up (AVG and forwarder), every backend answered, and client 1's connection classified.
    private static void UpWithOneConnection(DaemonRig rig, Node node)
    {
        rig.Run(TimeSpan.FromSeconds(8));
        for (int i = 0; i < 3; i++)
            rig.FromBackend(node, Reply(BackendIps[i], BackendMac(i + 1), node));
        rig.FromClient(ClientTcp(1, node.OwnVmac, TcpFlags.Syn));
    }

    private static List<byte[]> TcpOut(Node node, int from) =>
        [.. node.ToBackends.Skip(from).Where(f => !ArpPacket.TryReadFrame(f, out _))];

    [Test]
    public void Backends_named_by_address_are_asked_for_by_ARP_and_get_flows_only_once_they_answer()
    {
        using var rig = new DaemonRig();
        var node = rig.Add(ByAddress());
        node.Gateway.Start();
        rig.Run(TimeSpan.FromMilliseconds(500));

        var asked = ArpOut(node);
        Assert.That(asked.Select(a => a.TargetIp), Is.EquivalentTo(BackendIps.Append(RouterIp)), "one broadcast request per next hop, none twice within a second");
        Assert.That(asked, Has.All.Matches<ArpPacket>(a => a.Operation == ArpPacket.OperationRequest && a.SenderMac == node.Config.Port1Mac.Value && a.SenderIp == Port1Ip));
        Assert.That(node.ToBackends.Select(f => EthernetHeader.ReadMac(f)), Has.All.EqualTo(MacAddress.Broadcast.Value));
        rig.Run(TimeSpan.FromSeconds(8));

        // Nobody answered yet: a connection to the service has nowhere to go, and no entry is written for it.
        rig.FromClient(ClientTcp(1, node.OwnVmac, TcpFlags.Syn));
        Assert.That(node.Gateway.Classifier.Count(Balancer.Classification.ClassifyOutcome.NoBackend), Is.EqualTo(1));
        Assert.That(node.Gateway.Flows.Count, Is.Zero);

        for (int i = 0; i < 3; i++)
            rig.FromBackend(node, Reply(BackendIps[i], BackendMac(i + 1), node));
        int sent = node.ToBackends.Count;
        for (int c = 2; c < 12; c++)
            rig.FromClient(ClientTcp(c, node.OwnVmac, TcpFlags.Syn));
        var tcp = TcpOut(node, sent);
        Assert.That(tcp, Has.Count.EqualTo(10));
        Assert.That(tcp.Select(f => new MacAddress(EthernetHeader.ReadMac(f))), Has.All.AnyOf(BackendMac(1), BackendMac(2), BackendMac(3)));
        Assert.That(tcp.Select(f => EthernetHeader.ReadMac(f.AsSpan(6))), Has.All.EqualTo(node.Config.Port1Mac.Value));

        var rows = node.Gateway.BackendsView().Backends;
        Assert.That(rows.Select(r => r.NextHop!.Source), Has.All.EqualTo("reachable"));
        Assert.That(rows.Select(r => r.NextHop!.Index).Distinct().Count(), Is.EqualTo(3), "each address its own entry");
        for (int i = 0; i < 3; i++)
            Assert.That(node.Gateway.Dataplane.ReadNextHop(rows[i].NextHop!.Index), Is.EqualTo(new NextHop(1, BackendMac(i + 1), node.Config.Port1Mac)));
        // The default route waits for its next hop too.
        Assert.That(node.Gateway.Services.Routes.Count, Is.Zero);
        rig.FromBackend(node, Reply(RouterIp, BackendMac(9), node));
        Assert.That(node.Gateway.Services.Routes.Routes.Single().NextHopMac, Is.EqualTo(BackendMac(9)));
    }

    [Test]
    public void A_backend_that_moves_to_another_MAC_takes_its_established_flows_along()
    {
        using var rig = new DaemonRig();
        var node = rig.Add(ByAddress());
        node.Gateway.Start();
        UpWithOneConnection(rig, node);
        var first = TcpOut(node, 0).Single(f => EthernetHeader.ReadMac(f.AsSpan(6)) == node.Config.Port1Mac.Value && f[12] == 0x08 && f[13] == 0);
        var mac = new MacAddress(EthernetHeader.ReadMac(first));
        int b = Array.IndexOf([BackendMac(1), BackendMac(2), BackendMac(3)], mac);
        Assert.That(b, Is.GreaterThanOrEqualTo(0));

        // The backend's address now answers from another NIC (a VM moved, a bond failed over): it says so once. A third
        // MAC right after (a duplicate address, a proxy-ARP router) is ignored for the lock time: no flip-flopping.
        rig.Run(TimeSpan.FromSeconds(2));
        var moved = new MacAddress(0x02CC_0000_0001UL);
        rig.FromBackend(node, Gratuitous(BackendIps[b], moved));
        rig.FromBackend(node, Gratuitous(BackendIps[b], new MacAddress(0x02DD_0000_0001UL)));
        Assert.That(node.Gateway.Neighbours.LockedOut, Is.EqualTo(1));
        int sent = node.ToBackends.Count;
        ulong hits = node.Counters(0).FlowHit;
        rig.FromClient(ClientTcp(1, node.OwnVmac, TcpFlags.Ack, payload: 10));
        Assert.That(node.Counters(0).FlowHit, Is.EqualTo(hits + 1), "still the hardware entry, no new classification");
        Assert.That(EthernetHeader.ReadMac(TcpOut(node, sent).Single()), Is.EqualTo(moved.Value));
        Assert.That(node.Gateway.Neighbours.MacChanges, Is.EqualTo(1));
        Assert.That(node.Gateway.Metrics(), Does.Contain("offload_arp_total{event=\"mac_changed\",gateway=\"gw-a\"} 1"));
    }

    [Test]
    public void A_next_hop_that_never_answers_is_given_up_reported_and_found_again_when_it_does()
    {
        using var rig = new DaemonRig();
        var node = rig.Add(ByAddress());
        node.Gateway.Start();
        rig.Run(TimeSpan.FromMilliseconds(200));
        rig.FromBackend(node, Reply(BackendIps[0], BackendMac(1), node));
        rig.Run(TimeSpan.FromSeconds(4));

        var asked = ArpOut(node);
        Assert.That(asked.Count(a => a.TargetIp == BackendIps[1]), Is.EqualTo(3), "three broadcasts a second apart, as Linux asks");
        var rows = node.Gateway.BackendsView().Backends;
        Assert.That(rows.Select(r => (r.Id, r.NextHop!.Source, r.NextHop.Mac)), Is.EqualTo(new[]
        {
            ("b1", "reachable", (string?)BackendMac(1).ToString()), ("b2", "failed", null), ("b3", "failed", null),
        }));
        string metrics = node.Gateway.Metrics();
        Assert.That(metrics, Does.Contain("offload_neighbours{state=\"failed\",gateway=\"gw-a\"} 3"), "b2, b3 and the router");
        Assert.That(metrics, Does.Contain("offload_neighbours{state=\"reachable\",gateway=\"gw-a\"} 1"));

        int sent = node.ToBackends.Count;
        for (int c = 1; c <= 12; c++)
            rig.FromClient(ClientTcp(c, node.OwnVmac, TcpFlags.Syn));
        Assert.That(TcpOut(node, sent).Select(f => EthernetHeader.ReadMac(f)).ToList(), Has.Count.EqualTo(12).And.All.EqualTo(BackendMac(1).Value));

        // Still asked, less often; the first answer brings it back into the pool.
        rig.Run(TimeSpan.FromSeconds(6));
        Assert.That(ArpOut(node, sent).Count(a => a.TargetIp == BackendIps[1]), Is.InRange(1, 2));
        rig.FromBackend(node, Reply(BackendIps[1], BackendMac(2), node));
        sent = node.ToBackends.Count;
        for (int c = 20; c < 60; c++)
            rig.FromClient(ClientTcp(c, node.OwnVmac, TcpFlags.Syn));
        Assert.That(TcpOut(node, sent).Select(f => EthernetHeader.ReadMac(f)), Does.Contain(BackendMac(2).Value));
    }

    [Test]
    public void A_neighbour_is_confirmed_by_unicast_later_and_withdrawn_when_it_stops_answering()
    {
        using var rig = new DaemonRig();
        var node = rig.Add(ByAddress());
        node.Gateway.Start();
        rig.Run(TimeSpan.FromMilliseconds(200));
        rig.FromBackend(node, Reply(BackendIps[0], BackendMac(1), node));
        int sent = node.ToBackends.Count;
        rig.Run(TimeSpan.FromSeconds(61), TimeSpan.FromMilliseconds(500));
        var probes = node.ToBackends.Skip(sent).Where(f => ArpPacket.TryReadFrame(f, out var a) && a.TargetIp == BackendIps[0]).ToList();
        Assert.That(probes, Is.Not.Empty);
        Assert.That(EthernetHeader.ReadMac(probes[0]), Is.EqualTo(BackendMac(1).Value), "the first re-confirmation goes to the MAC held");
        Assert.That(node.Gateway.BackendsView().Backends[0].NextHop!.Source, Is.EqualTo("probing"));

        rig.Run(TimeSpan.FromSeconds(7), TimeSpan.FromMilliseconds(500));
        Assert.That(node.Gateway.BackendsView().Backends[0].NextHop, Is.EqualTo(new NextHopRow(node.Gateway.BackendsView().Backends[0].NextHop!.Index, null, "failed")));
        Assert.That(node.Gateway.Services.TryFind(new ServiceKey(ServiceVip, IpProtocol.Tcp, ServicePort), out var service), Is.True);
        Assert.That(Service.Usable(service.Find("b1")!), Is.False);
    }

    [Test]
    public void A_reload_never_gives_an_entry_still_named_by_flows_to_another_next_hop()
    {
        using var rig = new DaemonRig();
        var node = rig.Add(ByAddress());
        node.Gateway.Start();
        var first = node.Gateway.BackendsView().Backends.ToDictionary(r => r.Id, r => r.NextHop!.Index);

        // b2 leaves (it drains: its flows still name its entry), then b4 comes, on a new address.
        var json = JsonNode.Parse(ByAddressJson())!;
        json["services"]![0]!["backends"]!.AsArray().RemoveAt(1);
        Assert.That(node.Gateway.Reload(GatewayConfig.Parse(json.ToJsonString())).Applied, Is.True);
        json["services"]![0]!["backends"]!.AsArray().Add(new JsonObject { ["id"] = "b4", ["address"] = "198.51.100.4", ["port"] = 8080 });
        Assert.That(node.Gateway.Reload(GatewayConfig.Parse(json.ToJsonString())).Applied, Is.True);
        var b4 = node.Gateway.BackendsView().Backends.Single(r => r.Id == "b4").NextHop!.Index;
        Assert.That(b4, Is.Not.AnyOf(first.Values.Cast<object>().ToArray()), "b2's entry stays b2's");

        // A file that fixes an index another next hop holds, or moves one, is refused whole; nothing changes.
        json["services"]![0]!["backends"]![0]!["nextHop"] = first["b3"];
        var refused = node.Gateway.Reload(GatewayConfig.Parse(json.ToJsonString()));
        Assert.That(refused.Applied, Is.False);
        Assert.That(refused.Refusals.Single(), Does.Contain($"198.51.100.1 on port 1: its next hop cannot move from {first["b1"]} to {first["b3"]}"));
        json["services"]![0]!["backends"]![0]!.AsObject().Remove("nextHop");
        json["services"]![0]!["backends"]!.AsArray().Add(new JsonObject { ["id"] = "b5", ["address"] = "198.51.100.5", ["port"] = 8080, ["nextHop"] = first["b2"] });
        refused = node.Gateway.Reload(GatewayConfig.Parse(json.ToJsonString()));
        Assert.That(refused.Refusals.Single(), Does.Contain($"198.51.100.5 on port 1: next hop {first["b2"]} is 198.51.100.2 on port 1"));
        Assert.That(node.Gateway.BackendsView().Backends.Select(r => (r.Id, r.NextHop!.Index)),
            Is.EquivalentTo(new[] { ("b1", first["b1"]), ("b3", first["b3"]), ("b4", b4) }).Or.EquivalentTo(new[] { ("b1", first["b1"]), ("b2", first["b2"]), ("b3", first["b3"]), ("b4", b4) }));
    }

    [Test]
    public void The_gateway_answers_ARP_for_its_own_port_address()
    {
        using var rig = new DaemonRig();
        var node = rig.Add(ByAddress());
        node.Gateway.Start();
        int sent = node.ToBackends.Count;
        var asker = BackendMac(7);
        rig.FromBackend(node, FrameBuilder.BuildArp(new EthernetHeader(MacAddress.Broadcast.Value, asker.Value),
            ArpPacket.Request(asker.Value, BackendIps[2], Port1Ip)));
        var reply = ArpOut(node, sent).Single(a => a.Operation == ArpPacket.OperationReply);
        Assert.That(reply, Is.EqualTo(ArpPacket.Reply(node.Config.Port1Mac.Value, Port1Ip, asker.Value, BackendIps[2])));
        // The asker was a watched backend: its request told us its MAC as well.
        Assert.That(node.Gateway.Neighbours.TryGet(new NeighbourKey(1, BackendIps[2]), out var learnt) && learnt == asker, Is.True);
    }

    [Test]
    public void A_restart_gives_every_address_the_entry_it_had_so_established_flows_keep_their_backend()
    {
        using var rig = new DaemonRig();
        var node = rig.Add(ByAddress());
        node.Gateway.Start();
        UpWithOneConnection(rig, node);
        var before = node.Gateway.BackendsView().Backends.Select(r => (r.Id, r.NextHop!.Index)).ToList();
        var sessionBackend = node.Gateway.Tracker.Sessions.Single().Backend!.Id;
        var vmac = node.OwnVmac;

        rig.Restart(node);
        Assert.That(node.Gateway.BackendsView().Backends.Select(r => (r.Id, r.NextHop!.Index)), Is.EqualTo(before));
        Assert.That(node.Gateway.Tracker.Sessions.Single().Backend!.Id, Is.EqualTo(sessionBackend), "the restored session knows its backend by its entry");
        // Not resolved again yet, and still forwarding in hardware.
        int sent = node.ToBackends.Count;
        rig.FromClient(ClientTcp(1, vmac, TcpFlags.Ack, payload: 10));
        Assert.That(TcpOut(node, sent), Has.Count.EqualTo(1));
    }
}
