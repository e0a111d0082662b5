using Microsoft.Extensions.Time.Testing;
using Offload.Protocol.Glbp;
using Offload.Testing.Simulation;

namespace Offload.Group.Tests.Simulation;

/// <summary>
/// Offload members beside Cisco-shaped members (<see cref="CiscoShapedMember"/>, written from captures of Cisco
/// routers, not from <see cref="GlbpGroup"/>) in one group, every message really encoded and decoded. Checked at
/// every 50 ms step: never two AVGs, never a vMAC forwarded twice, for longer than a takeover takes. Checked once
/// settled: one AVG, every forwarder forwarded by exactly one live member, every member agreeing on its owner, and
/// the redirect and time-out honoured by both kinds.
/// </summary>
public class MixedGroupTests
{
    private static readonly TimeSpan Hello = TimeSpan.FromSeconds(1);
    private static readonly TimeSpan Hold = TimeSpan.FromSeconds(3);
    private static readonly TimeSpan Redirect = TimeSpan.FromSeconds(30);
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(120);
    private static readonly TimeSpan PreemptDelay = TimeSpan.FromSeconds(5);
    private const ushort GroupNumber = 7;
    private const uint Vip = 0x0A00_00FE;

    private static uint Ip(int box) => 0x0A00_0000u + (uint)box;

    private static ulong Mac(int box) => 0x0200_0000_0000ul + (ulong)box;

    [TestCase(200, 100, 0.0, TestName = "Mixed group with an Offload AVG")]
    [TestCase(100, 200, 0.0, TestName = "Mixed group with a Cisco-shaped AVG")]
    [TestCase(200, 100, 0.05, TestName = "Mixed group with an Offload AVG, 5 % of messages lost")]
    [TestCase(100, 200, 0.05, TestName = "Mixed group with a Cisco-shaped AVG, 5 % of messages lost")]
    public void Offload_and_Cisco_shaped_members_agree_through_a_failure_a_stand_in_a_reclaim_and_a_timeout(int offloadPriority, int ciscoPriority, double loss)
    {
        using var seg = new Mixed(loss);
        var o1 = seg.AddOffload(1, (byte)offloadPriority);
        var c2 = seg.AddCisco(2, 100);
        var o3 = seg.AddOffload(3, 100);
        var c4 = seg.AddCisco(4, (byte)ciscoPriority);
        seg.Run(TimeSpan.FromSeconds(20));
        seg.AssertSettled();
        Assert.That(seg.AvgIsOffload, Is.EqualTo(offloadPriority > ciscoPriority));
        var owners = seg.OwnersByMac();
        Assert.That(owners.Keys, Is.EquivalentTo(new[] { Mac(1), Mac(2), Mac(3), Mac(4) }), "each member owns one forwarder");

        // c2 fails: after its hold time its forwarder is forwarded by a stand-in (135), counting down.
        byte n2 = owners[Mac(2)];
        ulong vmac2 = GlbpVirtualMac.Create(GroupNumber, n2);
        c2.Crash();
        TimeSpan crashed = seg.Now;
        seg.Run(TimeSpan.FromSeconds(10));
        seg.AssertSettled();
        var standIn = seg.Forwarders(vmac2).Single();
        Assert.That(standIn, Is.EqualTo("cisco-4"), "the secondary with the highest address stands in");
        GlbpForwarder advert = seg.LastAdvert(c4, n2);
        Assert.That((advert.State, advert.Role), Is.EqualTo((GlbpVfState.Active, GlbpForwarderRole.Secondary)));
        Assert.That(advert.RedirectRemaining, Is.InRange(19, 28), "30 s counted down from the loss, a hold after the crash");
        Assert.That(seg.LastAdvert(o1, n2).RedirectRemaining, Is.InRange(advert.RedirectRemaining - 1, advert.RedirectRemaining + 1),
            "the Offload secondary counts in step with the Cisco one");

        // Past the redirect time neither kind of AVG hands the vMAC out; its hosts are still served.
        seg.Run(Hold + Redirect - (seg.Now - crashed) + TimeSpan.FromSeconds(2)); // the primary is lost a hold time after the crash
        Assert.That(seg.HandedOut(), Does.Not.Contain(n2));
        Assert.That(seg.Forwarders(vmac2), Has.Count.EqualTo(1));

        // c2 returns before the time-out: it claims its number with 167 and takes it back after the preempt delay.
        c2.Start(seg.Now);
        seg.Run(Hold + PreemptDelay + TimeSpan.FromSeconds(3));
        seg.AssertSettled();
        Assert.That(seg.Forwarders(vmac2), Is.EqualTo(new[] { "cisco-2" }));
        Assert.That(seg.LastAdvert(c2, n2).Role, Is.EqualTo(GlbpForwarderRole.Primary));
        Assert.That(seg.HandedOut(), Does.Contain(n2), "handed out again once its owner is back");

        // o3 fails for good: past the time-out every member has forgotten its forwarder.
        byte n3 = owners[Mac(3)];
        o3.Crash();
        crashed = seg.Now;
        seg.Run(Timeout + Hold + TimeSpan.FromSeconds(5));
        seg.AssertSettled();
        Assert.That(seg.Forwarders(GlbpVirtualMac.Create(GroupNumber, n3)), Is.Empty);
        Assert.That(seg.KnownNumbers(), Does.Not.Contain(n3), "removed everywhere at time-out");
        Assert.That(seg.Violations, Is.Empty);
    }

