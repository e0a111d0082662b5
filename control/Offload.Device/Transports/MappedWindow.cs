using System.Buffers.Binary;

namespace Offload.Device.Transports;

/// <summary>
/// A file mapped into memory as a register window: sysfs <c>resource0</c> of a PCI function (its BAR 0), or an
/// ordinary file laid out like one. Each access is one 32-bit volatile load or store at the offset, so it reaches
/// the device exactly once, in program order, and is never merged, split or cached (resource0 maps uncached).
/// </summary>
/// <remarks>Not thread-safe: <see cref="Dataplane"/> serializes callers. Accesses allocate nothing.</remarks>
public sealed unsafe partial class MappedWindow : IMmioWindow
{
    private byte* _base;
    private readonly nuint _length;

    private MappedWindow(byte* address, nuint length, string path)
    {
        _base = address;
        _length = length;
        Path = path;
    }

    /// <summary>The file mapped, for messages.</summary>
    public string Path { get; }

    public long Length => (long)_length;

    public uint Read32(uint offset)
    {
        uint v = Volatile.Read(ref *At(offset));
        // PCIe carries registers little-endian; a big-endian host sees them swapped in memory.
        return BitConverter.IsLittleEndian ? v : BinaryPrimitives.ReverseEndianness(v);
    }

    public void Write32(uint offset, uint value)
    {
        uint v = BitConverter.IsLittleEndian ? value : BinaryPrimitives.ReverseEndianness(value);
        Volatile.Write(ref *At(offset), v);
    }

    public void Dispose()
    {
        byte* b = _base;
        _base = null;
        if (b != null)
            Unmap(b, _length);
    }

    private uint* At(uint offset)
    {
        ObjectDisposedException.ThrowIf(_base == null, this);
        if ((offset & 3) != 0 || (nuint)offset + 4 > _length)
            throw new ArgumentOutOfRangeException(nameof(offset), offset, $"not a 32-bit register inside the {_length}-byte window of {Path}");
        return (uint*)(_base + offset);
    }
}
