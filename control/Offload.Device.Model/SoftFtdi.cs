using Offload.Device.Transports.Usb;

namespace Offload.Device;

/// <summary>
/// A software FTDI MPSSE engine (FT2232H/FT232H channel A) for co-simulation: it takes the exact bytes the USB
/// transport would send down the cable, interprets them as the MPSSE command processor of FTDI's AN_108 does, and
/// drives its ADBUS pins (0 SCK, 1 MOSI, 2 MISO, 3 CS) into the SPI bridge of the Verilator model, step by step,
/// so the bridge sees the waveform the chip would put out.
/// </summary>
/// <remarks>
/// <para>Modelled: clocking data bytes and bits out and/or in on either edge, MSB or LSB first, in SPI modes 0..3
/// (the clock idles at the level the low GPIO byte gives SCK); set and get the low and high GPIO bytes; the clock
/// divisor and the divide-by-5 prescaler; internal loopback (MISO reads MOSI); clocking without data (0x8E, 0x8F);
/// send-immediate; and an unknown opcode answered with 0xFA and the opcode. Valid opcodes this model does not carry
/// out (TMS shifting, wait-on-I/O, 3-phase data clocking, CPU mode) throw <see cref="NotSupportedException"/> rather
/// than pretend.</para>
/// <para>Time: the model's clock runs only while the engine drives pins, one half SCK period per step (the core clock
/// over twice SCK, at least one cycle); a GPIO write takes one step. USB latency adds no model time, so a co-simulated
/// bridge has less time between transfers than a board has, never more.</para>
/// <para>With no board attached, MISO floats high, as an unconnected input with the chip's pull-up reads.</para>
/// </remarks>
public sealed class SoftFtdi : IUsbPipe
{
    private readonly ModelDevice? _board;
    private readonly long _coreHz;
    private readonly Queue<byte> _out = new();
    private byte[] _pending = new byte[4096];
    private int _pendingLength;
    private byte[] _steps = new byte[4096];
    private byte[] _samples = new byte[4096];
    private byte _lowValue;
    private byte _lowDir;
    private byte _highValue;
    private byte _highDir;
    private ushort _divisor;
    private bool _div5 = true;
    private bool _loopback;
    private bool _threePhase;

