using Offload.Protocol.Glbp;
using Offload.Protocol.Sync;
using PropertyAttribute = FsCheck.NUnit.PropertyAttribute;

namespace Offload.Protocol.Tests;

// FsCheck supplies the arguments; NUnit's analyzer only knows NUnit's own data attributes.
#pragma warning disable NUnit1027

/// <summary>
/// Properties with FsCheck's own generators and shrinking: any field values survive a round trip byte for byte,
/// and no input, however mangled, makes a decoder throw.
/// </summary>
public class GlbpPropertyTests
{
    [Property(MaxTest = 500)]
    public bool Any_forwarder_TLV_round_trips_field_by_field_and_byte_by_byte(ushort group, ulong owner, byte number, byte state, byte unknown21,
        byte priority, byte weight, uint unknown22, ushort timeout, ushort redirect, ulong vmac)
    {
        var header = new GlbpHeader((ushort)(group % (GlbpProtocol.MaxGroup + 1)), owner & 0xFFFF_FFFF_FFFF);
        var tlv = new GlbpForwarder(number, (GlbpVfState)state, priority, weight, vmac & 0xFFFF_FFFF_FFFF)
        {
            Unknown21 = unknown21,
            Unknown22 = unknown22 & 0xFF_FFFF,
            TimeoutRemaining = timeout,
            RedirectRemaining = redirect,
        };
        var buffer = new byte[64];
        var w = new GlbpWriter(buffer, header);
        w.WriteForwarder(tlv);
        byte[] bytes = w.Written.ToArray();
        if (!GlbpPacket.TryDecode(bytes, out GlbpPacket p).IsOk || p.Header != header)
            return false;
        var f = p.Forwarders;
        if (!f.MoveNext() || f.Current != tlv || f.Current.Role != GlbpOwnership.Role(priority))
            return false;
        var again = new byte[64];
        var w2 = new GlbpWriter(again, p.Header);
        w2.WriteForwarder(f.Current);
        return w2.Written.SequenceEqual(bytes);
    }

    [Property(MaxTest = 300)]
    public bool Any_hello_with_owner_and_load_TLVs_round_trips(byte state, byte priority, uint helloMs, uint holdMs, ushort redirect, ushort timeout,
        uint vip, byte[] owners, uint pps, uint flows)
    {
        var hello = new GlbpHello((GlbpVgState)state, priority, helloMs, holdMs, redirect, timeout, vip);
        var records = owners.Take(50).Select((b, i) => new GlbpOffloadOwner((byte)(1 + (b % 255)), 0x0200_0000_0000ul + (ulong)i)).ToArray();
        var buffer = new byte[GlbpProtocol.MaxLength];
        var w = new GlbpWriter(buffer, new GlbpHeader(1, 0x0200_0000_0001));
        w.WriteHello(hello);
        foreach (var r in records)
            w.WriteOffloadOwner(r);
        w.WriteOffloadLoad(new GlbpOffloadLoad(1, pps, flows));
        if (!GlbpPacket.TryDecode(w.Written, out GlbpPacket p).IsOk || !p.HasHello || p.Hello != hello)
            return false;
        var back = new List<GlbpOffloadOwner>();
        foreach (var r in p.OffloadOwners)
            back.Add(r);
        var loads = p.OffloadLoads;
        return back.SequenceEqual(records) && loads.MoveNext() && loads.Current == new GlbpOffloadLoad(1, pps, flows);
    }

    /// <summary>Any bytes: a result, never an exception, and an accepted message's TLVs tile it exactly.</summary>
    [Property(MaxTest = 2000)]
    public bool No_byte_string_makes_the_GLBP_decoder_throw(byte[] bytes)
    {
        GlbpResult result = GlbpPacket.TryDecode(bytes, out GlbpPacket p);
        if (!result.IsOk)
            return result.Offset >= 0 && result.Offset <= bytes.Length && result.Message.Length > 0;
        int end = GlbpProtocol.HeaderLength;
        foreach (var t in p.Tlvs)
        {
            if (t.Offset != end)
                return false;
            end += t.Raw.Length;
        }
        return end == bytes.Length;
    }

    /// <summary>A valid message with any bytes overwritten: still no exception (the decoder sees mostly-valid input).</summary>
    [Property(MaxTest = 2000)]
    public bool No_corruption_of_a_valid_message_makes_the_decoder_throw(byte[] positions, byte[] values)
    {
        byte[] message = GlbpSamples.Build(GlbpSamples.NoAuth, forwarders: 3);
        for (int i = 0; i < Math.Min(positions.Length, values.Length); i++)
            message[positions[i] % message.Length] = values[i];
        GlbpResult result = GlbpPacket.TryDecode(message, out GlbpPacket p);
        if (result.IsOk)
        {
            foreach (var _ in p.Forwarders)
            {
            }
            foreach (var _ in p.OffloadOwners)
            {
            }
            _ = p.HasHello ? p.Hello.State : default;
        }
        return true;
    }

    [Property(MaxTest = 2000)]
    public bool No_frame_makes_the_GLBP_frame_reader_throw(byte[] frame, bool ipv6)
    {
        // Half the inputs start like a GLBP frame so the reader gets past the EtherType.
        if (frame.Length > 14)
        {
            frame[12] = ipv6 ? (byte)0x86 : (byte)0x08;
            frame[13] = ipv6 ? (byte)0xDD : (byte)0x00;
        }
        bool found = GlbpFrame.TryRead(frame, out GlbpSource source, out ReadOnlySpan<byte> message);
        return !found || (message.Length <= frame.Length && source.IsIpv6 == ipv6);
    }

    [Property(MaxTest = 2000)]
    public bool No_byte_string_makes_the_sync_decoder_throw(byte[] bytes, byte[] key)
    {
        byte[] k = key.Length == 0 ? [1] : key;
        SyncError error = SyncMessage.TryDecode(bytes, k, out _);
        return Enum.IsDefined(error);
    }

    [Property(MaxTest = 2000)]
    public bool No_byte_string_makes_the_agent_decoder_throw(byte[] bytes, byte[] key)
    {
        var reject = Offload.Protocol.Agent.AgentCodec.TryDecode(bytes, key, out _);
        return Enum.IsDefined(reject);
    }
}
