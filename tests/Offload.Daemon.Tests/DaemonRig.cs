using System.Text.Json.Nodes;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Time.Testing;
using Offload.Device;
using Offload.Protocol;

namespace Offload.Daemon.Tests;

/// <summary>
/// Gateways, each a <see cref="GatewayNode"/> on its own Verilator model, on one simulated segment and one fake clock.
/// Every frame a live model sends out port 0 goes into port 0 of every other live model and is recorded as what
/// the hosts on the segment see; what leaves port 1 is recorded per gateway as what reached the backends. Nothing
/// bypasses the models: hellos and sync leave through host TX and arrive as host RX.
/// </summary>
internal sealed class DaemonRig : IDisposable
{
    // LAST_SEEN is TIME >> 10: the model runs this many cycles before each client frame, so every hit moves it.
    public const ulong TimeStep = 4096;

    public static readonly uint GroupVip = Ipv4Address.Parse("10.0.0.1");
    public static readonly uint ServiceVip = Ipv4Address.Parse("192.0.2.10");
    public const ushort ServicePort = 80;

    private readonly byte[] _buffer = new byte[16384];

    public FakeTimeProvider Time { get; } = new(new DateTimeOffset(2025, 1, 1, 0, 0, 0, TimeSpan.Zero));

    public List<Node> Nodes { get; } = [];

    public IEnumerable<Node> Live => Nodes.Where(n => n.Up);

    /// <summary>Frames put on the segment by a gateway's port 0, in order.</summary>
    public List<(Node From, byte[] Frame)> Segment { get; } = [];

