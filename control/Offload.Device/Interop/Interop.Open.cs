using System.Runtime.InteropServices;

namespace Offload.Device.Interop;

internal static partial class Libc
{
    internal const int O_RDWR = 2;
    internal const int O_CLOEXEC = 0x80000;

    // libc's open rather than File.OpenHandle: .NET adds an advisory lock and fstat checks that a sysfs
    // attribute need not support, and the errno is what names the failure (ENOENT, EACCES, EPERM).
    [LibraryImport("libc", EntryPoint = "open", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    internal static partial int Open(string path, int flags);
}
