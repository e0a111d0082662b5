using System.Buffers.Binary;
using System.Text;
using Offload.Device;
using Offload.Device.Wire;
using Offload.Fuzz.Targets;
using Offload.Protocol;
using Offload.Protocol.Agent;
using Offload.Protocol.Glbp;
using Offload.Protocol.Pcap;
using Offload.Protocol.Sync;

namespace Offload.Fuzz;

/// <summary>
/// Writes the seed corpus, one folder per target, with the project's own writers, so the seeds are what the code
/// sends today. Small on purpose: AFL mutates small inputs faster.
/// </summary>
internal static class Seeds
{
    public static void Write(string root)
    {
        Glbp(Dir(root, "glbp"));
        Sync(Dir(root, "sync"));
        Agent(Dir(root, "agent"));
        Pcap(Dir(root, "pcap"));
        Wire(Dir(root, "command-wire"));
        Config(Dir(root, "config"));
    }

    private static string Dir(string root, string target)
    {
        string dir = Path.Combine(root, target);
        Directory.CreateDirectory(dir);
        return dir;
    }

    private static readonly GlbpHeader Header = new(7, 0x0200_0000_0011);
    private static readonly GlbpHello Hello = new(GlbpVgState.Active, 100, 3000, 10000, 600, 14400, Ipv4Address.Parse("10.0.0.1"));

    private static void Glbp(string dir)
    {
        var buffer = new byte[GlbpProtocol.MaxLength];
        var w = new GlbpWriter(buffer, Header);
        w.WriteHello(Hello);
        w.WriteForwarder(new GlbpForwarder(1, GlbpVfState.Active, 167, 100, GlbpVirtualMac.Create(7, 1)));
        w.WriteForwarder(new GlbpForwarder(2, GlbpVfState.Listen, 135, 100, GlbpVirtualMac.Create(7, 2)));
        File.WriteAllBytes(Path.Combine(dir, "hello-two-forwarders"), w.Written.ToArray());

        w = new GlbpWriter(buffer, Header);
        w.WriteAuthMd5KeyString();
        w.WriteHello(Hello);
        int length = w.Length;
        GlbpAuthenticator.SignMd5(buffer.AsSpan(0, length), 0x0A00_000B, FuzzTargets.Key);
        File.WriteAllBytes(Path.Combine(dir, "md5-hello"), buffer[..length]);

        w = new GlbpWriter(buffer, Header);
        w.WriteOffloadAuth(1, 42);
        w.WriteHello(Hello);
        w.WriteTlv(0xF7, [1, 2, 3, 4]);
        length = w.Length;
        GlbpAuthenticator.SignOffload(buffer.AsSpan(0, length), 0x0A00_000B, FuzzTargets.Key);
        File.WriteAllBytes(Path.Combine(dir, "offload-auth-unknown-tlv"), buffer[..length]);
    }

    private static void Sync(string dir)
    {
        var buffer = new byte[SyncWire.MaxMessage];
        var key = new SyncFlowKey(0, 0x0A00_0064, 0xC000_020A, 6, 40000, 80);
        var w = new SyncMessageWriter(buffer);
        w.Begin(SyncMessageType.FlowBatch, 11, 1, 1);
        w.TryAddFlow(new SyncFlow(key, 0x0007_B400_0701, SyncFlowFlags.TtlDecrement, 0, 0, 0, 0x0200_0000_0101, 1), "b1");
        var reverse = new SyncFlowKey(1, 0xC633_6401, 0x0A00_0064, 6, 8080, 40000);
        w.TryAddFlow(new SyncFlow(key, 0x0007_B400_0701, SyncFlowFlags.HasReverse | SyncFlowFlags.SynOnly, 1, 0xC633_6401, 8080, 0x0200_0000_0101, 1,
            reverse, 0xC000_020A, 80, 0x0200_0000_0A01, 0), "backend-ü");
        File.WriteAllBytes(Path.Combine(dir, "flow-batch"), buffer[..w.Finish(FuzzTargets.Key)]);

        w = new SyncMessageWriter(buffer);
        w.Begin(SyncMessageType.Withdraw, 11, 1, 2);
        w.TryAddWithdraw(key);
        File.WriteAllBytes(Path.Combine(dir, "withdraw"), buffer[..w.Finish(FuzzTargets.Key)]);

        w = new SyncMessageWriter(buffer);
        w.Begin(SyncMessageType.Ack, 12, 3, 2);
        File.WriteAllBytes(Path.Combine(dir, "ack"), buffer[..w.Finish(FuzzTargets.Key)]);
    }

