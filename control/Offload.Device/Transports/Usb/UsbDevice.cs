using Offload.Device.Wire;

namespace Offload.Device.Transports.Usb;

/// <summary>
/// The <c>usb:VID:PID[:SERIAL]</c> transport: register access through an FTDI FT2232H/FT232H in MPSSE mode, which
/// clocks SPI (mode 0) into the data plane's SPI bridge (<c>hdl/rtl/ofl_spi_csr.v</c>). The bridge speaks the command
/// framing every remote transport shares (<see cref="CommandWire"/>), so a batch is one SPI write of the request and one
/// SPI read of the response, both in one USB write and one USB read. Layout and timing in docs/dataplane.md, "The USB
/// transport and the SPI bridge".
/// </summary>
/// <remarks>
/// Not thread-safe: its owner (<see cref="Dataplane"/>) serializes callers. After a failure every later call fails with
/// the first error, as on TCP: a half-answered exchange leaves nothing to resume. Buffers are allocated once.
/// </remarks>
public sealed class UsbDevice : IDevice
{
    /// <summary>Request bytes the bridge stores (its REQ_WORDS, 512 words by default).</summary>
    public const int RequestBytes = 2048;

    /// <summary>Words one response may carry (the bridge's RESP_WORDS).</summary>
    public const int ResponseWords = 256;

    /// <summary>Default SCK: 10 MHz, within the bridge's clk / 8 for any core clock from 80 MHz.</summary>
    public const int DefaultSckHz = 10_000_000;

    internal const byte OpRequest = 0x01;
    internal const byte OpResponse = 0x02;
    internal const byte MarkReady = 0xA5;
    internal const byte MarkBusy = 0x3C;
    internal const byte MarkNone = 0x96;

    private const byte CsLow = 0x00;
    private const byte CsHigh = Mpsse.PinCs;
    private const int ResponseMax = 1 + CommandWire.ResponseHeaderLength + (4 * ResponseWords);

    private readonly IUsbPipe _pipe;
    private readonly bool _ownsPipe;
    private readonly TimeSpan _timeout;
    private readonly TimeProvider _time;
    private readonly byte[] _request = new byte[RequestBytes];
    private readonly byte[] _commands = new byte[RequestBytes + 64];
    private readonly byte[] _response = new byte[ResponseMax];
    private readonly CsrOp[] _one = new CsrOp[1];
    private readonly uint[] _oneResult = new uint[1];
    private uint _sequence;
    private DeviceException? _broken;

    private UsbDevice(IUsbPipe pipe, bool ownsPipe, TimeSpan timeout, TimeProvider time, ushort divisor)
    {
        _pipe = pipe;
        _ownsPipe = ownsPipe;
        _timeout = timeout;
        _time = time;
        Divisor = divisor;
    }

    public string Transport => "usb";

    /// <summary>What messages call the device ("usb:0403:6010:SERIAL").</summary>
    public string Name => _pipe.Name;

    /// <summary>The MPSSE clock divisor in use: SCK = 60 MHz / ((1 + divisor) × 2).</summary>
    public ushort Divisor { get; }

    /// <summary>Exchanges (requests answered) so far.</summary>
    public long Exchanges { get; private set; }

    /// <summary>Response reads that found the bridge still running the request and had to read again.</summary>
    public long BusyPolls { get; private set; }

    /// <summary>Idle clocks between a request and the read of its answer, so the bridge has run it (on by default).</summary>
    public bool GuardClocks { get; set; } = true;

    /// <summary>
    /// Takes the MPSSE engine in hand over <paramref name="pipe"/>: synchronizes with it (a bad opcode must come back
    /// as 0xFA and the opcode, twice), sets the clock, turns loopback off and parks the SPI pins (CS high, SCK low).
    /// </summary>
    /// <exception cref="DeviceException">The engine does not answer as an MPSSE does.</exception>
    public static UsbDevice Open(IUsbPipe pipe, int sckHz = DefaultSckHz, TimeSpan? timeout = null, TimeProvider? time = null, bool ownsPipe = true)
    {
        ArgumentNullException.ThrowIfNull(pipe);
        var dev = new UsbDevice(pipe, ownsPipe, timeout ?? TimeSpan.FromSeconds(5), time ?? TimeProvider.System, Mpsse.DivisorFor(sckHz));
        try
        {
            dev.Synchronize(0xAA);
            dev.Synchronize(0xAB);
            ushort d = dev.Divisor;
            ReadOnlySpan<byte> setup =
            [
                Mpsse.DisableDiv5, Mpsse.DisableAdaptive, Mpsse.Disable3Phase, Mpsse.LoopbackOff,
                Mpsse.SetDivisor, (byte)d, (byte)(d >> 8),
                Mpsse.SetLow, CsHigh, Mpsse.SpiDirection,
            ];
            pipe.Write(setup);
            return dev;
        }
        catch
        {
            if (ownsPipe)
                pipe.Dispose();
            throw;
        }
    }

    public uint Read(uint address)
    {
        _one[0] = CsrOp.Read(address);
        Batch(_one, _oneResult);
        return _oneResult[0];
    }

    public void Write(uint address, uint value)
    {
        _one[0] = CsrOp.Write(address, value);
        Batch(_one, default);
    }