    /// <param name="board">The model whose SPI bridge the pins drive; null for a cable with nothing on it.</param>
    /// <param name="coreClockHz">The data plane's clock, which sets how many model cycles one SCK half period lasts.</param>
    /// <param name="name">What messages call it.</param>
    public SoftFtdi(ModelDevice? board, long coreClockHz = 100_000_000, string name = "usb:soft-ftdi")
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(coreClockHz, 1_000_000);
        _board = board;
        _coreHz = coreClockHz;
        Name = name;
    }

    public string Name { get; }

    /// <summary>SCK the engine is set to, Hz.</summary>
    public double SckHz => Mpsse.SckHz(_divisor, _div5);

    /// <summary>Model cycles per SCK half period at the current divisor.</summary>
    public uint CyclesPerStep => (uint)Math.Max(1, Math.Round(_coreHz / (2.0 * SckHz)));

    /// <summary>SCK periods driven so far (data and idle clocks).</summary>
    public long SckPeriods { get; private set; }

    /// <summary>USB writes taken so far (each one is a bulk OUT transfer on hardware).</summary>
    public long Transfers { get; private set; }

    public void Write(ReadOnlySpan<byte> commands)
    {
        Transfers++;
        if (_pendingLength + commands.Length > _pending.Length)
            Array.Resize(ref _pending, Math.Max(_pending.Length * 2, _pendingLength + commands.Length));
        commands.CopyTo(_pending.AsSpan(_pendingLength));
        _pendingLength += commands.Length;
        int pos = 0;
        while (pos < _pendingLength)
        {
            int used = Execute(_pending.AsSpan(pos, _pendingLength - pos));
            if (used == 0)
                break;
            pos += used;
        }
        // a command cut across two USB writes waits for its rest, as the chip's command processor does
        _pending.AsSpan(pos, _pendingLength - pos).CopyTo(_pending);
        _pendingLength -= pos;
    }

    public void Read(Span<byte> buffer)
    {
        if (_out.Count < buffer.Length)
            throw new DeviceException(DeviceError.Timeout, $"{Name}: {buffer.Length} byte(s) wanted, the engine has {_out.Count} to give");
        for (int i = 0; i < buffer.Length; i++)
            buffer[i] = _out.Dequeue();
    }

    public void Dispose()
    {
    }

    /// <summary>Runs the command at the start of <paramref name="c"/>; returns its length, or 0 when it is not all there.</summary>
    private int Execute(ReadOnlySpan<byte> c)
    {
        byte op = c[0];
        if (op is >= 0x10 and <= 0x3F && (op & (Mpsse.DoWrite | Mpsse.DoRead)) != 0)
            return Shift(c);
        switch (op)
        {
            case Mpsse.SetLow:
            case Mpsse.SetHigh:
                if (c.Length < 3)
                    return 0;
                if (op == Mpsse.SetLow)
                {
                    _lowValue = c[1];
                    _lowDir = c[2];
                    Hold(1);
                }
                else
                {
                    _highValue = c[1];
                    _highDir = c[2];
                }
                return 3;
            case Mpsse.GetLow:
                _out.Enqueue((byte)((_lowValue & _lowDir) | (~_lowDir & 0xFF & ~Mpsse.PinMiso) | (Hold(1) ? Mpsse.PinMiso : 0)));
                return 1;
            case Mpsse.GetHigh:
                _out.Enqueue((byte)((_highValue & _highDir) | (~_highDir & 0xFF)));
                return 1;
            case Mpsse.LoopbackOn:
            case Mpsse.LoopbackOff:
                _loopback = op == Mpsse.LoopbackOn;
                return 1;
            case Mpsse.SetDivisor:
                if (c.Length < 3)
                    return 0;
                _divisor = (ushort)(c[1] | (c[2] << 8));
                return 3;
            case Mpsse.SendImmediate:
            case Mpsse.DisableAdaptive:
                return 1;
            case Mpsse.DisableDiv5:
            case Mpsse.EnableDiv5:
                _div5 = op == Mpsse.EnableDiv5;
                return 1;
            case Mpsse.Enable3Phase:
            case Mpsse.Disable3Phase:
                _threePhase = op == Mpsse.Enable3Phase;
                return 1;
            case Mpsse.ClockBits:
                if (c.Length < 2)
                    return 0;
                Idle(c[1] + 1);
                return 2;
            case Mpsse.ClockBytes:
                if (c.Length < 3)
                    return 0;
                Idle(8 * ((c[1] | (c[2] << 8)) + 1));
                return 3;
            case 0x4A or 0x4B or 0x6A or 0x6B or 0x6E or 0x6F or Mpsse.WaitIoHigh or Mpsse.WaitIoLow
                or Mpsse.EnableAdaptive or 0x90 or 0x91 or 0x92 or 0x93 or 0x94 or 0x95 or 0x9C or 0x9D or 0x9E:
                throw new NotSupportedException($"{Name}: MPSSE opcode 0x{op:X2} is valid on the chip but not modelled here");
            default:
                // AN_108: an opcode the engine does not know is answered with 0xFA and the opcode itself
                _out.Enqueue(Mpsse.BadCommand);
                _out.Enqueue(op);
                return 1;
        }
    }

    private int Shift(ReadOnlySpan<byte> c)
    {
        byte op = c[0];
        bool bits = (op & Mpsse.BitMode) != 0;
        bool write = (op & Mpsse.DoWrite) != 0;
        bool read = (op & Mpsse.DoRead) != 0;
        int header = bits ? 2 : 3;
        if (c.Length < header)
            return 0;
        int count = bits ? c[1] + 1 : (c[1] | (c[2] << 8)) + 1;
        int dataBytes = write ? (bits ? 1 : count) : 0;
        if (c.Length < header + dataBytes)
            return 0;
        if (_threePhase)
            throw new NotSupportedException($"{Name}: 3-phase data clocking is not modelled");
        var data = c.Slice(header, dataBytes);
        int nbits = bits ? count : 8 * count;
        bool lsb = (op & Mpsse.LsbFirst) != 0;
        bool idleHigh = (_lowValue & Mpsse.PinSck) != 0;
        // The first edge of a bit leaves the idle level (rising when SCK idles low). Data out changes on its edge,
        // data in is taken on its own: at the end of the first half if that edge is the first one, else of the second.
        bool firstEdgeRising = !idleHigh;
        bool writeNeg = (op & Mpsse.WriteNegEdge) != 0;
        bool readNeg = (op & Mpsse.ReadNegEdge) != 0;
        bool writeOnFirst = writeNeg != firstEdgeRising;
        bool readOnFirst = readNeg != firstEdgeRising;
        int steps = (2 * nbits) + 1;
        EnsureSteps(steps);
        bool mosi = (_lowValue & Mpsse.PinMosi) != 0;
        for (int i = 0; i < nbits; i++)
        {
            bool bit = write ? BitAt(data, i, lsb, bits) : mosi;
            bool firstHalfMosi = writeOnFirst ? mosi : bit;
            _steps[2 * i] = Pins(idleHigh, firstHalfMosi);
            _steps[(2 * i) + 1] = Pins(!idleHigh, bit);
            mosi = bit;
        }
        _steps[2 * nbits] = Pins(idleHigh, mosi);
        Drive(steps);
        if (write)
            _lowValue = (byte)(mosi ? _lowValue | Mpsse.PinMosi : _lowValue & ~Mpsse.PinMosi);
        SckPeriods += nbits;
        if (read)
        {
            int acc = 0;
            for (int i = 0; i < nbits; i++)
            {
                int s = readOnFirst ? 2 * i : (2 * i) + 1;
                // loopback joins TDI to TDO inside the chip: the data bit, whether or not the pin is an output
                bool inBit = _loopback ? (write ? BitAt(data, i, lsb, bits) : (_lowValue & Mpsse.PinMosi) != 0)
                    : _board is null || (_samples[s] & 1) != 0;
                acc = lsb ? (acc >> 1) | (inBit ? 0x80 : 0) : ((acc << 1) | (inBit ? 1 : 0)) & 0xFF;
                if (!bits && (i & 7) == 7)
                {
                    _out.Enqueue((byte)acc);
                    acc = 0;
                }
            }
            if (bits)
                _out.Enqueue((byte)acc);
        }
        return header + dataBytes;
    }

    private static bool BitAt(ReadOnlySpan<byte> data, int i, bool lsb, bool bits)
    {
        byte b = data[bits ? 0 : i >> 3];
        int k = i & 7;
        return ((lsb ? b >> k : b >> (7 - k)) & 1) != 0;
    }

    // The model's pin byte: bit 0 SCK, bit 1 MOSI, bit 2 CS_N. A pin the low byte does not drive floats high.
    private byte Pins(bool sck, bool mosi)
    {
        bool cs = (_lowDir & Mpsse.PinCs) == 0 || (_lowValue & Mpsse.PinCs) != 0;
        bool sckPin = (_lowDir & Mpsse.PinSck) == 0 || sck;
        bool mosiPin = (_lowDir & Mpsse.PinMosi) == 0 || mosi;
        return (byte)((sckPin ? 1 : 0) | (mosiPin ? 2 : 0) | (cs ? 4 : 0));
    }

    /// <summary>Holds the current pins for <paramref name="steps"/> half periods; returns MISO at the end.</summary>
    private bool Hold(int steps)
    {
        EnsureSteps(steps);
        bool sck = (_lowValue & Mpsse.PinSck) != 0;
        bool mosi = (_lowValue & Mpsse.PinMosi) != 0;
        for (int i = 0; i < steps; i++)
            _steps[i] = Pins(sck, mosi);
        Drive(steps);
        return _loopback ? mosi : _board is null || (_samples[steps - 1] & 1) != 0;
    }

    // Clocks without data: SCK toggles with MOSI and CS as the low byte has them.
    private void Idle(int nbits)
    {
        bool idleHigh = (_lowValue & Mpsse.PinSck) != 0;
        bool mosi = (_lowValue & Mpsse.PinMosi) != 0;
        EnsureSteps(2 * nbits);
        for (int i = 0; i < nbits; i++)
        {
            _steps[2 * i] = Pins(idleHigh, mosi);
            _steps[(2 * i) + 1] = Pins(!idleHigh, mosi);
        }
        Drive(2 * nbits);
        SckPeriods += nbits;
    }

    private void Drive(int steps)
    {
        if (_board is null)
            return;
        _board.SpiDrive(_steps.AsSpan(0, steps), CyclesPerStep, _samples.AsSpan(0, steps));
    }

    private void EnsureSteps(int steps)
    {
        if (_steps.Length < steps)
        {
            _steps = new byte[Math.Max(steps, 2 * _steps.Length)];
            _samples = new byte[_steps.Length];
        }
    }
}
