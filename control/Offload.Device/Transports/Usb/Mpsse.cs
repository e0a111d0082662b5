namespace Offload.Device.Transports.Usb;

/// <summary>
/// MPSSE command opcodes, as FTDI's application note AN_108 ("Command Processor for MPSSE and MCU Host Bus Emulation
/// Modes") defines them. Data-shifting opcodes (0x10..0x3F) are built from the flag bits below.
/// </summary>
public static class Mpsse
{
    /// <summary>Data-shifting flag: data out changes on the falling edge of the clock.</summary>
    public const byte WriteNegEdge = 0x01;

    /// <summary>Data-shifting flag: the length counts bits (1..8), not bytes.</summary>
    public const byte BitMode = 0x02;

    /// <summary>Data-shifting flag: data in is sampled on the falling edge.</summary>
    public const byte ReadNegEdge = 0x04;

    /// <summary>Data-shifting flag: least significant bit first.</summary>
    public const byte LsbFirst = 0x08;

    /// <summary>Data-shifting flag: drive TDI/DO (MOSI).</summary>
    public const byte DoWrite = 0x10;

    /// <summary>Data-shifting flag: sample TDO/DI (MISO).</summary>
    public const byte DoRead = 0x20;

    /// <summary>Data-shifting flag: the data goes out on TMS (JTAG), not TDI.</summary>
    public const byte WriteTms = 0x40;

    /// <summary>SPI mode 0, MSB first, bytes out on the falling edge (the slave samples on the rising one).</summary>
    public const byte BytesOut = DoWrite | WriteNegEdge;

    /// <summary>SPI mode 0, MSB first, bytes in on the rising edge, nothing driven out.</summary>
    public const byte BytesIn = DoRead;

    public const byte SetLow = 0x80;
    public const byte GetLow = 0x81;
    public const byte SetHigh = 0x82;
    public const byte GetHigh = 0x83;
    public const byte LoopbackOn = 0x84;
    public const byte LoopbackOff = 0x85;
    public const byte SetDivisor = 0x86;
    public const byte SendImmediate = 0x87;
    public const byte WaitIoHigh = 0x88;
    public const byte WaitIoLow = 0x89;
    public const byte DisableDiv5 = 0x8A;
    public const byte EnableDiv5 = 0x8B;
    public const byte Enable3Phase = 0x8C;
    public const byte Disable3Phase = 0x8D;
    public const byte ClockBits = 0x8E;
    public const byte ClockBytes = 0x8F;
    public const byte EnableAdaptive = 0x96;
    public const byte DisableAdaptive = 0x97;

    /// <summary>The chip's answer to an opcode it does not know: this byte, then the opcode.</summary>
    public const byte BadCommand = 0xFA;

    /// <summary>
    /// ADBUS pins of the SPI wiring every FTDI SPI cable uses: 0 SCK (TCK), 1 MOSI (TDI/DO), 2 MISO (TDO/DI), 3 CS (TMS).
    /// </summary>
    public const byte PinSck = 0x01;
    public const byte PinMosi = 0x02;
    public const byte PinMiso = 0x04;
    public const byte PinCs = 0x08;

    /// <summary>Outputs: SCK, MOSI, CS; MISO is an input.</summary>
    public const byte SpiDirection = PinSck | PinMosi | PinCs;

    /// <summary>The divisor for the SCK frequency closest to <paramref name="hz"/> without going over (60 MHz clock, ÷5 off).</summary>
    public static ushort DivisorFor(int hz)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(hz, 458);
        int d = (int)Math.Ceiling((60_000_000.0 / (2.0 * hz)) - 1.0);
        return (ushort)Math.Clamp(d, 0, ushort.MaxValue);
    }

    /// <summary>SCK in Hz for a divisor (AN_108: clock / ((1 + divisor) × 2)).</summary>
    public static double SckHz(ushort divisor, bool div5) => (div5 ? 12_000_000.0 : 60_000_000.0) / ((1.0 + divisor) * 2.0);
}
