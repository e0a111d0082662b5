using System.Runtime.InteropServices;

namespace Offload.Device.Interop;

internal static partial class Libc
{
    internal const int PROT_READ = 1;
    internal const int PROT_WRITE = 2;
    internal const int MAP_SHARED = 1;
    internal static readonly nint MAP_FAILED = -1;

    // off_t is 64-bit on every 64-bit Linux ABI this runs on.
    [LibraryImport("libc", EntryPoint = "mmap", SetLastError = true)]
    internal static partial nint MMap(nint addr, nuint length, int prot, int flags, int fd, long offset);
}
