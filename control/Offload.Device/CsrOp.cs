using System.Runtime.InteropServices;

namespace Offload.Device;

public enum CsrOpKind : uint
{
    Write = 0,
    Read = 1,
}

/// <summary>
/// One register access of a batch. Shared by every transport (IDevice.Batch) and laid out exactly like
/// the model's <c>ofm_csr_op</c> {kind, addr, value}, so a span of them goes to native code without a copy.
/// </summary>
[StructLayout(LayoutKind.Sequential)]
public readonly record struct CsrOp
{
    private readonly CsrOpKind _kind;
    private readonly uint _address;
    private readonly uint _value;

    public CsrOp(uint address, uint value, CsrOpKind kind)
    {
        _kind = kind;
        _address = address;
        _value = value;
    }

    public uint Address => _address;

    /// <summary>The value to write; 0 for reads.</summary>
    public uint Value => _value;

    public CsrOpKind Kind => _kind;

    public static CsrOp Read(uint address) => new(address, 0, CsrOpKind.Read);

    public static CsrOp Write(uint address, uint value) => new(address, value, CsrOpKind.Write);
}
