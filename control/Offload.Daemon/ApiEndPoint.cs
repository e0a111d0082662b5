using System.Diagnostics.CodeAnalysis;
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace Offload.Daemon;

/// <summary>
/// Where the local API may listen: a loopback host:port (127.0.0.1:9480, [::1]:9480) or a Unix socket
/// (<c>unix:/run/offload/gw.sock</c>), never another address. One parser for the config file and the command line.
/// </summary>
public static class ApiEndPoint
{
    public const string UnixPrefix = "unix:";

    // sun_path holds 108 bytes with its terminating NUL.
    private const int MaxSocketPath = 107;

    public static bool TryParse(string text, [NotNullWhen(true)] out EndPoint? endPoint, [NotNullWhen(false)] out string? problem)
    {
        ArgumentNullException.ThrowIfNull(text);
        endPoint = null;
        if (text.StartsWith(UnixPrefix, StringComparison.Ordinal))
        {
            string path = text[UnixPrefix.Length..];
            if (!Path.IsPathFullyQualified(path) || path.EndsWith('/'))
                problem = $"'{text}' is not unix: followed by an absolute socket path such as unix:/run/offload/gw.sock";
            else if (Encoding.UTF8.GetByteCount(path) > MaxSocketPath)
                problem = $"'{text}': a Unix socket path holds at most {MaxSocketPath} bytes";
            else
                (endPoint, problem) = (new UnixDomainSocketEndPoint(path), null);
            return endPoint is not null;
        }
        bool v6 = text.StartsWith('[');
        if (!IPEndPoint.TryParse(text, out var ep) || !text.Contains(':', StringComparison.Ordinal)
            || ep.AddressFamily != (v6 ? AddressFamily.InterNetworkV6 : AddressFamily.InterNetwork))
        {
            problem = $"'{text}' is not a loopback host:port such as 127.0.0.1:9480 or [::1]:9480, or unix:/path/to.sock";
            return false;
        }
        if (!IPAddress.IsLoopback(ep.Address))
        {
            problem = $"'{text}' is not a loopback address: the local API serves 127.0.0.1, [::1] or a Unix socket only";
            return false;
        }
        (endPoint, problem) = (ep, null);
        return true;
    }

    /// <summary>How a user writes it back: host:port, or unix:/path.</summary>
    public static string Format(EndPoint endPoint) => endPoint switch
    {
        UnixDomainSocketEndPoint u => UnixPrefix + u.ToString(),
        _ => endPoint?.ToString() ?? "",
    };
}
