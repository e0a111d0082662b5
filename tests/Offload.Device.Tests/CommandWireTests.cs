using System.Buffers.Binary;
using Offload.Device.Wire;
using PropertyAttribute = FsCheck.NUnit.PropertyAttribute;

namespace Offload.Device.Tests;

// FsCheck supplies the arguments; NUnit's analyzer only knows NUnit's own data attributes.
#pragma warning disable NUnit1027

/// <summary>The command framing on its own: runs become commands, every request decodes back, bad ones are named.</summary>
public class CommandWireTests
{
    private static CsrOp[] Decode(ReadOnlySpan<byte> request, out uint sequence)
    {
        var ops = new CsrOp[CommandWire.MaxOps];
        var status = CommandWire.DecodeRequest(request, ops, out sequence, out int n, out string error);
        Assert.That(status, Is.EqualTo(WireStatus.Ok), error);
        return ops[..n];
    }

    /// <summary>Ops from FsCheck's arrays: each op a new address, the previous one again (a FIFO port) or the next one (a table).</summary>
    private static CsrOp[] OpsFrom(uint[] addresses, bool[] reads, byte[] shapes, uint[] values)
    {
        int n = Math.Min(Math.Min(addresses.Length, reads.Length), Math.Min(shapes.Length, values.Length));
        var ops = new CsrOp[n];
        uint prev = 0;
        for (int i = 0; i < n; i++)
        {
            uint a = (shapes[i] % 3) switch
            {
                0 => addresses[i] & ~3u,
                1 => prev,
                _ => prev + 4,
            };
            ops[i] = reads[i] ? CsrOp.Read(a) : CsrOp.Write(a, values[i]);
            prev = a;
        }
        return ops;
    }

    [Property(MaxTest = 300)]
    public bool Any_batch_decodes_to_the_same_ops_in_the_same_order(uint[] addresses, bool[] reads, byte[] shapes, uint[] values, uint sequence)
    {
        var ops = OpsFrom(addresses, reads, shapes, values);
        var buffer = new byte[CommandWire.MaxRequest];
        int length = CommandWire.EncodeRequest(ops, sequence, buffer, out int consumed);
        var back = Decode(buffer.AsSpan(0, length), out uint seq);
        return consumed == ops.Length && seq == sequence && back.SequenceEqual(ops);
    }

    [Property(MaxTest = 300)]
    public bool A_response_carries_each_read_back_to_its_own_index(uint[] addresses, bool[] reads, byte[] shapes, uint[] values)
    {
        var ops = OpsFrom(addresses, reads, shapes, values);
        var results = new uint[ops.Length];
        for (int i = 0; i < ops.Length; i++)
            results[i] = ops[i].Kind == CsrOpKind.Read ? ops[i].Address ^ 0xA5A5_0000u : 0;
        var buffer = new byte[CommandWire.ResponseHeaderLength + (4 * ops.Length)];
        int length = CommandWire.EncodeResponse(WireStatus.Ok, 9, ops, results, ops.Length, buffer);
        var got = new uint[ops.Length];
        CommandWire.DecodeResponse(buffer.AsSpan(0, length), 9, ops, got, "test");
        return got.SequenceEqual(results);
    }

    [Test]
    public void A_slot_table_write_is_two_commands_and_a_host_frame_one()
    {
        var ops = new List<CsrOp> { CsrOp.Write(Reg.SlotAddr, 0) };
        ops.AddRange(Enumerable.Range(0, 256).Select(i => CsrOp.Write(Reg.SlotData, (uint)i)));
        var buffer = new byte[CommandWire.MaxRequest];
        int length = CommandWire.EncodeRequest(ops.ToArray(), 1, buffer, out _);
        Assert.That(BinaryPrimitives.ReadUInt16BigEndian(buffer.AsSpan(8)), Is.EqualTo(2), "commands");
        Assert.That(length, Is.EqualTo(CommandWire.RequestHeaderLength + (2 * CommandWire.CommandHeaderLength) + (4 * 257)));
        // SLOT_DATA follows SLOT_ADDR, so the address and the first slot are one table write, the other 255 one FIFO write.
        Assert.That(buffer[CommandWire.RequestHeaderLength + CommandWire.CommandHeaderLength + 8], Is.EqualTo((byte)WireOp.WriteFixed));
        Assert.That(Decode(buffer.AsSpan(0, length), out _), Is.EqualTo(ops));

        var reads = Enumerable.Repeat(CsrOp.Read(Reg.HostRxData), 380).ToArray();
        CommandWire.EncodeRequest(reads, 2, buffer, out _);
        Assert.That(BinaryPrimitives.ReadUInt16BigEndian(buffer.AsSpan(8)), Is.EqualTo(1));
        Assert.That(buffer[CommandWire.RequestHeaderLength], Is.EqualTo((byte)WireOp.ReadFixed));
    }

    [Test]
    public void A_batch_beyond_one_request_is_cut_at_the_limit_and_the_rest_follows()
    {
        var ops = Enumerable.Range(0, 200_000).Select(i => CsrOp.Write((uint)(i % 7) * 64, (uint)i)).ToArray();
        var buffer = new byte[CommandWire.MaxRequest];
        int done = 0;
        int requests = 0;
        var all = new List<CsrOp>();
        while (done < ops.Length)
        {
            int length = CommandWire.EncodeRequest(ops.AsSpan(done), (uint)requests, buffer, out int consumed);
            Assert.That(length, Is.LessThanOrEqualTo(CommandWire.MaxRequest));
            Assert.That(consumed, Is.InRange(1, CommandWire.MaxOps));
            all.AddRange(Decode(buffer.AsSpan(0, length), out _));
            done += consumed;
            requests++;
        }
        Assert.That(all, Is.EqualTo(ops));
        Assert.That(requests, Is.GreaterThan(1));
    }

