using Offload.HwModel;

namespace Offload.Device;

/// <summary>
/// <see cref="IDevice"/> over the in-process Verilator model. <see cref="Model"/> stays reachable for what
/// only a model can do (push and pop frames, run the clock), which tests and the CLI need.
/// </summary>
/// <remarks>Not thread-safe, like the model under it.</remarks>
public sealed class ModelDevice : IDevice
{
    private readonly bool _ownsModel;

    public ModelDevice(HwModel.HwModel model, bool ownsModel = true)
    {
        Model = model ?? throw new ArgumentNullException(nameof(model));
        _ownsModel = ownsModel;
    }

    /// <summary>Creates a model of the given stream width and a device that owns it.</summary>
    public static ModelDevice Create(int dataWidth = 64) => new(HwModel.HwModel.Create(dataWidth));

    public HwModel.HwModel Model { get; }

    public string Transport => "model";

    public uint Read(uint address)
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

    public void Write(uint address, uint value)
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

    public void Batch(ReadOnlySpan<CsrOp> ops, Span<uint> results)
    {
        try
        {
            Model.CsrBatch(ops, results);
        }
        catch (HwModelException e)
        {
            throw new DeviceException(e.Message, e);
        }
    }

    public void Dispose()
    {
        if (_ownsModel)
            Model.Dispose();
    }
}
