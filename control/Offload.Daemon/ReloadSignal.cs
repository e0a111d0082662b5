using System.Runtime.InteropServices;

namespace Offload.Daemon;

/// <summary>
/// SIGHUP as a daemon's reload signal, also in a process started with SIGHUP ignored (under <c>nohup</c>, or by a
/// shell or supervisor that ignores it). .NET respects an inherited ignore: <see cref="PosixSignalRegistration"/>
/// then installs no handler, and <c>kill -HUP</c> does nothing at all, silently, while the operator believes the new
/// file runs. nginx and sshd take the signal back in that case, and so does this: an ignored SIGHUP is set to its
/// default just before the runtime's handler replaces it.
/// </summary>
public static partial class ReloadSignal
{
    private const int SigHup = 1;
    private static readonly nint SigDfl = 0;
    private static readonly nint SigIgn = 1;

    // glibc's struct sigaction is 152 bytes on 64-bit Linux, the handler first; the rest is room to spare.
    private const int SigactionBytes = 256;

    /// <summary>Registers <paramref name="onSignal"/> for SIGHUP (the default action, ending the process, cancelled).</summary>
    /// <param name="onSignal">Runs on the runtime's signal thread: it should only ask for the reload.</param>
    /// <param name="wasIgnored">Whether the process started with SIGHUP ignored (and it was taken back).</param>
    public static PosixSignalRegistration Register(Action onSignal, out bool wasIgnored)
    {
        ArgumentNullException.ThrowIfNull(onSignal);
        wasIgnored = false;
        if (OperatingSystem.IsLinux())
        {
            // Only an ignore is reset: a handler already installed (the runtime's, from an earlier registration) stays.
            // Between the reset and the registration below a SIGHUP would end the process; that is microseconds during
            // start-up, before the daemon says it runs.
            Span<byte> old = stackalloc byte[SigactionBytes];
            if (Sigaction(SigHup, 0, old) == 0 && MemoryMarshal.Read<nint>(old) == SigIgn)
            {
                Signal(SigHup, SigDfl);
                wasIgnored = true;
            }
        }
        return PosixSignalRegistration.Create(PosixSignal.SIGHUP, c =>
        {
            c.Cancel = true;
            onSignal();
        });
    }

    [LibraryImport("libc", EntryPoint = "sigaction")]
    private static partial int Sigaction(int signal, nint action, Span<byte> oldAction);

    [LibraryImport("libc", EntryPoint = "signal")]
    private static partial nint Signal(int signal, nint handler);
}
