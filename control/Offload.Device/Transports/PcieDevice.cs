namespace Offload.Device.Transports;

/// <summary>
/// The <c>pcie:DDDD:BB:DD.F</c> transport: the data plane's registers as 32-bit words in BAR 0 of a PCI function,
/// behind the board's AXI4-Lite slave (<c>hdl/rtl/ofl_axil_csr.v</c>). The register at CSR address A is the 32-bit
/// word at BAR offset A. Each access is one load or store through an <see cref="IMmioWindow"/>.
/// </summary>
/// <remarks>
/// <para>Ordering. Writes are posted: the store returns before the device has the value. A read cannot pass an
/// earlier posted write to the same function (PCIe ordering rules, and the BAR maps uncached, so the CPU keeps
/// program order too), so a read in a batch always sees the writes before it and needs no help. What is left is the
/// end: a batch or <see cref="Write"/> that ends in writes is closed by a read of ID, so that when the call returns
/// the device holds every write (a host frame is committed, a watchdog kick has landed) and a dead link shows.</para>
/// <para>Errors. A read the bridge cannot complete (link down, SLVERR or DECERR from the slave) returns all ones.
/// A register may hold all ones, so such a value is checked against ID: when ID reads all ones too, the function is
/// gone and the call fails as <see cref="DeviceError.Absent"/>; otherwise the value stands.</para>
/// <para>Not thread-safe: its owner (<see cref="Dataplane"/>) serializes callers. Accesses allocate nothing.</para>
/// </remarks>
public sealed partial class PcieDevice : IDevice
{
    private const uint AllOnes = 0xFFFF_FFFF;

    /// <summary>The register map's extent: a BAR smaller than this cannot hold the data plane's registers.</summary>
    public const uint CsrWindow = 0x1_0000;

    private readonly IMmioWindow _bar;
    private readonly bool _ownsWindow;

    /// <summary>A device over any window (a mapped BAR, a file laid out like one, a co-simulated slave).</summary>
    /// <param name="bar">The window; at least <see cref="CsrWindow"/> bytes.</param>
    /// <param name="name">What messages call it, e.g. "pcie:0000:01:00.0".</param>
    /// <param name="ownsWindow">Dispose the window with the device.</param>
    public PcieDevice(IMmioWindow bar, string name, bool ownsWindow = true)
    {
        ArgumentNullException.ThrowIfNull(bar);
        ArgumentException.ThrowIfNullOrEmpty(name);
        if (bar.Length < CsrWindow)
            throw new DeviceException(DeviceError.Mismatch,
                $"{name}: BAR 0 is {bar.Length} bytes; the data plane's registers need {CsrWindow} (is this the right function, and the right image?)");
        _bar = bar;
        _ownsWindow = ownsWindow;
        Name = name;
    }

    /// <summary>"pcie:DDDD:BB:DD.F" as opened, for messages.</summary>
    public string Name { get; }

    public string Transport => "pcie";

    public uint Read(uint address)
    {
        uint v = _bar.Read32(Check(address));
        if (v == AllOnes)
            ReadBackId();
        return v;
    }

    public void Write(uint address, uint value)
    {
        _bar.Write32(Check(address), value);
        ReadBackId();
    }

    public void Batch(ReadOnlySpan<CsrOp> ops, Span<uint> results)
    {
        if (!results.IsEmpty && results.Length < ops.Length)
            throw new ArgumentException($"results holds {results.Length} values for {ops.Length} operations", nameof(results));
        bool posted = false;
        for (int i = 0; i < ops.Length; i++)
        {
            var op = ops[i];
            uint offset = Check(op.Address);
            uint v = 0;
            if (op.Kind == CsrOpKind.Read)
            {
                v = _bar.Read32(offset);
                if (v == AllOnes)
                    ReadBackId();
                posted = false;
            }
            else
            {
                _bar.Write32(offset, op.Value);
                posted = true;
            }
            if (!results.IsEmpty)
                results[i] = v;
        }
        if (posted)
            ReadBackId();
    }

    public void Dispose()
    {
        if (_ownsWindow)
            _bar.Dispose();
    }

    private uint Check(uint address)
    {
        if ((address & 3) != 0 || address >= CsrWindow)
            throw new ArgumentOutOfRangeException(nameof(address), address, $"{Name}: 0x{address:X} is not a register address (32-bit aligned, below 0x{CsrWindow:X})");
        return address;
    }

    // Behind posted writes, a read of ID returns only once they have reached the device; after an all-ones
    // value it tells a register that holds all ones from a function that no longer answers.
    private void ReadBackId()
    {
        if (_bar.Read32(Reg.Id) == AllOnes)
            throw Gone();
    }

    private DeviceException Gone() => new(DeviceError.Absent,
        $"{Name}: BAR 0 reads all ones: the function left the bus, its link is down, or the FPGA lost its image");
}
