using System.Runtime.InteropServices;

namespace Offload.Device.Interop;

internal static partial class Libc
{
    [LibraryImport("libc", EntryPoint = "munmap", SetLastError = true)]
    internal static partial int MUnmap(nint addr, nuint length);
}
