using Microsoft.Extensions.Time.Testing;
using Offload.Protocol.Glbp;

namespace Offload.Group.Tests;

/// <summary>What a group wrote to its data plane, as the device adapter would see it.</summary>
internal sealed class RecordingPlane : IForwardingPlane
{
    public IReadOnlyList<ulong> Vmacs { get; private set; } = [];
    public bool ArpEnabled { get; private set; }
    public byte[] Slots { get; private set; } = [];
    public GlbpLoadBalancing Mode { get; private set; }
    public int VmacWrites { get; private set; }
    public int ArpWrites { get; private set; }

    public void SetVmacs(ushort group, IReadOnlyList<ulong> vmacs)
    {
        Vmacs = vmacs;
        VmacWrites++;
    }

    public void SetArpResponder(ushort group, uint virtualIp, bool enabled, ReadOnlySpan<byte> slots, GlbpLoadBalancing mode)
    {
        ArpEnabled = enabled;
        Slots = slots.ToArray();
        Mode = mode;
        ArpWrites++;
    }
}

/// <summary>
/// A segment of GLBP gateways on one fake clock. Messages are really encoded by the sender and decoded by every
/// receiver; delivery happens after each clock step (zero latency, but never inside the sender's own call).
/// </summary>
internal sealed class Lab : IDisposable
{
    public const ushort GroupNumber = 1;
    public const uint VirtualIp = 0x0A00_0001;

    private readonly List<(Node From, byte[] Message)> _wire = [];

    public FakeTimeProvider Time { get; } = new(new DateTimeOffset(2025, 1, 1, 0, 0, 0, TimeSpan.Zero));
    public List<Node> Nodes { get; } = [];
    public List<GlbpEvent> Events { get; } = [];
    public Func<Node, Node, bool> Link { get; set; } = (_, _) => true;

    public static uint Ip(int host) => 0x0A00_0000u + (uint)host;

    public static ulong Mac(int host) => 0x0200_0000_0000ul + (ulong)host;

    public Node Add(int host, Func<GlbpGroupOptions, GlbpGroupOptions>? configure = null, bool start = true)
    {
        var options = new GlbpGroupOptions { Group = GroupNumber, LocalIp = Ip(host), LocalMac = Mac(host), VirtualIp = VirtualIp };
        options = configure?.Invoke(options) ?? options;
        var node = new Node(this, host, options);
        Nodes.Add(node);
        if (start)
            node.Group.Start();
        Deliver();
        return node;
    }

    /// <summary>Power-off: no resign, no more hellos.</summary>
    public void Crash(Node node)
    {
        node.Group.Dispose();
        node.Up = false;
        _wire.RemoveAll(m => m.From == node);
    }

    /// <summary>Same box back with empty state (a reload).</summary>
    public Node Restart(Node node)
    {
        Nodes.Remove(node);
        return Add(node.Host, _ => node.Options);
    }

    public void Run(TimeSpan span)
    {
        DateTimeOffset end = Time.GetUtcNow() + span;
        Deliver();
        int idle = 0;
        while (true)
        {
            TimeSpan? due = null;
            foreach (var n in Nodes)
            {
                if (n.Up && n.Group.NextDeadline is { } d && (due is null || d < due))
                    due = d;
            }
            TimeSpan left = end - Time.GetUtcNow();
            if (due is null || due.Value > left)
            {
                Time.Advance(left);
                Deliver();
                return;
            }
            // A group that keeps asking for a zero-length step would hang the test instead of failing it.
            idle = due.Value == TimeSpan.Zero ? idle + 1 : 0;
            if (idle > 1000)
                throw new InvalidOperationException($"timers spin at {Time.GetUtcNow():O}");
            Time.Advance(due.Value);
            Deliver();
        }
    }

    public void RunSeconds(double seconds) => Run(TimeSpan.FromSeconds(seconds));

    public void Deliver()
    {
        int delivered = 0;
        while (_wire.Count > 0)
        {
            if (++delivered > 100_000)
                throw new InvalidOperationException($"message storm at {Time.GetUtcNow():O}");
            var (from, message) = _wire[0];
            _wire.RemoveAt(0);
            foreach (var to in Nodes)
            {
                if (to != from && to.Up && Link(from, to))
                {
                    to.LastResult = to.Group.Receive(message, from.Options.LocalIp);
                    to.Results[to.LastResult] = to.Results.GetValueOrDefault(to.LastResult) + 1;
                }
            }
        }
    }

    public IEnumerable<Node> Live => Nodes.Where(n => n.Up);

    public Node ActiveNode() => Live.Single(n => n.Group.State == GatewayState.Active);

    /// <summary>Every forwarder in the Active's table is in exactly one live box's vMAC filter.</summary>
    public void AssertEveryVmacForwardedOnce()
    {
        var table = ActiveNode().Group.Snapshot().Forwarders;
        Assert.That(table, Is.Not.Empty);
        foreach (var f in table)
            Assert.That(Live.Count(n => n.Plane.Vmacs.Contains(f.Vmac)), Is.EqualTo(1), $"forwarder {f.Number}");
        var all = Live.SelectMany(n => n.Plane.Vmacs).ToList();
        Assert.That(all, Is.Unique);
    }

    public void Send(Node from, ReadOnlySpan<byte> message)
    {
        if (from.Up)
            _wire.Add((from, message.ToArray()));
    }

    public void Dispose()
    {
        foreach (var n in Nodes)
            n.Group.Dispose();
    }

    internal sealed class Node : IGlbpTransport
    {
        private readonly Lab _lab;

        public Node(Lab lab, int host, GlbpGroupOptions options)
        {
            _lab = lab;
            Host = host;
            Options = options;
            Group = new GlbpGroup(options, lab.Time, this, Plane);
            Group.Changed += (_, e) => lab.Events.Add(e);
        }

        public int Host { get; }
        public GlbpGroupOptions Options { get; }
        public GlbpGroup Group { get; }
        public RecordingPlane Plane { get; } = new();
        public bool Up { get; set; } = true;
        public int Sent { get; private set; }
        public byte[]? LastSent { get; private set; }
        public GlbpReceiveResult LastResult { get; set; }
        public Dictionary<GlbpReceiveResult, int> Results { get; } = [];

        public ulong LastSource { get; private set; }

        public void Send(ReadOnlySpan<byte> glbpMessage, ulong ethernetSource)
        {
            Sent++;
            LastSource = ethernetSource;
            LastSent = glbpMessage.ToArray();
            _lab.Send(this, glbpMessage);
        }

        public GatewayState State => Group.State;

        public ulong OwnVmac => Group.Snapshot().Forwarders.Single(f => f.Owned).Vmac;

        public override string ToString() => $"gw{Host}";
    }
}
