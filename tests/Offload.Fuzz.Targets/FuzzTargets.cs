using System.Buffers.Binary;
using System.Security.Cryptography;
using System.Text;
using Offload.Daemon;
using Offload.Device;
using Offload.Device.Wire;
using Offload.Protocol.Agent;
using Offload.Protocol.Glbp;
using Offload.Protocol.Pcap;
using Offload.Protocol.Sync;

namespace Offload.Fuzz.Targets;

/// <summary>
/// One fuzz target per decoder: each feeds arbitrary bytes to the decoder and reads everything it decoded. A refusal
/// the decoder documents (a result code, or its own exception type) is a normal outcome and returns; any other
/// exception escapes, and that is a finding.
/// </summary>
public static class FuzzTargets
{
    /// <summary>The key the sync and agent targets re-sign with, so mutated messages get past authentication.</summary>
    public static readonly byte[] Key = Encoding.ASCII.GetBytes("offload-fuzz-key");

    private const int MaxOpsInFuzzResponse = 255;

    public static IReadOnlyList<string> Names { get; } = ["glbp", "sync", "agent", "pcap", "command-wire", "config"];

    /// <summary>The target called <paramref name="name"/>, or null.</summary>
    public static Action<byte[]>? Find(string name) => name switch
    {
        "glbp" => Glbp,
        "sync" => Sync,
        "agent" => Agent,
        "pcap" => Pcap,
        "command-wire" => CommandWireTarget,
        "config" => Config,
        _ => null,
    };

    public static void Glbp(byte[] input)
    {
        var result = GlbpPacket.TryDecode(input, out var packet);
        if (result.Error != GlbpError.None)
            return;
        long sink = packet.Header.Group + packet.ForwarderCount;
        if (packet.HasHello)
            sink += packet.Hello.HoldMs + packet.HelloAddress.Length;
        if (packet.HasAuth)
            sink += (int)packet.Auth.Type + packet.Auth.KeyId + packet.Auth.Text.Length + packet.Auth.Digest.Length;
        if (packet.HasOffloadAuth)
            sink += packet.OffloadAuth.KeyId + packet.OffloadAuth.Sequence + packet.OffloadAuth.Mac.Length;
        foreach (var f in packet.Forwarders)
            sink += f.Forwarder;
        foreach (var l in packet.OffloadLoads)
            sink += l.GetHashCode();
        foreach (var o in packet.OffloadOwners)
            sink += o.GetHashCode();
        foreach (var t in packet.Tlvs)
            sink += t.Type + t.Value.Length;
        // Verification reads the auth TLVs' offsets and lengths the decoder accepted.
        sink += (int)GlbpAuthenticator.Verify(packet, 0x0A00_0001, new GlbpAuthSettings(GlbpAuthMode.Md5KeyString, Key));
        sink += (int)GlbpAuthenticator.Verify(packet, 0x0A00_0001, new GlbpAuthSettings(GlbpAuthMode.OffloadHmacSha256, Key));
        GC.KeepAlive(sink);
    }

    /// <summary>
    /// Decodes the input as it is (the framing checks), then with its length field and tag made right, so the
    /// fuzzer reaches the record checks and the record reader behind the tag.
    /// </summary>
    public static void Sync(byte[] input)
    {
        SyncMessage.TryDecode(input, Key, out _);
        if (input.Length < SyncWire.HeaderLength + SyncWire.TagLength || input.Length > SyncWire.MaxMessage)
            return;
        var message = (byte[])input.Clone();
        BinaryPrimitives.WriteUInt16BigEndian(message.AsSpan(28), (ushort)message.Length);
        int signed = message.Length - SyncWire.TagLength;
        Span<byte> full = stackalloc byte[HMACSHA256.HashSizeInBytes];
        HMACSHA256.HashData(Key, message.AsSpan(0, signed), full);
        full[..SyncWire.TagLength].CopyTo(message.AsSpan(signed));
        if (SyncMessage.TryDecode(message, Key, out var header) != SyncError.None)
            return;
        var reader = new SyncRecordReader(message, header);
        int records = 0;
        if (header.Type == SyncMessageType.FlowBatch)
        {
            while (reader.TryReadFlow(out _, out var id))
            {
                _ = Encoding.UTF8.GetString(id);
                records++;
            }
        }
        else
        {
            while (reader.TryReadWithdraw(out _))
                records++;
        }
        if (records != header.Count)
            throw new InvalidOperationException($"TryDecode accepted {header.Count} record(s), the reader found {records}");
    }