    public static string RepoRoot()
    {
        var dir = new DirectoryInfo(TestContext.CurrentContext.TestDirectory);
        while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "offload.sln")))
            dir = dir.Parent;
        return dir?.FullName ?? throw new InvalidOperationException("offload.sln not found above the test directory");
    }

    public static string ExamplePath => Path.Combine(RepoRoot(), "examples", "gateway.json");

    /// <summary>The example config as gateway <paramref name="n"/> (1 = the example itself, gw-a); others peer with gw-a.</summary>
    public static GatewayConfig ExampleAs(int n, int priority)
    {
        var json = JsonNode.Parse(File.ReadAllText(ExamplePath), documentOptions: new System.Text.Json.JsonDocumentOptions
        {
            CommentHandling = System.Text.Json.JsonCommentHandling.Skip,
            AllowTrailingCommas = true,
        })!;
        json["gateway"]!["name"] = $"gw-{(char)('a' + n - 1)}";
        json["gateway"]!["ip"] = Ipv4Address.Format(Ip(n));
        json["gateway"]!["port0Mac"] = Port0Mac(n).ToString();
        json["gateway"]!["port1Mac"] = Port1Mac(n).ToString();
        json["groups"]![0]!["priority"] = priority;
        var peers = new JsonArray();
        for (int p = 1; p <= 3; p++)
        {
            if (p != n)
                peers.Add(new JsonObject { ["ip"] = Ipv4Address.Format(Ip(p)), ["mac"] = Port0Mac(p).ToString() });
        }
        json["sync"]!["peers"] = peers;
        json["api"]!["listen"] = "127.0.0.1:0";
        return GatewayConfig.Parse(json.ToJsonString(), $"example as gw {n}");
    }

    public static uint Ip(int n) => Ipv4Address.Parse("10.0.0.10") + (uint)n;

    public static MacAddress Port0Mac(int n) => new(0x020F_0000_0000UL + (ulong)n);

    public static MacAddress Port1Mac(int n) => new(0x020F_0000_0100UL + (ulong)n);

    public static MacAddress ClientMac(int c) => new(0x02AA_0000_0000UL + (ulong)c);

    public static uint ClientIp(int c) => Ipv4Address.Parse("10.0.0.100") + (uint)c;

    public static ushort ClientPort(int c) => (ushort)(40000 + c);

    public Node Add(GatewayConfig config, ILoggerFactory? loggers = null)
    {
        var node = new Node(config, ModelDevice.Create(64), Time, loggers ?? NullLoggerFactory.Instance);
        Nodes.Add(node);
        return node;
    }

    /// <summary>Power-off: the node's loop and timers stop; its model is no longer run, fed or read.</summary>
    public static void Crash(Node node)
    {
        node.Up = false;
        node.Gateway.Dispose();
    }

    /// <summary>The control plane restarts over the same data plane: a new node from the same config.</summary>
    public void Restart(Node node)
    {
        node.Gateway.Dispose();
        node.Gateway = new GatewayNode(node.Config, node.Device, Time, node.Loggers);
        node.Gateway.Start();
    }

    /// <summary>Moves the fake clock on in steps (group timers fire on it), letting models and loops run after each.</summary>
    public void Run(TimeSpan span, TimeSpan? step = null, Func<bool>? until = null)
    {
        var s = step ?? TimeSpan.FromMilliseconds(100);
        var end = Time.GetUtcNow() + span;
        Settle();
        while (Time.GetUtcNow() < end)
        {
            var left = end - Time.GetUtcNow();
            Time.Advance(left < s ? left : s);
            foreach (var n in Live)
                n.Model.Run(TimeStep);
            Settle();
            if (until?.Invoke() == true)
                return;
        }
    }

    /// <summary>Runs models, moves frames and steps every live loop until nothing moves.</summary>
    public void Settle()
    {
        for (int round = 0; round < 1000; round++)
        {
            bool moved = false;
            foreach (var n in Live)
                n.Model.RunUntilIdle(1_000_000);
            foreach (var n in Live)
            {
                int len;
                while ((len = n.Model.PopFrame(0, _buffer)) >= 0)
                {
                    moved = true;
                    byte[] frame = _buffer.AsSpan(0, len).ToArray();
                    Segment.Add((n, frame));
                    foreach (var other in Live)
                    {
                        if (other != n)
                            other.Model.PushFrame(0, frame);
                    }
                }
                while ((len = n.Model.PopFrame(1, _buffer)) >= 0)
                {
                    moved = true;
                    n.ToBackends.Add(_buffer.AsSpan(0, len).ToArray());
                }
            }
            foreach (var n in Live)
                moved |= n.Gateway.Step() > 0;
            if (!moved)
                return;
        }
        throw new InvalidOperationException("the segment never settled (a frame storm)");
    }

    /// <summary>A host on the segment sends <paramref name="frame"/>: the segment floods it into every live gateway's port 0.</summary>
    public void FromClient(byte[] frame)
    {
        foreach (var n in Live)
        {
            n.Model.Run(TimeStep);
            n.Model.PushFrame(0, frame);
        }
        Settle();
    }

    /// <summary>A backend sends <paramref name="frame"/> to its gateway <paramref name="to"/> (port 1).</summary>
    public void FromBackend(Node to, byte[] frame)
    {
        to.Model.Run(TimeStep);
        to.Model.PushFrame(1, frame);
        Settle();
    }

    public static byte[] ArpRequest(int client) =>
        FrameBuilder.BuildArp(new EthernetHeader(MacAddress.Broadcast.Value, ClientMac(client).Value),
            ArpPacket.Request(ClientMac(client).Value, ClientIp(client), GroupVip));

    /// <summary>A TCP segment of client <paramref name="client"/>'s connection to the service, sent to <paramref name="gateway"/> (the vMAC it resolved).</summary>
    public static byte[] ClientTcp(int client, MacAddress gateway, byte flags, int payload = 0) =>
        FrameBuilder.BuildTcp(new EthernetHeader(gateway.Value, ClientMac(client).Value),
            new Ipv4Header(ClientIp(client), ServiceVip, IpProtocol.Tcp),
            new TcpHeader(ClientPort(client), ServicePort) { Flags = flags, Sequence = 1000 }, new byte[payload]);

    /// <summary>The backend's answer on client <paramref name="client"/>'s connection, to its gateway's port-1 MAC.</summary>
    public static byte[] BackendTcp(MacAddress backendMac, uint backendIp, ushort backendPort, int client, MacAddress gateway, int payload = 0) =>
        FrameBuilder.BuildTcp(new EthernetHeader(gateway.Value, backendMac.Value),
            new Ipv4Header(backendIp, ClientIp(client), IpProtocol.Tcp),
            new TcpHeader(backendPort, ClientPort(client)) { Flags = TcpFlags.Ack, Sequence = 5000 }, new byte[payload]);

    public void Dispose()
    {
        foreach (var n in Nodes)
        {
            n.Gateway.Dispose();
            n.Device.Dispose();
        }
    }

    internal sealed class Node
    {
        public Node(GatewayConfig config, ModelDevice device, TimeProvider time, ILoggerFactory loggers)
        {
            Config = config;
            Device = device;
            Loggers = loggers;
            Gateway = new GatewayNode(config, device, time, loggers);
        }

        public ILoggerFactory Loggers { get; }

        public GatewayConfig Config { get; }

        public ModelDevice Device { get; }

        public HwModel.HwModel Model => Device.Model;

        public GatewayNode Gateway { get; set; }

        public bool Up { get; set; } = true;

        /// <summary>Frames that left port 1 (toward the backends), in order.</summary>
        public List<byte[]> ToBackends { get; } = [];

        public PortCounters Counters(int port) => Gateway.Dataplane.ReadCounters().Port(port);

        public Group.GlbpGroupSnapshot Group => Gateway.Groups[0].Snapshot();

        public MacAddress OwnVmac => new(Group.Forwarders.Single(f => f.Owned).Vmac);

        public override string ToString() => Config.Name;
    }
}
