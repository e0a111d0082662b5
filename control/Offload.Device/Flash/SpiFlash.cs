namespace Offload.Device.Flash;

/// <summary>What the flash's JEDEC ID (command 0x9F) says it is.</summary>
public readonly record struct JedecId(byte Manufacturer, byte MemoryType, byte Capacity)
{
    /// <summary>Bytes, from the capacity code (2^code for the common parts: 0x16 is 4 MiB).</summary>
    public long SizeBytes => Capacity is >= 0x10 and <= 0x20 ? 1L << Capacity : 0;

    public override string ToString() => $"{Manufacturer:X2} {MemoryType:X2} {Capacity:X2}";
}

/// <summary>
/// SPI NOR flash commands through the data plane's SPI-flash controller (<c>hdl/rtl/ofl_spi_flash.v</c>, registers
/// FLASH_TX..FLASH_CLEAR) on any transport: JEDEC ID, status and its block-protect bits, read, page program, 4 KiB
/// sector and 64 KiB block erase, each waited out by polling the status register's BUSY bit. Commands are those
/// every 25-series part shares (Winbond W25Q, Macronix MX25L, ISSI IS25LP).
/// </summary>
/// <remarks>
/// A command is queued as a run of FLASH_TX writes (one batch: a page program with its 256 bytes is one exchange), the
/// bytes it reads come back through FLASH_RX once the controller has shifted them. The controller and the flash run on
/// the board's clock; <paramref name="wait"/> lets a rig whose clock only runs when told (the in-process model) run it
/// between polls, and is not needed on a board.
/// </remarks>
public sealed class SpiFlash(IDevice device, Action? wait = null, int maxPolls = 1_000_000)
{
    public const int PageSize = 256;
    public const int SectorSize = 4096;
    public const int BlockSize = 65536;

    private const uint Last = 1u << 8;
    private const uint Capture = 1u << 9;
    private const uint RxValid = 1u << 8;

    public const byte CmdReadData = 0x03;
    public const byte CmdPageProgram = 0x02;
    public const byte CmdSectorErase = 0x20;
    public const byte CmdBlockErase = 0xD8;
    public const byte CmdReadStatus = 0x05;
    public const byte CmdWriteStatus = 0x01;
    public const byte CmdWriteEnable = 0x06;
    public const byte CmdJedecId = 0x9F;

    /// <summary>Status register 1: BUSY.</summary>
    public const byte StatusBusy = 0x01;

    /// <summary>Status register 1: write enable latch.</summary>
    public const byte StatusWel = 0x02;

    /// <summary>Status register 1: block-protect bits BP2..BP0, TB, SEC.</summary>
    public const byte StatusProtectMask = 0x7C;

    private readonly IDevice _device = device ?? throw new ArgumentNullException(nameof(device));
    private readonly List<CsrOp> _ops = new(PageSize + 16);
    private readonly uint[] _rx = new uint[PageSize];
    private readonly CsrOp[] _reads = CreateReads();

    /// <summary>Status polls so far (each one a command and a read of its answer).</summary>
    public long Polls { get; private set; }

    public JedecId ReadJedecId()
    {
        Span<byte> id = stackalloc byte[3];
        Command([CmdJedecId], id);
        return new JedecId(id[0], id[1], id[2]);
    }

    public byte ReadStatus()
    {
        Span<byte> s = stackalloc byte[1];
        Command([CmdReadStatus], s);
        return s[0];
    }

    /// <summary>Polls status until BUSY clears.</summary>
    /// <exception cref="DeviceException">Still busy after the poll limit (<see cref="DeviceError.Timeout"/>).</exception>
    public void WaitReady(string what)
    {
        for (int i = 0; i < maxPolls; i++)
        {
            Polls++;
            if ((ReadStatus() & StatusBusy) == 0)
                return;
            wait?.Invoke();
        }
        throw new DeviceException(DeviceError.Timeout, $"flash: still busy after {maxPolls} status polls ({what})");
    }

    /// <summary>Writes the block-protect bits (BP2..0, TB, SEC: <see cref="StatusProtectMask"/>) and waits for the write.</summary>
    public void WriteProtection(byte bits)
    {
        Command([CmdWriteEnable], default);
        Command([CmdWriteStatus, (byte)(bits & StatusProtectMask)], default);
        WaitReady("status write");
        byte now = (byte)(ReadStatus() & StatusProtectMask);
        if (now != (bits & StatusProtectMask))
            throw new DeviceException(DeviceError.Other, $"flash: block-protect bits read 0x{now:X2} after writing 0x{bits & StatusProtectMask:X2} (is /WP held low with SRP set?)");
    }