    private static void Agent(string dir)
    {
        var buffer = new byte[AgentProtocol.MaxLength];
        var time = DateTimeOffset.FromUnixTimeMilliseconds(1_700_000_000_000);
        int n = AgentCodec.WriteReport(buffer, new AgentReport("web-1", 7, 1, time, 0.25, 0.5, 120, 80, false, TimeSpan.FromSeconds(1)), FuzzTargets.Key);
        File.WriteAllBytes(Path.Combine(dir, "report"), buffer[..n]);
        n = AgentCodec.WriteReport(buffer, new AgentReport("web-2", 8, 9, time, 1, 0, 0, null, true, TimeSpan.FromMilliseconds(250)), FuzzTargets.Key);
        File.WriteAllBytes(Path.Combine(dir, "report-drain"), buffer[..n]);
        n = AgentCodec.WriteQuery(buffer, new AgentQuery("web-1", 3, 4, time), FuzzTargets.Key);
        File.WriteAllBytes(Path.Combine(dir, "query"), buffer[..n]);
    }

    private static void Pcap(string dir)
    {
        byte[] frame = FrameBuilder.BuildEthernet(new EthernetHeader(0xFFFF_FFFF_FFFF, 0x0200_0000_0011), 0x0806, new byte[28]);
        foreach (bool nano in new[] { false, true })
        {
            using var stream = new MemoryStream();
            using (var writer = new PcapWriter(stream, nanosecond: nano, leaveOpen: true))
            {
                writer.Write(frame, 1_700_000_000_123_456_789);
                writer.Write(frame.AsSpan(0, 20), 1_700_000_001_000_000_000, frame.Length);
            }
            File.WriteAllBytes(Path.Combine(dir, nano ? "pcap-nano" : "pcap-micro"), stream.ToArray());
        }
        File.WriteAllBytes(Path.Combine(dir, "pcapng"), PcapNg(frame));
    }

    // The project has no pcapng writer (it only reads them): one section, one interface with a nanosecond if_tsresol,
    // one enhanced and one simple packet block, laid out as the pcapng draft says.
    private static byte[] PcapNg(byte[] frame)
    {
        using var s = new MemoryStream();
        void U32(uint v)
        {
            Span<byte> b = stackalloc byte[4];
            BinaryPrimitives.WriteUInt32LittleEndian(b, v);
            s.Write(b);
        }
        void U16(ushort v)
        {
            Span<byte> b = stackalloc byte[2];
            BinaryPrimitives.WriteUInt16LittleEndian(b, v);
            s.Write(b);
        }
        int padded = (frame.Length + 3) & ~3;
        // Section header block: type, length, byte-order magic, version 1.0, section length unknown.
        U32(0x0A0D0D0A); U32(28); U32(0x1A2B3C4D); U16(1); U16(0); U32(0xFFFFFFFF); U32(0xFFFFFFFF); U32(28);
        // Interface description block: Ethernet, snaplen 65535, if_tsresol = 9 (nanoseconds), opt_endofopt.
        U32(1); U32(32); U16(1); U16(0); U32(65535); U16(9); U16(1); s.WriteByte(9); s.Write(new byte[3]); U16(0); U16(0); U32(32);
        // Enhanced packet block.
        long ts = 1_700_000_000_123_456_789;
        uint epb = (uint)(32 + padded);
        U32(6); U32(epb); U32(0); U32((uint)(ts >> 32)); U32((uint)ts); U32((uint)frame.Length); U32((uint)frame.Length);
        s.Write(frame); s.Write(new byte[padded - frame.Length]); U32(epb);
        // Simple packet block.
        uint spb = (uint)(16 + padded);
        U32(3); U32(spb); U32((uint)frame.Length); s.Write(frame); s.Write(new byte[padded - frame.Length]); U32(spb);
        return s.ToArray();
    }

