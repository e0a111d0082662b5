using System.Runtime.InteropServices;
using Offload.HwModel;

namespace Offload.Device;

/// <summary>
/// <see cref="IDevice"/> over the in-process Verilator model: the <c>model:</c> transport. Besides registers, a
/// model has what a board has in silicon: network ports (<see cref="PushFrame"/>, <see cref="PopFrame"/>) and a
/// clock (<see cref="Run"/>, or a <see cref="ModelClock"/> that runs it in real time).
/// </summary>
/// <remarks>
/// Every member is serialized by one private lock, so a register access from the control plane and a clock tick
/// from a <see cref="ModelClock"/> never meet inside the model (which is not thread-safe). <see cref="Model"/>
/// bypasses that lock: it is for single-threaded rigs (tests, benchmarks, <c>offload sim</c>) that step the model
/// themselves and use nothing else at the same time.
/// </remarks>
public sealed class ModelDevice : IDevice, IHostAttention
{
    private readonly bool _ownsModel;
    private readonly Lock _gate = new();
    private readonly AutoResetEvent _hostAttention = new(false);

    public ModelDevice(HwModel.HwModel model, bool ownsModel = true)
    {
        Model = model ?? throw new ArgumentNullException(nameof(model));
        _ownsModel = ownsModel;
    }

    /// <summary>Creates a model of the given stream width and a device that owns it.</summary>
    public static ModelDevice Create(int dataWidth = 64) => new(HwModel.HwModel.Create(dataWidth));

    /// <summary>The model itself, for single-threaded rigs only (see the remarks).</summary>
    public HwModel.HwModel Model { get; }

    public string Transport => "model";

    /// <summary>
    /// Called after every register write or batch (outside the lock): a write may have given the model work (a host
    /// frame committed, a table changed), so a <see cref="ModelClock"/> that sleeps while the model is idle wakes.
    /// </summary>
    public Action? Activity { get; set; }

    /// <summary>Set by <see cref="RaiseHostAttention"/> (the model's clock, after a tick that left frames for the host).</summary>
    public WaitHandle HostAttention => _hostAttention;

    /// <summary>Tells a waiting control plane that the host RX queue holds a frame, as a board's interrupt would.</summary>
    public void RaiseHostAttention() => _hostAttention.Set();

    /// <summary>Clock cycles run since the model was created.</summary>
    public ulong Cycles
    {
        get
        {
            lock (_gate)
                return Model.Cycles;
        }
    }

    public uint Read(uint address)
    {
        lock (_gate)
        {
            try
            {
                return Model.CsrRead(address);
            }
            catch (HwModelException e)
            {
                throw new DeviceException(e.Message, e);
            }
        }
    }

    public void Write(uint address, uint value)
    {
        lock (_gate)
        {
            try
            {
                Model.CsrWrite(address, value);
            }
            catch (HwModelException e)
            {
                throw new DeviceException(e.Message, e);
            }
        }
        Activity?.Invoke();
    }

    public void Batch(ReadOnlySpan<CsrOp> ops, Span<uint> results)
    {
        lock (_gate)
        {
            try
            {
                // CsrOp is {kind, address, value}, ofm_csr_op's layout: the span goes to the model as is.
                Model.CsrBatch(MemoryMarshal.Cast<CsrOp, uint>(ops), results);
            }
            catch (HwModelException e)
            {
                throw new DeviceException(e.Message, e);
            }
        }
        foreach (var op in ops)
        {
            if (op.Kind == CsrOpKind.Write)
            {
                Activity?.Invoke();
                break;
            }
        }
    }

    /// <summary>
    /// One AXI4-Lite write through the model's register slave (<c>ofl_axil_csr</c>, what a PCIe bridge drives),
    /// serialized with the clock like every other access; the response code is the slave's answer.
    /// </summary>
    public AxilResponse AxilWrite(uint address, uint value, uint strobe = 0xF)
    {
        lock (_gate)
        {
            try
            {
                return Model.AxilWrite(address, value, strobe);
            }
            catch (HwModelException e)
            {
                throw new DeviceException(e.Message, e);
            }
        }
    }

    /// <summary>One AXI4-Lite read through the model's register slave; see <see cref="AxilWrite"/>.</summary>
    public AxilResponse AxilRead(uint address, out uint value)
    {
        lock (_gate)
        {
            try
            {
                return Model.AxilRead(address, out value);
            }
            catch (HwModelException e)
            {
                throw new DeviceException(e.Message, e);
            }
        }
    }

    /// <summary>
    /// Drives the SPI bridge's pins (<c>ofl_spi_csr</c>, what an FTDI's MPSSE drives) step by step, serialized with the
    /// clock like every other access; see <see cref="HwModel.HwModel.SpiDrive"/>.
    /// </summary>
    public void SpiDrive(ReadOnlySpan<byte> pins, uint cyclesPerStep, Span<byte> sampled)
    {
        lock (_gate)
            Model.SpiDrive(pins, cyclesPerStep, sampled);
    }

    /// <summary>Runs the clock for <paramref name="cycles"/> cycles; returns the cycle count after.</summary>
    public ulong Run(ulong cycles)
    {
        lock (_gate)
            return Model.Run(cycles);
    }

    /// <summary>Runs until nothing is in flight (or <paramref name="maxCycles"/>); returns the cycles run (the maximum when it never went idle).</summary>
    public ulong RunUntilIdle(ulong maxCycles = 10_000_000)
    {
        lock (_gate)
            return Model.RunUntilIdle(maxCycles);
    }

    /// <summary>Queues a frame (no FCS) for ingress on network port 0 or 1, as if it came off the wire.</summary>
    public void PushFrame(int port, ReadOnlySpan<byte> frame)
    {
        lock (_gate)
            Model.PushFrame(port, frame);
    }

    /// <summary>Frames queued for ingress on <paramref name="port"/> that the model has not started taking yet.</summary>
    public int RxPending(int port)
    {
        lock (_gate)
            return Model.RxPending(port);
    }

    /// <summary>Takes the next frame that left network port <paramref name="port"/>; its length, or -1 when none.</summary>
    public int PopFrame(int port, Span<byte> buffer)
    {
        lock (_gate)
            return Model.PopFrame(port, buffer);
    }

    public void Dispose()
    {
        _hostAttention.Dispose();
        if (_ownsModel)
        {
            lock (_gate)
                Model.Dispose();
        }
    }
}
