using System.Runtime.InteropServices;
using Offload.Device.Interop;

namespace Offload.Device.Transports;

public sealed unsafe partial class MappedWindow
{
    /// <summary>Maps the whole of <paramref name="path"/> shared, read-write.</summary>
    /// <exception cref="FileNotFoundException">The file does not exist.</exception>
    /// <exception cref="UnauthorizedAccessException">open(2) said EACCES or EPERM: the file's mode or owner keeps us out.</exception>
    /// <exception cref="IOException">Anything else; <see cref="Exception.HResult"/> is the errno and the message names the call.</exception>
    public static MappedWindow Open(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        var info = new FileInfo(path);
        if (!info.Exists)
            throw new FileNotFoundException($"{path} does not exist", path);
        // A sysfs resource file reports the BAR's size as its length.
        long length = info.Length;
        if (length < 4)
            throw new IOException($"{path} is {length} bytes: too small to hold a register", Errno.EINVAL);
        int fd = Libc.Open(path, Libc.O_RDWR | Libc.O_CLOEXEC);
        if (fd < 0)
        {
            int errno = Marshal.GetLastPInvokeError();
            if (errno is Errno.EACCES or Errno.EPERM)
                throw new UnauthorizedAccessException($"open {path}: {Marshal.GetPInvokeErrorMessage(errno)}");
            throw new IOException($"open {path}: {Marshal.GetPInvokeErrorMessage(errno)}", errno);
        }
        try
        {
            nint p = Libc.MMap(0, (nuint)length, Libc.PROT_READ | Libc.PROT_WRITE, Libc.MAP_SHARED, fd, 0);
            if (p == Libc.MAP_FAILED)
            {
                int errno = Marshal.GetLastPInvokeError();
                throw new IOException($"mmap {path}: {Marshal.GetPInvokeErrorMessage(errno)}", errno);
            }
            return new MappedWindow((byte*)p, (nuint)length, path);
        }
        finally
        {
            // The mapping holds its own reference to the file.
            Libc.Close(fd);
        }
    }

    private static void Unmap(byte* address, nuint length) => Libc.MUnmap((nint)address, length);
}