    private static void Wire(string dir)
    {
        var ops = new[] { CsrOp.Write(0x100, 1), CsrOp.Write(0x104, 2), CsrOp.Read(0x200), CsrOp.Read(0x204), CsrOp.Write(0x300, 5), CsrOp.Write(0x300, 6) };
        var buffer = new byte[4096];
        int n = CommandWire.EncodeRequest(ops, 9, buffer, out _);
        File.WriteAllBytes(Path.Combine(dir, "request"), [0, .. buffer[..n]]);
        var reads = new[] { CsrOp.Read(0), CsrOp.Read(4) };
        n = CommandWire.EncodeResponse(WireStatus.Ok, 9, reads, [0xDEAD_BEEF, 7], reads.Length, buffer);
        File.WriteAllBytes(Path.Combine(dir, "response-ok"), [1, (byte)reads.Length, .. buffer[..n]]);
        n = CommandWire.EncodeResponse(WireStatus.NoAck, 9, reads, [0, 0], 1, buffer);
        File.WriteAllBytes(Path.Combine(dir, "response-noack"), [1, (byte)reads.Length, .. buffer[..n]]);
    }

    private static readonly UTF8Encoding NoBom = new(encoderShouldEmitUTF8Identifier: false);

    private static void Config(string dir)
    {
        File.WriteAllText(Path.Combine(dir, "minimal.json"), """
            { "gateway": { "name": "gw", "ip": "10.0.0.11", "port0Mac": "02:0f:00:00:00:01", "port1Mac": "02:0f:00:00:01:01" },
              "routes": [ { "prefix": "10.1.0.0/16", "nextHop": 1, "mac": "02:00:00:00:02:01", "egressPort": 1 } ] }
            """, NoBom);
        File.WriteAllText(Path.Combine(dir, "full.json"), """
            {
              "gateway": { "name": "gw-a", "ip": "10.0.0.11", "port0Mac": "02:0f:00:00:00:01", "port1Mac": "02:0f:00:00:01:01", "logLevel": "debug" },
              "groups": [ { "number": 1, "vip": "10.0.0.1", "priority": 110, "preempt": true, "helloMs": 1000, "holdMs": 3000,
                "loadBalancing": "weighted", "weighting": 100, "lowerThreshold": 50, "maxForwarders": 4,
                "auth": { "type": "md5", "key": "k" }, "track": [ { "service": "192.0.2.10:80/tcp", "minHealthy": 1, "decrement": 60 } ] } ],
              "services": [ { "vip": "192.0.2.10", "protocol": "tcp", "port": 80, "mode": "nat", "scheduler": "maglev",
                "backends": [ { "id": "b1", "address": "198.51.100.1", "port": 8080, "mac": "02:00:00:00:01:01", "nextHop": 1, "weight": 1, "egressPort": 1 } ] } ],
              "routes": [ { "prefix": "0.0.0.0/0", "nextHop": 10, "mac": "02:00:00:00:02:01", "egressPort": 1 } ],
              "sync": { "port": 3223, "key": "sync-key", "peers": [ { "ip": "10.0.0.12", "mac": "02:0f:00:00:00:02" } ] },
              "api": { "listen": "127.0.0.1:9100" }
            }
            """, NoBom);
    }
}