    /// <summary>Parses the input, then re-signs it and decodes it whole, reading the report or query it carries.</summary>
    public static void Agent(byte[] input)
    {
        if (AgentCodec.TryParse(input, out _) != AgentReject.None || input.Length < AgentProtocol.HeaderLength + AgentProtocol.MacLength)
            return;
        var datagram = (byte[])input.Clone();
        int signed = datagram.Length - AgentProtocol.MacLength;
        Span<byte> mac = stackalloc byte[HMACSHA256.HashSizeInBytes];
        HMACSHA256.HashData(Key, datagram.AsSpan(0, signed), mac);
        mac[..AgentProtocol.MacLength].CopyTo(datagram.AsSpan(signed));
        if (AgentCodec.TryDecode(datagram, Key, out var frame) != AgentReject.None)
            throw new InvalidOperationException("a datagram TryParse accepted was refused once signed with the key");
        if (frame.Type == AgentMessageType.Report)
            GC.KeepAlive(frame.ToReport());
        else
            GC.KeepAlive(frame.ToQuery());
    }

    public static void Pcap(byte[] input)
    {
        try
        {
            using var reader = new PcapReader(new MemoryStream(input, writable: false), name: "fuzz");
            long sink = reader.LinkType;
            while (reader.TryRead(out var packet))
                sink += packet.Timestamp.Ticks + packet.Data.Length + packet.OriginalLength + packet.InterfaceId;
            GC.KeepAlive(sink);
        }
        catch (PcapFormatException)
        {
        }
    }

    private static readonly CsrOp[] Ops = new CsrOp[CommandWire.MaxOps];

    /// <summary>
    /// The first byte picks the side: even decodes the rest as a request (the server's side), odd as a response
    /// (the client's) to a request of as many reads as the second byte says, with the sequence number the response
    /// carries, so the fuzzer gets past the sequence check.
    /// </summary>
    public static void CommandWireTarget(byte[] input)
    {
        if (input.Length < 2)
            return;
        if ((input[0] & 1) == 0)
        {
            var status = CommandWire.DecodeRequest(input.AsSpan(1), Ops, out _, out int count, out string error);
            if (status == WireStatus.Ok == (error.Length > 0))
                throw new InvalidOperationException($"DecodeRequest returned {status} with error \"{error}\" and {count} op(s)");
            return;
        }
        int reads = Math.Min((int)input[1], MaxOpsInFuzzResponse);
        var ops = new CsrOp[reads];
        for (int i = 0; i < reads; i++)
            ops[i] = CsrOp.Read((uint)(4 * i));
        var response = input.AsSpan(2);
        uint sequence = response.Length >= 8 ? BinaryPrimitives.ReadUInt32BigEndian(response[4..]) : 0;
        try
        {
            CommandWire.DecodeResponse(response, sequence, ops, new uint[reads], "fuzz");
        }
        catch (DeviceException)
        {
        }
    }

    public static void Config(byte[] input)
    {
        try
        {
            // Decoded as GatewayConfig.Load reads a file (BoundedFile.ReadAllText), without the file.
            ReadOnlySpan<byte> text = input;
            if (text.StartsWith((ReadOnlySpan<byte>)[0xEF, 0xBB, 0xBF]))
                text = text[3..];
            GatewayConfig.Parse(Encoding.UTF8.GetString(text), "fuzz");
        }
        catch (GatewayConfigException)
        {
        }
    }
}
