using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Text;
using Offload.Protocol.Agent;

namespace Offload.Protocol.Tests;

public class AgentCodecTests
{
    private static readonly byte[] Key = Encoding.ASCII.GetBytes("agent-test-key");
    private static readonly DateTimeOffset T0 = new(2025, 3, 1, 12, 0, 0, TimeSpan.Zero);

    private static AgentReport Report(string id = "web-1", int? weight = 40, bool drain = false) =>
        new(id, BootId: 1_740_830_400_000_000, Sequence: 7, T0, Cpu: 0.4321, Memory: 0.75, Connections: 1234, weight, drain, TimeSpan.FromMilliseconds(1500));

    private static byte[] Encode(in AgentReport r, byte[]? key = null)
    {
        byte[] buffer = new byte[AgentProtocol.MaxLength];
        int n = AgentCodec.WriteReport(buffer, r, key ?? Key);
        return buffer[..n];
    }

    /// <summary>Recomputes the trailing MAC the way the format says (independently of the codec), after a test edits a field.</summary>
    private static byte[] Resign(byte[] message)
    {
        byte[] m = [.. message];
        int signed = m.Length - AgentProtocol.MacLength;
        byte[] full = HMACSHA256.HashData(Key, m.AsSpan(0, signed));
        full.AsSpan(0, AgentProtocol.MacLength).CopyTo(m.AsSpan(signed));
        return m;
    }

    [Test]
    public void A_report_round_trips_every_field()
    {
        var sent = Report();
        byte[] wire = Encode(sent);
        AgentReject r = AgentCodec.TryDecode(wire, Key, out AgentFrame frame);
        Assert.That(r, Is.EqualTo(AgentReject.None));
        AgentReport got = frame.ToReport();
        using (Assert.EnterMultipleScope())
        {
            Assert.That(wire, Has.Length.EqualTo(64 + 5), "header 32 + body 16 + id 5 + MAC 16");
            Assert.That(frame.Type, Is.EqualTo(AgentMessageType.Report));
            Assert.That(got.Id, Is.EqualTo("web-1"));
            Assert.That(got.BootId, Is.EqualTo(sent.BootId));
            Assert.That(got.Sequence, Is.EqualTo(7UL));
            Assert.That(got.Time, Is.EqualTo(T0));
            Assert.That(got.Cpu, Is.EqualTo(0.4321).Within(1e-12), "CPU travels in 1/10000 steps");
            Assert.That(got.Memory, Is.EqualTo(0.75));
            Assert.That(got.Connections, Is.EqualTo(1234u));
            Assert.That(got.Weight, Is.EqualTo(40));
            Assert.That(got.Drain, Is.False);
            Assert.That(got.Interval, Is.EqualTo(TimeSpan.FromMilliseconds(1500)));
        }
    }

    [Test]
    public void Unset_weight_and_drain_are_told_apart_from_weight_zero()
    {
        AgentCodec.TryDecode(Encode(Report(weight: null, drain: true)), Key, out AgentFrame unset);
        bool unsetDrain = unset.Drain;
        int? unsetWeight = unset.Weight;
        AgentCodec.TryDecode(Encode(Report(weight: 0)), Key, out AgentFrame zero);
        using (Assert.EnterMultipleScope())
        {
            Assert.That(unsetWeight, Is.Null);
            Assert.That(unsetDrain, Is.True);
            Assert.That(zero.Weight, Is.Zero);
            Assert.That(zero.Drain, Is.False);
        }
    }

    [Test]
    public void The_layout_is_big_endian_as_documented()
    {
        byte[] w = Encode(Report());
        using (Assert.EnterMultipleScope())
        {
            Assert.That(Encoding.ASCII.GetString(w, 0, 4), Is.EqualTo("OFAG"));
            Assert.That(w[4], Is.EqualTo(1), "version");
            Assert.That(w[5], Is.EqualTo(1), "type report");
            Assert.That(w[6], Is.EqualTo(1), "flags: weight set");
            Assert.That(w[7], Is.EqualTo(5), "id length");
            Assert.That(BinaryPrimitives.ReadUInt64BigEndian(w.AsSpan(16)), Is.EqualTo(7UL));
            Assert.That(BinaryPrimitives.ReadInt64BigEndian(w.AsSpan(24)), Is.EqualTo(T0.ToUnixTimeMilliseconds()));
            Assert.That(BinaryPrimitives.ReadUInt16BigEndian(w.AsSpan(32)), Is.EqualTo(4321));
            Assert.That(BinaryPrimitives.ReadUInt16BigEndian(w.AsSpan(34)), Is.EqualTo(7500));
            Assert.That(BinaryPrimitives.ReadUInt32BigEndian(w.AsSpan(36)), Is.EqualTo(1234u));
            Assert.That(BinaryPrimitives.ReadUInt16BigEndian(w.AsSpan(40)), Is.EqualTo(40));
            Assert.That(BinaryPrimitives.ReadUInt32BigEndian(w.AsSpan(44)), Is.EqualTo(1500u));
            Assert.That(Encoding.ASCII.GetString(w, 48, 5), Is.EqualTo("web-1"));
            // The MAC is the first 16 bytes of HMAC-SHA256 over everything before it.
            Assert.That(w[^16..], Is.EqualTo(HMACSHA256.HashData(Key, w.AsSpan(0, w.Length - 16))[..16]));
        }
    }

