using System.Runtime.InteropServices;

namespace Offload.Daemon;

/// <summary>A file that cannot be taken as input; the message names the file and what is wrong with it.</summary>
public sealed class InputFileException : IOException
{
    public InputFileException()
    {
    }

    public InputFileException(string message)
        : base(message)
    {
    }

    public InputFileException(string message, Exception innerException)
        : base(message, innerException)
    {
    }
}

/// <summary>
/// Reads the small files people hand the daemon and the CLI (configs, tables, keys) with a size limit, and only
/// when they are regular files: /dev/zero would otherwise be read until memory runs out, and a fifo would block
/// in open(2) until someone writes to it.
/// </summary>
public static partial class BoundedFile
{
    /// <summary>What a config or tables file may weigh; the largest real one is a few kilobytes.</summary>
    public const int DefaultLimit = 1 << 20;

    /// <exception cref="InputFileException">Missing, a directory, not a regular file, unreadable, or larger than <paramref name="limit"/>.</exception>
    public static byte[] ReadAllBytes(string path, int limit = DefaultLimit)
    {
        ArgumentNullException.ThrowIfNull(path);
        if (Directory.Exists(path))
            throw new InputFileException($"{path}: is a directory, not a file");
        if (!File.Exists(path))
            throw new InputFileException($"{path}: no such file");
        if (KindOf(path) is { } kind and not "regular file")
            throw new InputFileException($"{path}: is a {kind}, not a regular file");
        try
        {
            using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, bufferSize: 0);
            // The length is checked as read, not from stat: a file may grow between the two.
            var buffer = new byte[Math.Min(limit + 1L, Math.Max(stream.Length + 1, 4096))];
            int filled = 0;
            while (true)
            {
                if (filled == buffer.Length)
                {
                    if (buffer.Length > limit)
                        throw new InputFileException($"{path}: larger than {Describe(limit)}; this is not the file meant");
                    Array.Resize(ref buffer, (int)Math.Min(limit + 1L, buffer.Length * 2L));
                }
                int n = stream.Read(buffer, filled, buffer.Length - filled);
                if (n == 0)
                    break;
                filled += n;
            }
            return buffer[..filled];
        }
        catch (Exception e) when (e is (IOException or UnauthorizedAccessException) and not InputFileException)
        {
            throw new InputFileException($"{path}: cannot read: {e.Message}", e);
        }
    }

    /// <summary>The file's text as UTF-8 (a byte-order mark is dropped), read as <see cref="ReadAllBytes"/> does.</summary>
    public static string ReadAllText(string path, int limit = DefaultLimit)
    {
        byte[] bytes = ReadAllBytes(path, limit);
        ReadOnlySpan<byte> span = bytes;
        if (span.StartsWith((ReadOnlySpan<byte>)[0xEF, 0xBB, 0xBF]))
            span = span[3..];
        return System.Text.Encoding.UTF8.GetString(span);
    }

    private static string Describe(int limit) => limit % (1 << 20) == 0 ? $"{limit >> 20} MiB" : limit % 1024 == 0 ? $"{limit >> 10} KiB" : $"{limit} bytes";

    // .NET reports no file type beyond directory and link; statx's layout is the same on every Linux architecture,
    // unlike stat's, so it is the one asked. Null where it is not available: the size limit still holds there.
    private static string? KindOf(string path)
    {
        if (!OperatingSystem.IsLinux())
            return null;
        Span<byte> buffer = stackalloc byte[256];
        try
        {
            if (Statx(AtFdCwd, path, 0, StatxType, buffer) != 0)
                return null;
        }
        catch (Exception e) when (e is EntryPointNotFoundException or DllNotFoundException)
        {
            return null;
        }
        int mode = BitConverter.ToUInt16(buffer[28..30]) & 0xF000;
        return mode switch
        {
            0x8000 => "regular file",
            0x4000 => "directory",
            0x2000 => "character device",
            0x6000 => "block device",
            0x1000 => "fifo",
            0xC000 => "socket",
            _ => "special file",
        };
    }

    private const int AtFdCwd = -100;
    private const uint StatxType = 1;

    [LibraryImport("libc", EntryPoint = "statx", StringMarshalling = StringMarshalling.Utf8)]
    private static partial int Statx(int dirFd, string path, int flags, uint mask, Span<byte> statx);
}
