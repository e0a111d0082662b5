using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using System.Runtime.InteropServices;

namespace Offload.Cli.Lab;

/// <summary>
/// Sockets inside a named network namespace (<c>ip netns add</c>), made from this process: a socket belongs to the
/// namespace of the thread that created it, so one thread of ours joins the namespace (setns) and creates every socket
/// for it; the sockets are then used from any thread. This keeps the lab's traffic driver one process instead of one
/// per host, and lets it reach each gateway's loopback-only API.
/// </summary>
internal sealed partial class NetnsSockets : IDisposable
{
    private const int CloneNewNet = 0x40000000;

    private readonly BlockingCollection<(AddressFamily Family, TaskCompletionSource<Socket> Done)> _requests = new(64);
    private readonly Thread _thread;
    private readonly TaskCompletionSource _joined = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public NetnsSockets(string name)
    {
        Name = name;
        _thread = new Thread(Loop) { IsBackground = true, Name = $"netns {name}" };
        _thread.Start();
        _joined.Task.GetAwaiter().GetResult();
    }

    public string Name { get; }

    /// <summary>A TCP socket in the namespace.</summary>
    public Task<Socket> TcpSocketAsync(AddressFamily family = AddressFamily.InterNetwork)
    {
        var done = new TaskCompletionSource<Socket>(TaskCreationOptions.RunContinuationsAsynchronously);
        _requests.Add((family, done));
        return done.Task;
    }

    /// <summary>An HTTP client whose connections open inside the namespace.</summary>
    /// <param name="connectTimeout">How long a TCP connect may take (SYN retransmits included).</param>
    /// <param name="connected">Called on each new connection (the lab counts reconnects of a persistent client).</param>
    public HttpClient HttpClient(TimeSpan connectTimeout, TimeSpan requestTimeout, bool keepAlive, Action? connected = null)
    {
        var handler = new SocketsHttpHandler
        {
            ConnectTimeout = connectTimeout,
            PooledConnectionLifetime = keepAlive ? Timeout.InfiniteTimeSpan : TimeSpan.Zero,
            PooledConnectionIdleTimeout = keepAlive ? TimeSpan.FromMinutes(10) : TimeSpan.Zero,
            MaxConnectionsPerServer = keepAlive ? 1 : int.MaxValue,
            UseProxy = false,
            ConnectCallback = async (context, ct) =>
            {
                var socket = await TcpSocketAsync().ConfigureAwait(false);
                try
                {
                    socket.NoDelay = true;
                    await socket.ConnectAsync(context.DnsEndPoint.Host is var h && IPAddress.TryParse(h, out var ip)
                        ? new IPEndPoint(ip, context.DnsEndPoint.Port) : throw new HttpRequestException($"the lab uses addresses, not names ({h})"), ct).ConfigureAwait(false);
                    connected?.Invoke();
                    return new NetworkStream(socket, ownsSocket: true);
                }
                catch
                {
                    socket.Dispose();
                    throw;
                }
            },
        };
        return new HttpClient(handler) { Timeout = requestTimeout };
    }

    public void Dispose()
    {
        _requests.CompleteAdding();
        if (_thread.IsAlive && Thread.CurrentThread != _thread)
            _thread.Join();
        _requests.Dispose();
    }

    private void Loop()
    {
        try
        {
            using (var ns = File.OpenHandle($"/run/netns/{Name}"))
            {
                if (setns((int)ns.DangerousGetHandle(), CloneNewNet) != 0)
                    throw new IOException($"network namespace {Name}: setns failed (errno {Marshal.GetLastPInvokeError()}; the lab needs root)");
            }
            _joined.SetResult();
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            _joined.SetException(new IOException($"network namespace {Name}: {e.Message}", e));
            return;
        }
        foreach (var (family, done) in _requests.GetConsumingEnumerable())
        {
            try
            {
                done.SetResult(new Socket(family, SocketType.Stream, ProtocolType.Tcp));
            }
            catch (SocketException e)
            {
                done.SetException(e);
            }
        }
    }

    [LibraryImport("libc", SetLastError = true)]
    private static partial int setns(int fd, int nstype);
}