    [Test]
    public void A_query_round_trips_and_is_shorter_than_a_report()
    {
        byte[] buffer = new byte[AgentProtocol.MaxLength];
        int n = AgentCodec.WriteQuery(buffer, new AgentQuery("web-1", 99, 3, T0), Key);
        AgentReject r = AgentCodec.TryDecode(buffer.AsSpan(0, n), Key, out AgentFrame frame);
        using (Assert.EnterMultipleScope())
        {
            Assert.That(r, Is.EqualTo(AgentReject.None));
            Assert.That(n, Is.EqualTo(48 + 5));
            Assert.That(frame.Type, Is.EqualTo(AgentMessageType.Query));
            Assert.That(frame.ToQuery(), Is.EqualTo(new AgentQuery("web-1", 99, 3, T0)));
        }
    }

    /// <summary>One input per structural or range reason; each is re-signed, so only the named defect is wrong.</summary>
    public static IEnumerable<TestCaseData> Malformed()
    {
        byte[] valid = Encode(Report());
        TestCaseData Case(AgentReject why, string name, byte[] bytes) => new TestCaseData(bytes, why).SetName($"Rejects {name} as {why}");
        byte[] Edit(Action<byte[]> edit, bool resign = true)
        {
            byte[] m = [.. valid];
            edit(m);
            return resign ? Resign(m) : m;
        }
        yield return Case(AgentReject.TooShort, "an empty datagram", []);
        yield return Case(AgentReject.TooShort, "a cut header", valid[..31]);
        yield return Case(AgentReject.BadMagic, "another magic", Edit(m => m[0] = (byte)'X'));
        yield return Case(AgentReject.UnsupportedVersion, "version 2", Edit(m => m[4] = 2));
        yield return Case(AgentReject.UnknownType, "type 0", Edit(m => m[5] = 0));
        yield return Case(AgentReject.UnknownType, "type 3", Edit(m => m[5] = 3));
        yield return Case(AgentReject.BadIdLength, "id length 0", Edit(m => m[7] = 0));
        yield return Case(AgentReject.BadIdLength, "id length 65", Edit(m => m[7] = 65));
        yield return Case(AgentReject.LengthMismatch, "a longer id length than present", Edit(m => m[7] = 6));
        yield return Case(AgentReject.LengthMismatch, "a missing MAC byte", valid[..^1]);
        yield return Case(AgentReject.LengthMismatch, "a trailing byte", [.. valid, 0]);
        yield return Case(AgentReject.LengthMismatch, "a report with a query's length", Edit(m => m[5] = 2));
        yield return Case(AgentReject.BadId, "a space in the id", Edit(m => m[50] = (byte)' '));
        yield return Case(AgentReject.BadId, "a non-ASCII id byte", Edit(m => m[50] = 0xC3));
        yield return Case(AgentReject.BadFlags, "an unknown flag", Edit(m => m[6] |= 0x80));
        yield return Case(AgentReject.BadFlags, "a weight without its flag", Edit(m => m[6] = 0));
        yield return Case(AgentReject.FieldOutOfRange, "CPU above 100 %", Edit(m => BinaryPrimitives.WriteUInt16BigEndian(m.AsSpan(32), 10_001)));
        yield return Case(AgentReject.FieldOutOfRange, "memory above 100 %", Edit(m => BinaryPrimitives.WriteUInt16BigEndian(m.AsSpan(34), 65_535)));
        yield return Case(AgentReject.FieldOutOfRange, "a reserved field set", Edit(m => m[43] = 1));
        yield return Case(AgentReject.FieldOutOfRange, "interval 0", Edit(m => BinaryPrimitives.WriteUInt32BigEndian(m.AsSpan(44), 0)));
        yield return Case(AgentReject.FieldOutOfRange, "an interval above an hour", Edit(m => BinaryPrimitives.WriteUInt32BigEndian(m.AsSpan(44), 3_600_001)));
        yield return Case(AgentReject.FieldOutOfRange, "a negative time", Edit(m => m[24] = 0x80));
        // Found by the agent fuzz target: ToReport and ToQuery threw for a time DateTimeOffset cannot hold.
        yield return Case(AgentReject.FieldOutOfRange, "a time after the year 9999", Edit(m => BinaryPrimitives.WriteInt64BigEndian(m.AsSpan(24), 253_402_300_800_000)));
        yield return Case(AgentReject.BadMac, "a changed connection count", Edit(m => m[39] ^= 1, resign: false));
        yield return Case(AgentReject.BadMac, "a changed MAC", Edit(m => m[^1] ^= 0x40, resign: false));

        byte[] query = new byte[AgentProtocol.MaxLength];
        int n = AgentCodec.WriteQuery(query, new AgentQuery("web-1", 1, 1, T0), Key);
        byte[] q = query[..n];
        q[6] = (byte)AgentFlags.Drain;
        yield return Case(AgentReject.BadFlags, "flags on a query", Resign(q));
    }