    public void Batch(ReadOnlySpan<CsrOp> ops, Span<uint> results)
    {
        if (!results.IsEmpty && results.Length < ops.Length)
            throw new ArgumentException($"results holds {results.Length} values for {ops.Length} operations", nameof(results));
        if (_broken is not null)
            throw new DeviceException(_broken.Error, $"{Name}: the link failed earlier ({_broken.Message})", _broken);
        int done = 0;
        while (done < ops.Length)
        {
            var rest = ops[done..];
            // The bridge keeps at most ResponseWords words of read data: cut the batch before the read past that.
            int limit = rest.Length;
            int reads = 0;
            for (int i = 0; i < rest.Length; i++)
            {
                if (rest[i].Kind != CsrOpKind.Read)
                    continue;
                if (reads == ResponseWords)
                {
                    limit = i;
                    break;
                }
                reads++;
            }
            uint seq = _sequence;
            int length = CommandWire.EncodeRequest(rest[..limit], seq, _request, out int consumed);
            var chunk = rest[..consumed];
            reads = 0;
            foreach (var op in chunk)
            {
                if (op.Kind == CsrOpKind.Read)
                    reads++;
            }
            try
            {
                Exchange(length, chunk, reads, seq, results.IsEmpty ? default : results[done..]);
            }
            catch (DeviceException e)
            {
                _broken ??= e;
                throw;
            }
            // 0 starts a link (the bridge accepts it after anything), so a wrap skips it.
            _sequence = seq == uint.MaxValue ? 1 : seq + 1;
            Exchanges++;
            done += consumed;
        }
    }

    public void Dispose()
    {
        if (_ownsPipe)
            _pipe.Dispose();
    }

    // One request and its answer: CS low, opcode 1 and the request, CS high, idle clocks while the bridge checks and
    // runs it, then CS low, opcode 2 and the marker, header and words read, CS high; all in one USB write.
    private void Exchange(int length, ReadOnlySpan<CsrOp> chunk, int reads, uint seq, Span<uint> results)
    {
        var c = _commands.AsSpan();
        int pos = 0;
        c[pos++] = Mpsse.SetLow;
        c[pos++] = CsLow;
        c[pos++] = Mpsse.SpiDirection;
        int n = length + 1;
        c[pos++] = Mpsse.BytesOut;
        c[pos++] = (byte)(n - 1);
        c[pos++] = (byte)((n - 1) >> 8);
        c[pos++] = OpRequest;
        _request.AsSpan(0, length).CopyTo(c[pos..]);
        pos += length;
        c[pos++] = Mpsse.SetLow;
        c[pos++] = CsHigh;
        c[pos++] = Mpsse.SpiDirection;
        if (GuardClocks)
        {
            int idle = GuardBytes(length / 4, chunk.Length);
            c[pos++] = Mpsse.ClockBytes;
            c[pos++] = (byte)(idle - 1);
            c[pos++] = (byte)((idle - 1) >> 8);
        }
        int answer = 1 + CommandWire.ResponseHeaderLength + (4 * reads);
        pos += AppendPoll(c[pos..], answer);
        _pipe.Write(c[..pos]);
        var r = _response.AsSpan(0, answer);
        _pipe.Read(r);
        long start = _time.GetTimestamp();
        while (r[0] == MarkBusy)
        {
            if (_time.GetElapsedTime(start) > _timeout)
                throw new DeviceException(DeviceError.Timeout, $"{Name}: the bridge was still running request {seq} after {_timeout.TotalMilliseconds:0} ms");
            BusyPolls++;
            int p = AppendPoll(c, answer);
            _pipe.Write(c[..p]);
            _pipe.Read(r);
        }
        if (r[0] == MarkNone)
            throw new DeviceException(DeviceError.Protocol, $"{Name}: the bridge holds no answer to request {seq}: the request did not arrive whole");
        if (r[0] != MarkReady)
            throw new DeviceException(DeviceError.Absent,
                $"{Name}: nothing answers on the SPI bus (MISO reads 0x{r[0]:X2}): is the FPGA configured with an image that has the SPI bridge, and is it wired to ADBUS0..3?");
        CommandWire.DecodeResponse(r[1..], seq, chunk, results, Name);
    }

    private static int AppendPoll(Span<byte> c, int answer)
    {
        int pos = 0;
        c[pos++] = Mpsse.SetLow;
        c[pos++] = CsLow;
        c[pos++] = Mpsse.SpiDirection;
        c[pos++] = Mpsse.BytesOut;
        c[pos++] = 0;
        c[pos++] = 0;
        c[pos++] = OpResponse;
        c[pos++] = Mpsse.BytesIn;
        c[pos++] = (byte)(answer - 1);
        c[pos++] = (byte)((answer - 1) >> 8);
        c[pos++] = Mpsse.SetLow;
        c[pos++] = CsHigh;
        c[pos++] = Mpsse.SpiDirection;
        c[pos++] = Mpsse.SendImmediate;
        return pos;
    }

    /// <summary>
    /// Idle SCK bytes that cover the bridge checking and running a request: about 3 clocks per request word and pass
    /// (two passes) and 6 per register access, with SCK at most clk / 8, so one SCK bit is at least 8 clocks.
    /// </summary>
    internal static int GuardBytes(int words, int accesses)
    {
        long cycles = (6L * words) + (6L * accesses) + 32;
        return (int)Math.Clamp((cycles + 63) / 64, 1, 65536);
    }

    // AN_108's synchronization: an opcode the engine does not know comes back as 0xFA and the opcode. Anything else
    // means the pipe is not an MPSSE in step with us (wrong mode, stale bytes, another program).
    private void Synchronize(byte bogus)
    {
        Span<byte> cmd = [bogus, Mpsse.SendImmediate];
        _pipe.Write(cmd);
        Span<byte> got = stackalloc byte[2];
        _pipe.Read(got);
        if (got[0] != Mpsse.BadCommand || got[1] != bogus)
            throw new DeviceException(DeviceError.Protocol,
                $"{Name}: the MPSSE did not answer in step (sent bad opcode 0x{bogus:X2}, got {got[0]:X2} {got[1]:X2}, expected FA {bogus:X2})");
    }
}
