namespace Offload.Device.Interop;

/// <summary>The Linux errno values the PCIe transport names in its errors.</summary>
internal static class Errno
{
    internal const int EPERM = 1;
    internal const int ENOENT = 2;
    internal const int EACCES = 13;
    internal const int ENODEV = 19;
    internal const int EINVAL = 22;
}
