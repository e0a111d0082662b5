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

/// <summary>What became of the reports to one gateway, as far as the agent can tell without acknowledgements.</summary>
/// <param name="Sent">Reports handed to the network for this gateway.</param>
/// <param name="SendErrors">Errors sending to it, ICMP port or host unreachable included (seen only with a single gateway, see <see cref="AgentReporter"/>).</param>
/// <param name="LastError">The last of those errors.</param>
/// <param name="QueriesAnswered">Valid queries from its address: it has our key and reaches us.</param>
/// <param name="QueriesRefused">Queries from its address whose signature did not match our key: it has another key for this id.</param>
public sealed record AgentGatewayStatus(IPEndPoint Gateway, long Sent, long SendErrors, SocketError LastError, long QueriesAnswered, long QueriesRefused);

/// <summary>
/// The reporting side of <c>offload agent</c>: sends a signed report to every gateway each interval (on the
/// injected clock) and answers a gateway's query at once, from one UDP socket so the gateway can reach it at
/// the address it sends from. Thread-safe: the timer, the query loop and callers setting weight or drain may
/// run at the same time.
/// </summary>
/// <remarks>
/// Gateways acknowledge nothing, so the agent learns of trouble from the network: with one gateway the socket is
/// connected to it, and an ICMP port or host unreachable comes back as an error on the socket's next operation.
/// An unconnected socket (several gateways) hears of no ICMP error on Linux; there only errors the send itself
/// returns count. A gateway that asks with another key shows through its refused queries.
/// </remarks>
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
    private readonly bool _connected;
    private readonly long[] _gatewaySent;
    private readonly long[] _gatewayErrors;
    private readonly SocketError[] _gatewayLastError;
    private readonly long[] _gatewayAnswered;
    private readonly long[] _gatewayRefused;

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
        int n = options.Gateways.Count;
        (_gatewaySent, _gatewayErrors, _gatewayLastError, _gatewayAnswered, _gatewayRefused) = (new long[n], new long[n], new SocketError[n], new long[n], new long[n]);
        if (n == 1)
        {
            try
            {
                _socket.Connect(options.Gateways[0]);
                _connected = true;
            }
            catch (SocketException e)
            {
                // No route now: report unconnected and count the sends that fail.
                Note(0, e.SocketErrorCode);
            }
        }
    }

    public ulong BootId { get; }

    public IPEndPoint LocalEndPoint => (IPEndPoint)_socket.LocalEndPoint!;

    /// <summary>Completes when <see cref="AgentReporterOptions.Count"/> reports are out, or on dispose.</summary>
    public Task Completion => _done.Task;

    public long ReportsSent => Interlocked.Read(ref _sent);

    public long QueriesAnswered => Interlocked.Read(ref _answered);

    /// <summary>Datagrams on the query socket that were not a valid query for us.</summary>
    public long Rejected => Interlocked.Read(ref _rejected);

    /// <summary>Per gateway, in the order given: what was sent, what failed, and what its queries said.</summary>
    public IReadOnlyList<AgentGatewayStatus> GatewayStatus()
    {
        lock (_lock)
        {
            if (_connected && _disposed == 0)
            {
                // An ICMP error that came back after the last send is still pending on the socket; reading SO_ERROR takes it.
                try
                {
                    if (_socket.GetSocketOption(SocketOptionLevel.Socket, SocketOptionName.Error) is int e && e != 0)
                        Note(0, (SocketError)e);
                }
                catch (Exception e) when (e is SocketException or ObjectDisposedException)
                {
                    // Closed under us: nothing pending to read.
                }
            }
            var list = new List<AgentGatewayStatus>(_options.Gateways.Count);
            for (int i = 0; i < _options.Gateways.Count; i++)
            {
                list.Add(new AgentGatewayStatus(_options.Gateways[i], Interlocked.Read(ref _gatewaySent[i]), Interlocked.Read(ref _gatewayErrors[i]),
                    _gatewayLastError[i], Interlocked.Read(ref _gatewayAnswered[i]), Interlocked.Read(ref _gatewayRefused[i])));
            }
            return list;
        }
    }

    private void Note(int gateway, SocketError error)
    {
        Interlocked.Increment(ref _gatewayErrors[gateway]);
        _gatewayLastError[gateway] = error;
    }

    private int GatewayIndex(IPEndPoint from)
    {
        IPAddress a = Normalize(from.Address);
        for (int i = 0; i < _options.Gateways.Count; i++)
        {
            if (Normalize(_options.Gateways[i].Address).Equals(a))
                return i;
        }
        return -1;
    }

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
                    int g = GatewayIndex(to);
                    SendOne(g, _send.AsSpan(0, n), to);
                }
                else
                {
                    // One gateway that is down must not stop reports to the others; the next interval tries it again.
                    for (int g = 0; g < _options.Gateways.Count; g++)
                        SendOne(g, _send.AsSpan(0, n), _options.Gateways[g]);
                }
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

    private void SendOne(int gateway, ReadOnlySpan<byte> datagram, IPEndPoint to)
    {
        try
        {
            if (_connected && gateway == 0)
                _socket.Send(datagram, SocketFlags.None);
            else
                _socket.SendTo(datagram, SocketFlags.None, to);
            if (gateway >= 0)
                Interlocked.Increment(ref _gatewaySent[gateway]);
        }
        catch (SocketException e)
        {
            if (gateway >= 0)
                Note(gateway, e.SocketErrorCode);
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
            catch (SocketException e) when (!ct.IsCancellationRequested)
            {
                // On the connected socket an ICMP error for a report surfaces here as often as at the next send.
                if (_connected)
                {
                    lock (_lock)
                        Note(0, e.SocketErrorCode);
                }
                continue;
            }
            var from = (IPEndPoint)r.RemoteEndPoint;
            AgentReject verdict = IsQueryForUs(buffer.AsSpan(0, r.ReceivedBytes), from);
            int gateway = GatewayIndex(from);
            if (verdict == AgentReject.None)
            {
                Interlocked.Increment(ref _answered);
                if (gateway >= 0)
                    Interlocked.Increment(ref _gatewayAnswered[gateway]);
                Send(from);
            }
            else
            {
                Interlocked.Increment(ref _rejected);
                if (verdict == AgentReject.BadMac && gateway >= 0)
                    Interlocked.Increment(ref _gatewayRefused[gateway]);
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