    /// <summary>The segment: Offload groups on a fake clock, Cisco-shaped members ticked with it, lossless delivery.</summary>
    private sealed class Mixed : IDisposable
    {
        private static readonly TimeSpan Step = TimeSpan.FromMilliseconds(50);
        private readonly FakeTimeProvider _time = new(new DateTimeOffset(2026, 1, 1, 0, 0, 0, TimeSpan.Zero));
        private readonly DateTimeOffset _start;
        private readonly List<OffloadMember> _offload = [];
        private readonly List<CiscoShapedMember> _cisco = [];
        private readonly List<(uint From, byte[] Message)> _wire = [];
        private readonly Dictionary<(uint Ip, byte Number), GlbpForwarder> _adverts = [];
        private readonly Dictionary<ulong, TimeSpan> _duplicatedSince = [];
        private TimeSpan? _twoAvgsSince;

        private readonly Random _random = new(13);
        private readonly double _loss;

        public Mixed(double loss)
        {
            _start = _time.GetUtcNow();
            _loss = loss;
        }

        public TimeSpan Now => _time.GetUtcNow() - _start;

        public FakeTimeProvider Time => _time;

        public List<string> Violations { get; } = [];

        public OffloadMember AddOffload(int box, byte priority)
        {
            var options = new GlbpGroupOptions
            {
                Group = GroupNumber,
                LocalIp = Ip(box),
                LocalMac = Mac(box),
                VirtualIp = Vip,
                Priority = priority,
                HelloTime = Hello,
                HoldTime = Hold,
                RedirectTime = Redirect,
                TimeoutTime = Timeout,
                ForwarderPreemptDelay = PreemptDelay,
            };
            var m = new OffloadMember(this, options);
            _offload.Add(m);
            m.Group.Start();
            return m;
        }

        public CiscoShapedMember AddCisco(int box, byte priority)
        {
            var m = new CiscoShapedMember(GroupNumber, Ip(box), Mac(box), priority, Vip, Hello, Hold, Redirect, Timeout, PreemptDelay);
            _cisco.Add(m);
            m.Start(Now);
            return m;
        }

        public void Send(uint from, ReadOnlySpan<byte> message) => _wire.Add((from, message.ToArray()));

        public void Run(TimeSpan span)
        {
            TimeSpan end = Now + span;
            while (Now < end)
            {
                _time.Advance(Step);
                foreach (var c in _cisco)
                    c.Tick(Now);
                Deliver();
                Check();
            }
        }

        private void Deliver()
        {
            for (int rounds = 0; rounds < 100; rounds++)
            {
                foreach (var c in _cisco)
                {
                    foreach (var m in c.TakeSent())
                        _wire.Add((c.Ip, m));
                }
                if (_wire.Count == 0)
                    return;
                var batch = _wire.ToList();
                _wire.Clear();
                foreach (var (from, message) in batch)
                {
                    Record(from, message);
                    // Each receiver loses a message on its own, as on a lossy segment.
                    foreach (var o in _offload.Where(o => o.Up && o.Options.LocalIp != from && _random.NextDouble() >= _loss))
                        o.Group.Receive(message, from);
                    foreach (var c in _cisco.Where(c => c.Up && c.Ip != from && _random.NextDouble() >= _loss))
                        c.Receive(message, from);
                }
            }
            throw new InvalidOperationException("message storm");
        }

        private void Record(uint from, byte[] message)
        {
            if (!GlbpPacket.TryDecode(message, out GlbpPacket p).IsOk)
            {
                Violations.Add($"{Now}: undecodable message from {from:x8}");
                return;
            }
            foreach (var f in p.Forwarders)
                _adverts[(from, f.Forwarder)] = f;
        }

        public GlbpForwarder LastAdvert(object member, byte number) =>
            _adverts[(member is CiscoShapedMember c ? c.Ip : ((OffloadMember)member).Options.LocalIp, number)];

        /// <summary>Who forwards <paramref name="vmac"/> among the live members (by name).</summary>
        public List<string> Forwarders(ulong vmac) =>
        [
            .. _offload.Where(o => o.Up && o.Plane.Vmacs.Contains(vmac)).Select(o => o.ToString()),
            .. _cisco.Where(c => c.Up && c.Forwarding.Contains(vmac)).Select(c => c.ToString()),
        ];

        private int Avgs => _offload.Count(o => o.Up && o.Group.State == GatewayState.Active) + _cisco.Count(c => c.Up && c.State == GlbpVgState.Active);

