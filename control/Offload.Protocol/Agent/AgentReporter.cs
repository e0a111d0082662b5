using System.Net;
using System.Net.Sockets;

namespace Offload.Protocol.Agent;

/// <summary>How an <see cref="AgentReporter"/> runs.</summary>
/// <param name="Id">The backend's name, as the gateways are configured with it.</param>
/// <param name="Key">The HMAC key shared with the gateways.</param>
/// <param name="Gateways">Where reports go (each gateway's handler).</param>
/// <param name="Listen">Local address for the socket reports leave from and queries arrive at.</param>
/// <param name="Count">Stop after this many reports in all (periodic and answers to queries); null runs until disposed.</param>
/// <param name="BootId">Override of the boot id (default: start time in microseconds since 1970, which increases across restarts).</param>
public sealed record AgentReporterOptions(
    string Id,
    ReadOnlyMemory<byte> Key,
    IReadOnlyList<IPEndPoint> Gateways,
    TimeSpan Interval,
    IPEndPoint Listen,
    int? Weight = null,
    bool Drain = false,
    long? Count = null,
    ulong? BootId = null);

/// <summary>
/// The reporting side of <c>offload agent</c>: sends a signed report to every gateway each interval (on the
/// injected clock) and answers a gateway's query at once, from one UDP socket so the gateway can reach it at
/// the address it sends from. Thread-safe: the timer, the query loop and callers setting weight or drain may
/// run at the same time.
/// </summary>
public sealed class AgentReporter : IDisposable
{
    private readonly AgentReporterOptions _options;
    private readonly IHostLoadSource _load;
    private readonly TimeProvider _time;
    private readonly Socket _socket;
    private readonly Lock _lock = new();
    private readonly byte[] _send = new byte[AgentProtocol.MaxLength];
    private readonly CancellationTokenSource _stop = new();
    private readonly TaskCompletionSource _done = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly HashSet<IPAddress> _gatewayAddresses;
    private ITimer? _timer;
    private Task _receive = Task.CompletedTask;
    private ulong _sequence;
    private int? _weight;
    private bool _drain;
    private long _sent;
    private long _answered;
    private long _rejected;
    private int _disposed;

    public AgentReporter(AgentReporterOptions options, IHostLoadSource load, TimeProvider? time = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(load);
        if (!AgentProtocol.IsValidId(options.Id))
            throw new ArgumentException($"agent id '{options.Id}' must be 1..{AgentProtocol.MaxIdLength} printable ASCII characters without spaces", nameof(options));
        if (options.Key.IsEmpty)
            throw new ArgumentException("the agent needs a non-empty HMAC key", nameof(options));
        if (options.Gateways.Count == 0)
            throw new ArgumentException("the agent needs at least one gateway to report to", nameof(options));
        if (options.Interval < TimeSpan.FromMilliseconds(1) || options.Interval.TotalMilliseconds > AgentProtocol.MaxIntervalMs)
            throw new ArgumentOutOfRangeException(nameof(options), options.Interval, "the report interval must be 1 ms .. 1 h");
        if (options.Weight is < 0 or > ushort.MaxValue)
            throw new ArgumentOutOfRangeException(nameof(options), options.Weight, "the weight must be within 0..65535");
        _options = options;
        _load = load;
        _time = time ?? TimeProvider.System;
        _weight = options.Weight;
        _drain = options.Drain;
        _gatewayAddresses = [.. options.Gateways.Select(static g => Normalize(g.Address))];
        BootId = options.BootId ?? (ulong)((_time.GetUtcNow() - DateTimeOffset.UnixEpoch).Ticks / 10);
        _socket = new Socket(options.Listen.AddressFamily, SocketType.Dgram, ProtocolType.Udp);
        if (options.Listen.AddressFamily == AddressFamily.InterNetworkV6)
            _socket.DualMode = true;
        _socket.Bind(options.Listen);
    }

    public ulong BootId { get; }

    public IPEndPoint LocalEndPoint => (IPEndPoint)_socket.LocalEndPoint!;

    /// <summary>Completes when <see cref="AgentReporterOptions.Count"/> reports are out, or on dispose.</summary>
    public Task Completion => _done.Task;

    public long ReportsSent => Interlocked.Read(ref _sent);

    public long QueriesAnswered => Interlocked.Read(ref _answered);

    /// <summary>Datagrams on the query socket that were not a valid query for us.</summary>
    public long Rejected => Interlocked.Read(ref _rejected);

