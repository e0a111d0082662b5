using System.Buffers.Text;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace Offload.Balancer.Health;

/// <summary>The outcome of one probe; <see cref="Detail"/> says what was seen, for logs and <c>show</c> views.</summary>
public readonly record struct ProbeResult(bool Success, string Detail)
{
    public static ProbeResult Pass(string detail) => new(true, detail);

    public static ProbeResult Fail(string detail) => new(false, detail);
}

/// <summary>
/// One active check of a backend. Implementations do real I/O and honour the token, which the checker
/// cancels at the timeout; they report refusals and bad answers as a failed result rather than throwing.
/// </summary>
public interface IHealthProbe
{
    string Name { get; }

    ValueTask<ProbeResult> ProbeAsync(CancellationToken cancellationToken);
}

/// <summary>Passes when a TCP connection to the backend opens; closes it at once.</summary>
public sealed class TcpConnectProbe(IPEndPoint target) : IHealthProbe
{
    public IPEndPoint Target { get; } = target ?? throw new ArgumentNullException(nameof(target));

    public string Name => $"tcp {Target}";

    public async ValueTask<ProbeResult> ProbeAsync(CancellationToken cancellationToken)
    {
        using var socket = new Socket(Target.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
        try
        {
            await socket.ConnectAsync(Target, cancellationToken).ConfigureAwait(false);
            return ProbeResult.Pass("connected");
        }
        catch (SocketException e)
        {
            return ProbeResult.Fail($"connect to {Target}: {e.SocketErrorCode}");
        }
    }
}

/// <summary>
/// HTTP status codes a check accepts: single codes and ranges, for example "200", "200-299" or "200,204,300-399".
/// </summary>
public sealed class StatusCodeSet
{
    private readonly (int Low, int High)[] _ranges;
    private readonly string _text;

    private StatusCodeSet((int, int)[] ranges, string text)
    {
        _ranges = ranges;
        _text = text;
    }

    public static StatusCodeSet Ok { get; } = Parse("200");

    /// <exception cref="FormatException">The text names something other than codes 100..599 and ranges of them.</exception>
    public static StatusCodeSet Parse(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        var ranges = new List<(int, int)>();
        foreach (string part in text.Split(',', StringSplitOptions.TrimEntries))
        {
            string[] ends = part.Split('-', StringSplitOptions.TrimEntries);
            if (ends.Length is < 1 or > 2 || !TryCode(ends[0], out int low) || !TryCode(ends[^1], out int high) || high < low)
                throw new FormatException($"'{text}': expected HTTP status codes (100..599) or ranges such as 200-299, separated by commas; '{part}' is neither");
            ranges.Add((low, high));
        }
        return new StatusCodeSet([.. ranges], text);
    }

    public bool Contains(int code)
    {
        foreach (var (low, high) in _ranges)
        {
            if (code >= low && code <= high)
                return true;
        }
        return false;
    }

    public override string ToString() => _text;

    private static bool TryCode(string s, out int code) =>
        int.TryParse(s, NumberStyles.None, CultureInfo.InvariantCulture, out code) && code is >= 100 and <= 599;
}

/// <summary>
/// HTTP/1.1 GET over a plain TCP connection: passes when the status line's code is in the expected set. Reads
/// only the status line, so a large or slow body does not hold the check up.
/// </summary>
public sealed class HttpGetProbe : IHealthProbe
{
    private const int MaxStatusLine = 1024;
    private readonly byte[] _request;

    /// <param name="host">Host header: the name the backend's virtual host answers to.</param>
    /// <param name="path">Absolute path (with query) starting with '/'.</param>
    public HttpGetProbe(IPEndPoint target, string host, string path = "/", StatusCodeSet? expect = null)
    {
        ArgumentNullException.ThrowIfNull(target);
        ArgumentException.ThrowIfNullOrEmpty(host);
        ArgumentException.ThrowIfNullOrEmpty(path);
        if (host.AsSpan().IndexOfAny("\r\n /") >= 0)
            throw new ArgumentException($"HTTP check host '{host}' holds a space, slash or line break", nameof(host));
        if (path[0] != '/' || path.AsSpan().IndexOfAny("\r\n ") >= 0)
            throw new ArgumentException($"HTTP check path '{path}' must start with '/' and hold no spaces or line breaks", nameof(path));
        Target = target;
        Expect = expect ?? StatusCodeSet.Ok;
        Path = path;
        _request = Encoding.ASCII.GetBytes($"GET {path} HTTP/1.1\r\nHost: {host}\r\nUser-Agent: offload-health\r\nAccept: */*\r\nConnection: close\r\n\r\n");
    }

    public IPEndPoint Target { get; }

    public string Path { get; }

    public StatusCodeSet Expect { get; }

    public string Name => $"http {Target}{Path}";

    public async ValueTask<ProbeResult> ProbeAsync(CancellationToken cancellationToken)
    {
        using var socket = new Socket(Target.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
        byte[] buffer = new byte[MaxStatusLine];
        int have = 0;
        try
        {
            await socket.ConnectAsync(Target, cancellationToken).ConfigureAwait(false);
            await socket.SendAsync(_request, SocketFlags.None, cancellationToken).ConfigureAwait(false);
            while (have < buffer.Length)
            {
                int n = await socket.ReceiveAsync(buffer.AsMemory(have), SocketFlags.None, cancellationToken).ConfigureAwait(false);
                if (n == 0)
                    break;
                have += n;
                if (buffer.AsSpan(0, have).IndexOf("\r\n"u8) >= 0)
                    break;
            }
        }
        catch (SocketException e)
        {
            return ProbeResult.Fail($"HTTP to {Target}: {e.SocketErrorCode}");
        }
        if (!TryStatus(buffer.AsSpan(0, have), out int status))
            return ProbeResult.Fail(have == 0 ? $"HTTP to {Target}: closed without an answer" : $"HTTP to {Target}: no HTTP/1.x status line");
        return Expect.Contains(status)
            ? ProbeResult.Pass(status.ToString(CultureInfo.InvariantCulture))
            : ProbeResult.Fail($"HTTP {status} from {Target}{Path}, expected {Expect}");
    }

    /// <summary>"HTTP/1.x NNN ..." up to the first line break.</summary>
    internal static bool TryStatus(ReadOnlySpan<byte> response, out int status)
    {
        status = 0;
        int end = response.IndexOf("\r\n"u8);
        if (end < 0)
            return false;
        ReadOnlySpan<byte> line = response[..end];
        if (line.Length < 12 || !line.StartsWith("HTTP/1."u8) || line[8] != (byte)' ')
            return false;
        if (!Utf8Parser.TryParse(line.Slice(9, 3), out status, out int consumed) || consumed != 3 || status is < 100 or > 599)
            return false;
        return line.Length == 12 || line[12] == (byte)' ';
    }
}