    [TestCaseSource(nameof(Malformed))]
    public void Malformed_input_is_rejected_with_its_reason(byte[] datagram, AgentReject why)
    {
        AgentReject got = AgentCodec.TryDecode(datagram, Key, out AgentFrame frame);
        using (Assert.EnterMultipleScope())
        {
            Assert.That(got, Is.EqualTo(why));
            Assert.That(frame.Id.IsEmpty, Is.True, "a rejected datagram yields no frame");
            Assert.That(AgentCodec.Describe(got), Is.Not.EqualTo(got.ToString()), "every reason has a description");
        }
    }

    [Test]
    public void A_report_signed_with_another_key_is_a_bad_mac()
    {
        byte[] w = Encode(Report(), Encoding.ASCII.GetBytes("other-key"));
        Assert.That(AgentCodec.TryDecode(w, Key, out _), Is.EqualTo(AgentReject.BadMac));
    }

    [Test]
    public void Every_single_bit_flip_of_a_valid_report_is_rejected()
    {
        byte[] valid = Encode(Report());
        var accepted = new List<int>();
        for (int bit = 0; bit < valid.Length * 8; bit++)
        {
            byte[] m = [.. valid];
            m[bit / 8] ^= (byte)(1 << (bit % 8));
            if (AgentCodec.TryDecode(m, Key, out _) == AgentReject.None)
                accepted.Add(bit);
        }
        Assert.That(accepted, Is.Empty, "bits whose flip still passed");
    }

    [Test]
    public void Random_bytes_never_throw_and_never_pass()
    {
        var rng = new Random(20250301);
        byte[] valid = Encode(Report());
        var counts = new Dictionary<AgentReject, int>();
        for (int i = 0; i < 20_000; i++)
        {
            byte[] m;
            if (i % 2 == 0)
            {
                m = new byte[rng.Next(0, AgentProtocol.MaxLength + 8)];
                rng.NextBytes(m);
                // Half of the random inputs get a valid header, so the checks past the magic are reached too.
                if (m.Length >= 8 && i % 4 == 0)
                    valid.AsSpan(0, 5).CopyTo(m);
            }
            else
            {
                // Valid reports with a few random bytes overwritten.
                m = [.. valid];
                for (int k = rng.Next(1, 4); k > 0; k--)
                    m[rng.Next(m.Length)] = (byte)rng.Next(256);
                if (m.AsSpan().SequenceEqual(valid))
                    continue;
            }
            AgentReject r = AgentCodec.TryDecode(m, Key, out _);
            counts[r] = counts.GetValueOrDefault(r) + 1;
        }
        using (Assert.EnterMultipleScope())
        {
            Assert.That(counts.ContainsKey(AgentReject.None), Is.False, "a random or damaged datagram was accepted");
            Assert.That(counts.Keys, Does.Contain(AgentReject.BadMac).And.Contain(AgentReject.BadMagic).And.Contain(AgentReject.LengthMismatch),
                "the fuzz reached the deeper checks");
        }
    }

    [Test]
    public void The_encoder_refuses_what_the_wire_cannot_carry()
    {
        byte[] b = new byte[AgentProtocol.MaxLength];
        using (Assert.EnterMultipleScope())
        {
            Assert.That(() => AgentCodec.WriteReport(b, Report() with { Cpu = 1.5 }, Key), Throws.InstanceOf<ArgumentOutOfRangeException>());
            Assert.That(() => AgentCodec.WriteReport(b, Report() with { Memory = double.NaN }, Key), Throws.InstanceOf<ArgumentOutOfRangeException>());
            Assert.That(() => AgentCodec.WriteReport(b, Report(weight: 65_536), Key), Throws.InstanceOf<ArgumentOutOfRangeException>());
            Assert.That(() => AgentCodec.WriteReport(b, Report() with { Interval = TimeSpan.Zero }, Key), Throws.InstanceOf<ArgumentOutOfRangeException>());
            Assert.That(() => AgentCodec.WriteReport(b, Report(id: "has space"), Key), Throws.ArgumentException.With.Message.Contains("has space"));
            Assert.That(() => AgentCodec.WriteReport(b, Report(id: new string('x', 65)), Key), Throws.ArgumentException);
            Assert.That(() => AgentCodec.WriteReport(new byte[40], Report(), Key), Throws.ArgumentException.With.Message.Contains("needs 69 bytes"));
        }
    }