    private static byte[] Request(params byte[][] commands)
    {
        var body = commands.SelectMany(c => c).ToArray();
        var r = new byte[CommandWire.RequestHeaderLength + body.Length];
        BinaryPrimitives.WriteUInt16BigEndian(r, CommandWire.RequestMagic);
        r[2] = CommandWire.Version;
        BinaryPrimitives.WriteUInt32BigEndian(r.AsSpan(4), 7);
        BinaryPrimitives.WriteUInt16BigEndian(r.AsSpan(8), (ushort)commands.Length);
        body.CopyTo(r, CommandWire.RequestHeaderLength);
        return r;
    }

    private static byte[] Command(WireOp op, ushort count, uint address, params uint[] data)
    {
        var c = new byte[CommandWire.CommandHeaderLength + (4 * data.Length)];
        c[0] = (byte)op;
        BinaryPrimitives.WriteUInt16BigEndian(c.AsSpan(2), count);
        BinaryPrimitives.WriteUInt32BigEndian(c.AsSpan(4), address);
        for (int i = 0; i < data.Length; i++)
            BinaryPrimitives.WriteUInt32BigEndian(c.AsSpan(8 + (4 * i)), data[i]);
        return c;
    }

    private static (WireStatus Status, string Error) Refusal(byte[] request)
    {
        var status = CommandWire.DecodeRequest(request, new CsrOp[CommandWire.MaxOps], out _, out int n, out string error);
        if (status != WireStatus.Ok)
            Assert.That(n, Is.Zero.Or.LessThanOrEqualTo(CommandWire.MaxOps));
        return (status, error);
    }

    [Test]
    public void Broken_requests_are_refused_by_name()
    {
        Assert.Multiple(() =>
        {
            Assert.That(Refusal([1, 2, 3]), Is.EqualTo((WireStatus.Malformed, "a request is at least 12 bytes, got 3")));
            var badMagic = Request();
            badMagic[0] = 0;
            Assert.That(Refusal(badMagic).Status, Is.EqualTo(WireStatus.Malformed));
            var v2 = Request();
            v2[2] = 2;
            Assert.That(Refusal(v2), Is.EqualTo((WireStatus.UnsupportedVersion, "version 2, this end speaks 1")));
            Assert.That(Refusal(Request(Command(WireOp.Write, 3, 0x10, 1, 2))).Error, Does.Contain("3 words to write, the request ends after 2"));
            Assert.That(Refusal(Request(Command((WireOp)9, 1, 0x10))).Error, Does.Contain("op 9, count 1 is not a command"));
            Assert.That(Refusal(Request(Command(WireOp.Read, 0, 0x10))).Error, Does.Contain("count 0 is not a command"));
            Assert.That(Refusal([.. Request(Command(WireOp.Read, 1, 0x10)), 0]).Error, Does.Contain("1 byte(s) after the last of 1 command(s)"));
            var truncated = Request(Command(WireOp.Read, 1, 0x10));
            Assert.That(Refusal(truncated[..^3]).Error, Does.Contain("ends inside its header"));
            var huge = Request(Command(WireOp.ReadFixed, 65535, 0), Command(WireOp.ReadFixed, 2, 0));
            Assert.That(Refusal(huge).Status, Is.EqualTo(WireStatus.TooLarge));
        });
    }

    [Test]
    public void A_response_to_another_request_or_with_an_error_is_a_named_device_error()
    {
        CsrOp[] ops = [CsrOp.Read(0)];
        var buffer = new byte[64];
        int n = CommandWire.EncodeResponse(WireStatus.Ok, 5, ops, [42], 1, buffer);
        var gap = Assert.Throws<DeviceException>(() => CommandWire.DecodeResponse(buffer.AsSpan(0, n), 6, ops, new uint[1], "tcp://x:1"));
        Assert.That((gap!.Error, gap.Message), Is.EqualTo((DeviceError.SequenceGap, "tcp://x:1: sequence gap: sent request 6, the answer is to 5")));

        n = CommandWire.EncodeResponse(WireStatus.NoAck, 6, ops, [0], 0, buffer);
        var noAck = Assert.Throws<DeviceException>(() => CommandWire.DecodeResponse(buffer.AsSpan(0, n), 6, ops, new uint[1], "tcp://x:1"));
        Assert.That(noAck!.Error, Is.EqualTo(DeviceError.Timeout));
        Assert.That(noAck.Message, Does.Contain("no acknowledgement").And.Contain("0 of 1"));

        n = CommandWire.EncodeResponse(WireStatus.Ok, 7, [CsrOp.Write(0, 1)], [0], 1, buffer);
        var wrong = Assert.Throws<DeviceException>(() => CommandWire.DecodeResponse(buffer.AsSpan(0, n), 7, ops, new uint[1], "tcp://x:1"));
        Assert.That((wrong!.Error, wrong.Message), Is.EqualTo((DeviceError.Protocol, "tcp://x:1: request 7 read 1 word(s), the answer carries 0 in 16 bytes")));
    }
}
