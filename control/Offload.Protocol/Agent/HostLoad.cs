using System.Buffers.Text;

namespace Offload.Protocol.Agent;

/// <summary>One sample of a backend's load, as an agent reports it.</summary>
/// <param name="Cpu">CPU utilisation 0..1 since the previous sample.</param>
/// <param name="Memory">Fraction of memory in use 0..1.</param>
/// <param name="Connections">Established TCP connections.</param>
public readonly record struct HostLoad(double Cpu, double Memory, uint Connections);

/// <summary>Where an agent gets its load from.</summary>
public interface IHostLoadSource
{
    HostLoad Sample();
}

/// <summary>
/// Reads the load of this Linux host straight from procfs: CPU from the change of /proc/stat's aggregate line
/// between two samples, memory from /proc/meminfo (1 − MemAvailable / MemTotal) and established TCP connections
/// from /proc/net/tcp and /proc/net/tcp6 (state 01). Not thread-safe (it keeps the previous CPU counters).
/// </summary>
public sealed class ProcHostLoadSource : IHostLoadSource
{
    private readonly string _root;
    private byte[] _buffer = new byte[16 * 1024];
    private ulong _lastBusy;
    private ulong _lastTotal;

    /// <param name="procRoot">The procfs mount (tests may point it at a copy).</param>
    public ProcHostLoadSource(string procRoot = "/proc")
    {
        _root = procRoot;
    }

    public HostLoad Sample()
    {
        double cpu = 0;
        if (ProcParsers.TryParseCpu(Read("stat"), out ulong busy, out ulong total))
        {
            // The first sample has no previous one: the average since boot is the best estimate there is.
            ulong dBusy = busy - _lastBusy, dTotal = total - _lastTotal;
            if (total > _lastTotal && busy >= _lastBusy)
                cpu = Math.Clamp(dBusy / (double)dTotal, 0, 1);
            (_lastBusy, _lastTotal) = (busy, total);
        }
        double memory = ProcParsers.TryParseMemory(Read("meminfo"), out double used) ? used : 0;
        long connections = ProcParsers.CountEstablished(Read("net/tcp")) + ProcParsers.CountEstablished(Read("net/tcp6"));
        return new HostLoad(cpu, memory, (uint)Math.Min(connections, uint.MaxValue));
    }

    /// <summary>The file's bytes in a buffer kept between samples; empty when the file is missing (no IPv6, say).</summary>
    private ReadOnlySpan<byte> Read(string name)
    {
        string path = Path.Combine(_root, name);
        try
        {
            using var f = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite, bufferSize: 0);
            int n = 0;
            while (true)
            {
                if (n == _buffer.Length)
                    Array.Resize(ref _buffer, _buffer.Length * 2);
                int got = f.Read(_buffer, n, _buffer.Length - n);
                if (got == 0)
                    return _buffer.AsSpan(0, n);
                n += got;
            }
        }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException)
        {
            return [];
        }
    }
}

/// <summary>Parsers for the procfs files the agent reads; they take bytes and never throw on odd content.</summary>
public static class ProcParsers
{
    /// <summary>
    /// The aggregate "cpu" line of /proc/stat: busy = user + nice + system + irq + softirq + steal, total = busy +
    /// idle + iowait. Guest time is already inside user and nice, so it is not added again.
    /// </summary>
    public static bool TryParseCpu(ReadOnlySpan<byte> stat, out ulong busy, out ulong total)
    {
        busy = total = 0;
        ReadOnlySpan<byte> line = FirstLine(stat);
        if (!line.StartsWith("cpu "u8))
            return false;
        line = line[4..];
        Span<ulong> v = stackalloc ulong[8];
        int count = 0;
        while (count < v.Length && NextNumber(ref line, out ulong value))
            v[count++] = value;
        // Kernels since 2.6.11 have at least 8 fields; fewer means this is not a stat file we understand.
        if (count < 4)
            return false;
        ulong idle = v[3] + v[4];
        ulong work = v[0] + v[1] + v[2] + v[5] + v[6] + v[7];
        busy = work;
        total = work + idle;
        return true;
    }

    /// <summary>1 − MemAvailable / MemTotal from /proc/meminfo.</summary>
    public static bool TryParseMemory(ReadOnlySpan<byte> meminfo, out double used)
    {
        used = 0;
        ulong total = 0, available = 0;
        bool haveTotal = false, haveAvailable = false;
        while (!meminfo.IsEmpty)
        {
            ReadOnlySpan<byte> line = FirstLine(meminfo);
            meminfo = meminfo[Math.Min(meminfo.Length, line.Length + 1)..];
            if (line.StartsWith("MemTotal:"u8))
            {
                line = line[9..];
                haveTotal = NextNumber(ref line, out total);
            }
            else if (line.StartsWith("MemAvailable:"u8))
            {
                line = line[13..];
                haveAvailable = NextNumber(ref line, out available);
            }
        }
        if (!haveTotal || !haveAvailable || total == 0)
            return false;
        used = Math.Clamp(1 - (available / (double)total), 0, 1);
        return true;
    }

    /// <summary>Rows of /proc/net/tcp or tcp6 whose state (the fourth column) is 01, ESTABLISHED; the header row has "st" there.</summary>
    public static int CountEstablished(ReadOnlySpan<byte> table)
    {
        int count = 0;
        while (!table.IsEmpty)
        {
            ReadOnlySpan<byte> line = FirstLine(table);
            table = table[Math.Min(table.Length, line.Length + 1)..];
            // Columns: "sl", "local_address", "rem_address", "st".
            ReadOnlySpan<byte> rest = line;
            ReadOnlySpan<byte> state = default;
            for (int column = 0; column < 4; column++)
            {
                rest = rest.TrimStart((byte)' ');
                int end = rest.IndexOf((byte)' ');
                state = end < 0 ? rest : rest[..end];
                rest = end < 0 ? [] : rest[end..];
            }
            if (state.SequenceEqual("01"u8))
                count++;
        }
        return count;
    }

    private static ReadOnlySpan<byte> FirstLine(ReadOnlySpan<byte> text)
    {
        int nl = text.IndexOf((byte)'\n');
        return nl < 0 ? text : text[..nl];
    }

    private static bool NextNumber(ref ReadOnlySpan<byte> text, out ulong value)
    {
        text = text.TrimStart((byte)' ');
        if (!Utf8Parser.TryParse(text, out value, out int consumed) || consumed == 0)
            return false;
        text = text[consumed..];
        return true;
    }
}