    public void Read(uint address, Span<byte> destination)
    {
        while (!destination.IsEmpty)
        {
            int n = Math.Min(destination.Length, PageSize);
            Command([CmdReadData, (byte)(address >> 16), (byte)(address >> 8), (byte)address], destination[..n]);
            destination = destination[n..];
            address += (uint)n;
        }
    }

    /// <summary>Programs up to one page (the range must not cross a page boundary) and waits for it.</summary>
    public void ProgramPage(uint address, ReadOnlySpan<byte> data)
    {
        if (data.IsEmpty || data.Length > PageSize || (address % PageSize) + data.Length > PageSize)
            throw new ArgumentException($"{data.Length} bytes at 0x{address:X6} is not within one page", nameof(data));
        Command([CmdWriteEnable], default);
        _ops.Clear();
        Tx(CmdPageProgram, false);
        Tx((byte)(address >> 16), false);
        Tx((byte)(address >> 8), false);
        Tx((byte)address, false);
        for (int i = 0; i < data.Length; i++)
            Tx(data[i], i == data.Length - 1);
        _device.Batch(System.Runtime.InteropServices.CollectionsMarshal.AsSpan(_ops), default);
        WaitReady($"page program at 0x{address:X6}");
    }

    /// <summary>Erases the 4 KiB sector or 64 KiB block at <paramref name="address"/> (aligned) and waits for it.</summary>
    public void Erase(uint address, int size)
    {
        byte cmd = size switch
        {
            SectorSize => CmdSectorErase,
            BlockSize => CmdBlockErase,
            _ => throw new ArgumentOutOfRangeException(nameof(size), size, "erase 4096 or 65536 bytes"),
        };
        if (address % (uint)size != 0)
            throw new ArgumentException($"0x{address:X6} is not aligned to {size} bytes", nameof(address));
        Command([CmdWriteEnable], default);
        Command([cmd, (byte)(address >> 16), (byte)(address >> 8), (byte)address], default);
        WaitReady($"erase of {size} bytes at 0x{address:X6}");
    }

    // One selection: the command bytes out, then answer.Length bytes in (the flash is clocked with zeros meanwhile).
    private void Command(ReadOnlySpan<byte> command, Span<byte> answer)
    {
        _ops.Clear();
        _ops.Add(CsrOp.Write(Reg.FlashClear, 0));
        for (int i = 0; i < command.Length; i++)
            Tx(command[i], answer.IsEmpty && i == command.Length - 1);
        for (int i = 0; i < answer.Length; i++)
            _ops.Add(CsrOp.Write(Reg.FlashTx, Capture | (i == answer.Length - 1 ? Last : 0)));
        _device.Batch(System.Runtime.InteropServices.CollectionsMarshal.AsSpan(_ops), default);
        if (answer.IsEmpty)
            return;
        // the controller shifts a byte in 16 clocks or more: wait until all of them are kept, then take them in one batch
        for (int i = 0; ; i++)
        {
            uint status = _device.Read(Reg.FlashStatus);
            if ((status & 2) != 0)
                throw new DeviceException(DeviceError.Other, "flash: the controller lost bytes (its queue overflowed)");
            if ((int)(status >> 16) >= answer.Length)
                break;
            if (i >= maxPolls)
                throw new DeviceException(DeviceError.Timeout, $"flash: {answer.Length} byte(s) asked, {status >> 16} came after {maxPolls} polls");
            wait?.Invoke();
        }
        var rx = _rx.AsSpan(0, answer.Length);
        _device.Batch(_reads.AsSpan(0, answer.Length), rx);
        for (int i = 0; i < answer.Length; i++)
        {
            if ((rx[i] & RxValid) == 0)
                throw new DeviceException(DeviceError.Protocol, $"flash: byte {i} of {answer.Length} was not there");
            answer[i] = (byte)rx[i];
        }
    }

    private void Tx(byte b, bool last) => _ops.Add(CsrOp.Write(Reg.FlashTx, b | (last ? Last : 0)));

    private static CsrOp[] CreateReads()
    {
        var r = new CsrOp[PageSize];
        Array.Fill(r, CsrOp.Read(Reg.FlashRx));
        return r;
    }
}