        public bool AvgIsOffload => _offload.Any(o => o.Up && o.Group.State == GatewayState.Active);

        /// <summary>What the AVG hands out: an Offload AVG's slot table, or the Cisco-shaped AVG's list.</summary>
        public IReadOnlyList<byte> HandedOut()
        {
            if (_offload.FirstOrDefault(o => o.Up && o.Group.State == GatewayState.Active) is { } o)
                return [.. o.Plane.Slots.Distinct().Order()];
            return _cisco.Single(c => c.Up && c.State == GlbpVgState.Active).HandedOut;
        }

        public IEnumerable<byte> KnownNumbers() =>
            _offload.Where(o => o.Up).SelectMany(o => o.Group.Snapshot().Forwarders.Select(f => f.Number))
                .Concat(_cisco.Where(c => c.Up).SelectMany(c => c.Owners.Keys)).Distinct();

        /// <summary>Owner MAC → forwarder number, as the live members agree on it.</summary>
        public Dictionary<ulong, byte> OwnersByMac()
        {
            var views = new Dictionary<byte, HashSet<ulong>>();
            void Add(byte n, ulong owner)
            {
                // Settled, every member knows whose each forwarder is (from its primary's 167, or the AVG's record).
                Assert.That(owner, Is.Not.Zero, $"a member does not know the owner of forwarder {n}");
                if (!views.TryGetValue(n, out var set))
                    views[n] = set = [];
                set.Add(owner);
            }
            foreach (var o in _offload.Where(o => o.Up))
            {
                foreach (var f in o.Group.Snapshot().Forwarders)
                    Add(f.Number, f.OwnerMac);
            }
            foreach (var c in _cisco.Where(c => c.Up))
            {
                foreach (var (n, owner) in c.Owners)
                    Add(n, owner);
            }
            foreach (var (n, set) in views)
                Assert.That(set, Has.Count.EqualTo(1), $"members disagree on the owner of forwarder {n}: {string.Join(", ", set.Select(m => m.ToString("x12", System.Globalization.CultureInfo.InvariantCulture)))}");
            return views.ToDictionary(kv => kv.Value.Single(), kv => kv.Key);
        }

        /// <summary>Every step: no two AVGs and no vMAC forwarded twice for longer than a takeover takes.</summary>
        private void Check()
        {
            TimeSpan bound = Hold + Hello;
            if (Avgs > 1)
            {
                _twoAvgsSince ??= Now;
                if (Now - _twoAvgsSince > bound)
                    Violations.Add($"{Now}: {Avgs} AVGs since {_twoAvgsSince}");
            }
            else
            {
                _twoAvgsSince = null;
            }
            var counts = _offload.Where(o => o.Up).SelectMany(o => o.Plane.Vmacs).Concat(_cisco.Where(c => c.Up).SelectMany(c => c.Forwarding))
                .GroupBy(v => v).ToDictionary(g => g.Key, g => g.Count());
            foreach (var (vmac, count) in counts)
            {
                if (count > 1)
                {
                    TimeSpan since = _duplicatedSince.TryGetValue(vmac, out var s) ? s : _duplicatedSince[vmac] = Now;
                    if (Now - since > bound)
                        Violations.Add($"{Now}: {vmac:x12} forwarded by {count} members since {since}");
                }
                else
                {
                    _duplicatedSince.Remove(vmac);
                }
            }
            foreach (var vmac in _duplicatedSince.Keys.Where(v => !counts.ContainsKey(v)).ToList())
                _duplicatedSince.Remove(vmac);
        }

        /// <summary>One AVG; every forwarder known is forwarded by exactly one live member; owners agreed.</summary>
        public void AssertSettled()
        {
            Assert.That(Violations, Is.Empty);
            Assert.That(Avgs, Is.EqualTo(1), "one AVG");
            OwnersByMac();
            foreach (byte n in KnownNumbers())
                Assert.That(Forwarders(GlbpVirtualMac.Create(GroupNumber, n)), Has.Count.EqualTo(1), $"forwarder {n} forwarded by exactly one live member");
        }

        public void Dispose()
        {
            foreach (var o in _offload)
                o.Group.Dispose();
        }
    }

    private sealed class OffloadMember : IGlbpTransport
    {
        private readonly Mixed _segment;

        public OffloadMember(Mixed segment, GlbpGroupOptions options)
        {
            _segment = segment;
            Options = options;
            Group = new GlbpGroup(options, segment.Time, this, Plane);
        }

        public GlbpGroupOptions Options { get; }
        public GlbpGroup Group { get; }
        public RecordingPlane Plane { get; } = new();
        public bool Up { get; private set; } = true;

        public void Send(ReadOnlySpan<byte> glbpMessage, ulong ethernetSource)
        {
            if (Up)
                _segment.Send(Options.LocalIp, glbpMessage);
        }

        public void Crash()
        {
            Up = false;
            Group.Dispose();
        }

        public override string ToString() => $"offload-{Options.LocalIp & 0xFF}";
    }
}