    [Test]
    public void The_replay_guard_takes_only_newer_messages()
    {
        var guard = new AgentReplayGuard();
        byte[] a = "a"u8.ToArray(), b = "b"u8.ToArray();
        using (Assert.EnterMultipleScope())
        {
            Assert.That(guard.Check(a, 10, 5), Is.EqualTo(AgentReject.None), "first message of an agent");
            Assert.That(guard.Check(a, 10, 6), Is.EqualTo(AgentReject.None));
            Assert.That(guard.Check(a, 10, 6), Is.EqualTo(AgentReject.Replayed), "same sequence again");
            Assert.That(guard.Check(a, 10, 2), Is.EqualTo(AgentReject.Replayed), "older sequence");
            Assert.That(guard.Check(b, 3, 1), Is.EqualTo(AgentReject.None), "agents are tracked apart");
            Assert.That(guard.Check(a, 11, 1), Is.EqualTo(AgentReject.None), "a restarted agent starts again at 1 under a larger boot id");
            Assert.That(guard.Check(a, 10, 99), Is.EqualTo(AgentReject.StaleBoot), "a message of the previous boot");
            Assert.That(guard.Check(a, 11, 1), Is.EqualTo(AgentReject.Replayed));
            Assert.That(guard.Count, Is.EqualTo(2));
        }
    }

    [Test]
    public void Proc_parsers_read_the_documented_fields()
    {
        byte[] stat = "cpu  100 20 30 400 50 6 4 10 0 0\ncpu0 1 2 3 4 5 6 7 8 0 0\n"u8.ToArray();
        byte[] meminfo = "MemTotal:       16000 kB\nMemFree:         1000 kB\nMemAvailable:    4000 kB\n"u8.ToArray();
        byte[] tcp = Encoding.ASCII.GetBytes("  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n"
            + "   0: 0100007F:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 1 1\n"
            + "   1: 0100007F:1F90 0100007F:9C40 01 00000000:00000000 00:00000000 00000000     0        0 2 1\n"
            + "   2: 0100007F:9C40 0100007F:1F90 01 00000000:00000000 00:00000000 00000000     0        0 3 1\n"
            + "   3: 0100007F:9C41 0100007F:1F90 06 00000000:00000000 00:00000000 00000000     0        0 0 1\n");
        using (Assert.EnterMultipleScope())
        {
            Assert.That(ProcParsers.TryParseCpu(stat, out ulong busy, out ulong total), Is.True);
            Assert.That(busy, Is.EqualTo(100UL + 20 + 30 + 6 + 4 + 10), "user nice system irq softirq steal");
            Assert.That(total, Is.EqualTo(busy + 400 + 50), "plus idle and iowait");
            Assert.That(ProcParsers.TryParseMemory(meminfo, out double used), Is.True);
            Assert.That(used, Is.EqualTo(0.75), "1 - MemAvailable / MemTotal");
            Assert.That(ProcParsers.CountEstablished(tcp), Is.EqualTo(2), "state 01 only; LISTEN (0A) and TIME_WAIT (06) do not count");
            Assert.That(ProcParsers.TryParseCpu("intr 1 2 3"u8, out _, out _), Is.False);
            Assert.That(ProcParsers.TryParseMemory("MemTotal: 0 kB\nMemAvailable: 0 kB\n"u8, out _), Is.False);
            Assert.That(ProcParsers.CountEstablished("garbage\n\n 01\n"u8), Is.Zero);
        }
    }

    [Test]
    public void The_proc_source_counts_a_real_loopback_connection()
    {
        var source = new ProcHostLoadSource();
        HostLoad before = source.Sample();
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        using var client = new TcpClient();
        client.Connect((IPEndPoint)listener.LocalEndpoint);
        using var accepted = listener.AcceptTcpClient();
        HostLoad during = source.Sample();
        using (Assert.EnterMultipleScope())
        {
            Assert.That(before.Cpu, Is.InRange(0.0, 1.0));
            Assert.That(during.Cpu, Is.InRange(0.0, 1.0));
            Assert.That(during.Memory, Is.GreaterThan(0.0).And.LessThan(1.0), "a running host uses some memory and has some left");
            // Both ends of the loopback connection are ESTABLISHED rows; other processes may add or drop their own.
            Assert.That(during.Connections, Is.GreaterThanOrEqualTo(2u));
        }
    }
}