    /// <summary>Operator weight carried from the next report on (null: none).</summary>
    public int? Weight
    {
        get { lock (_lock) return _weight; }
        set
        {
            if (value is < 0 or > ushort.MaxValue)
                throw new ArgumentOutOfRangeException(nameof(value), value, "the weight must be within 0..65535");
            lock (_lock) _weight = value;
        }
    }

    public bool Drain
    {
        get { lock (_lock) return _drain; }
        set { lock (_lock) _drain = value; }
    }

    /// <summary>Sends the first report now, then one per interval, and starts answering queries.</summary>
    public void Start()
    {
        if (_timer is not null)
            throw new InvalidOperationException("the reporter is running already");
        _timer = _time.CreateTimer(static s => ((AgentReporter)s!).Periodic(), this, _options.Interval, _options.Interval);
        _receive = Task.Run(() => ReceiveLoop(_stop.Token));
        Periodic();
    }

    /// <summary>Sends one report to every gateway now.</summary>
    public void ReportNow() => Send(null);

    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) == 1)
            return;
        _timer?.Dispose();
        _stop.Cancel();
        _socket.Dispose();
        try
        {
            _receive.Wait();
        }
        catch (AggregateException)
        {
            // The loop ends by the socket closing under it; how it ended does not matter here.
        }
        _stop.Dispose();
        _done.TrySetResult();
    }

    private void Periodic() => Send(null);

    /// <summary>Builds one report and sends it to <paramref name="to"/>, or to every gateway.</summary>
    private void Send(IPEndPoint? to)
    {
        lock (_lock)
        {
            if (_done.Task.IsCompleted)
                return;
            HostLoad load = _load.Sample();
            var report = new AgentReport(_options.Id, BootId, ++_sequence, _time.GetUtcNow(),
                Math.Clamp(load.Cpu, 0, 1), Math.Clamp(load.Memory, 0, 1), load.Connections, _weight, _drain, _options.Interval);
            int n = AgentCodec.WriteReport(_send, report, _options.Key.Span);
            try
            {
                if (to is not null)
                {
                    _socket.SendTo(_send.AsSpan(0, n), SocketFlags.None, to);
                }
                else
                {
                    foreach (IPEndPoint g in _options.Gateways)
                        _socket.SendTo(_send.AsSpan(0, n), SocketFlags.None, g);
                }
            }
            catch (SocketException)
            {
                // A gateway that is down must not stop reports to the others; the next interval tries again.
            }
            catch (ObjectDisposedException)
            {
                return;
            }
            if (++_sent >= _options.Count)
            {
                _timer?.Dispose();
                _done.TrySetResult();
            }
        }
    }

    private async Task ReceiveLoop(CancellationToken ct)
    {
        byte[] buffer = new byte[AgentProtocol.MaxLength + 1];
        EndPoint any = _options.Listen.AddressFamily == AddressFamily.InterNetworkV6 ? new IPEndPoint(IPAddress.IPv6Any, 0) : new IPEndPoint(IPAddress.Any, 0);
        while (!ct.IsCancellationRequested)
        {
            SocketReceiveFromResult r;
            try
            {
                r = await _socket.ReceiveFromAsync(buffer, SocketFlags.None, any, ct).ConfigureAwait(false);
            }
            catch (Exception e) when (e is OperationCanceledException or ObjectDisposedException)
            {
                return;
            }
            catch (SocketException) when (!ct.IsCancellationRequested)
            {
                continue;
            }
            var from = (IPEndPoint)r.RemoteEndPoint;
            if (IsQueryForUs(buffer.AsSpan(0, r.ReceivedBytes), from) == AgentReject.None)
            {
                Interlocked.Increment(ref _answered);
                Send(from);
            }
            else
            {
                Interlocked.Increment(ref _rejected);
            }
        }
    }

    private AgentReject IsQueryForUs(ReadOnlySpan<byte> datagram, IPEndPoint from)
    {
        AgentReject reject = AgentCodec.TryDecode(datagram, _options.Key.Span, out AgentFrame frame);
        if (reject != AgentReject.None)
            return reject;
        if (frame.Type != AgentMessageType.Query)
            return AgentReject.WrongType;
        if (frame.Id.Length != _options.Id.Length || !System.Text.Ascii.Equals(frame.Id, _options.Id))
            return AgentReject.UnknownAgent;
        // Answer only gateways: a captured query replayed with a forged source must not aim reports at a third party.
        return _gatewayAddresses.Contains(Normalize(from.Address)) ? AgentReject.None : AgentReject.UnknownSender;
    }

    private static IPAddress Normalize(IPAddress a) => a.IsIPv4MappedToIPv6 ? a.MapToIPv4() : a;
}
