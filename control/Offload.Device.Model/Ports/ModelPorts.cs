namespace Offload.Device.Ports;

/// <summary>A model network port bound to a Linux interface, with the largest L3 packet (MTU) it takes.</summary>
public sealed record PortBinding(int Port, string Interface, int Mtu = 1500);

/// <summary>What crossed one attached port, and what was dropped and why.</summary>
public sealed record WireCounters(
    string Interface, long RxFrames, long TxFrames, long RxQueueFull, long RxTooLong, long RxTruncated, long RxRunt, long TxDropped,
    long SocketErrors);

/// <summary>
/// Binds the model's network ports to Linux interfaces, so a gateway on the model carries real traffic: each frame an
/// interface sees is queued for its model port and driven into the model at the clock's next tick; each frame that
/// leaves a model port is written to its interface. The control plane's own traffic still goes only through the host
/// queues: nothing here goes around the data plane.
/// </summary>
/// <remarks>
/// One receive thread per interface, owned here. The queue between it and the model is bounded and preallocated
/// (<see cref="QueueFrames"/> frames of the port's largest size): when it is full a frame is dropped and counted, and
/// the receive loop never waits for the model. Use with a <see cref="ModelClock"/> whose <c>beforeTick</c> is
/// <see cref="Feed"/> and whose port output is <see cref="Transmit"/>; <see cref="AttachTo"/> builds that clock.
/// </remarks>
public sealed class ModelPorts : IDisposable
{
    private readonly ModelDevice _model;
    private readonly Port?[] _ports = new Port?[2];
    private volatile bool _stopping;
    private Action? _wake;

    /// <param name="model">The model whose ports are bound; not owned.</param>
    /// <param name="bindings">At most one per port (0: the segment, 1: toward the backends).</param>
    /// <param name="queueFrames">Frames each port's queue holds before it drops.</param>
    public ModelPorts(ModelDevice model, IEnumerable<PortBinding> bindings, int queueFrames = 1024)
    {
        _model = model ?? throw new ArgumentNullException(nameof(model));
        ArgumentNullException.ThrowIfNull(bindings);
        ArgumentOutOfRangeException.ThrowIfLessThan(queueFrames, 1);
        QueueFrames = queueFrames;
        try
        {
            foreach (var b in bindings)
            {
                if ((uint)b.Port > 1)
                    throw new ArgumentException($"port {b.Port}: the model has ports 0 and 1", nameof(bindings));
                if (_ports[b.Port] is not null)
                    throw new ArgumentException($"port {b.Port} is bound twice", nameof(bindings));
                if (b.Mtu is < 68 or > 9000)
                    throw new ArgumentException($"port {b.Port} ({b.Interface}): MTU {b.Mtu} is outside 68..9000", nameof(bindings));
                _ports[b.Port] = new Port(this, b, PacketSocket.Open(b.Interface), queueFrames);
            }
        }
        catch
        {
            Dispose();
            throw;
        }
    }

    public int QueueFrames { get; }

    /// <summary>Starts the receive threads and a model clock that feeds and drains the ports; dispose the clock first, then this.</summary>
    public ModelClock AttachTo(TimeSpan? period = null, ulong cyclesPerTick = 10_000)
    {
        var clock = new ModelClock(_model, period ?? TimeSpan.FromMilliseconds(10), cyclesPerTick, Transmit, () => Feed(), () => Queued);
        _wake = clock.Wake;
        StartReceiving();
        clock.Start();
        return clock;
    }

    /// <summary>Starts the receive threads only (frames queue until <see cref="Feed"/>); <see cref="AttachTo"/> calls it.</summary>
    public void StartReceiving()
    {
        foreach (var p in _ports)
            p?.Start();
    }

    /// <summary>The counters of <paramref name="port"/>, or null when it is not bound.</summary>
    public WireCounters? Counters(int port) => _ports[port]?.Snapshot();

    /// <summary>Whether any port has frames waiting for the model.</summary>
    public bool Queued => (_ports[0]?.Count ?? 0) + (_ports[1]?.Count ?? 0) > 0;

    /// <summary>Moves every queued frame into the model (the clock calls it before each tick); whether any moved.</summary>
    public bool Feed()
    {
        bool any = false;
        for (int p = 0; p < 2; p++)
            any |= _ports[p]?.Drain(_model, p) ?? false;
        return any;
    }

    /// <summary>Writes a frame that left model port <paramref name="port"/> to its interface (dropped when unbound).</summary>
    public void Transmit(int port, ReadOnlySpan<byte> frame)
    {
        if (_ports[port] is { } p)
            p.Send(frame);
    }

    public void Dispose()
    {
        _stopping = true;
        foreach (var p in _ports)
            p?.Dispose();
    }

    private sealed class Port : IDisposable
    {
        private const int MinFrame = 60;

        // Frames handed to the model ahead of the one it is taking: enough to keep its port busy for a tick.
        private const int ModelIngressFrames = 4;

        private readonly ModelPorts _owner;
        private readonly PacketSocket _socket;
        private readonly int _maxFrame;
        private readonly byte[][] _slots;
        private readonly int[] _lengths;
        private readonly byte[] _receive;
        private readonly Lock _gate = new();
        private readonly Thread _thread;
        private int _head;
        private int _count;
        private long _rx, _tx, _full, _tooLong, _truncated, _runt, _txDropped, _errors;

        public Port(ModelPorts owner, PortBinding binding, PacketSocket socket, int queueFrames)
        {
            _owner = owner;
            _socket = socket;
            // An MTU-sized packet with its Ethernet header and one 802.1Q tag.
            _maxFrame = binding.Mtu + 18;
            _slots = new byte[queueFrames][];
            for (int i = 0; i < queueFrames; i++)
                _slots[i] = new byte[_maxFrame];
            _lengths = new int[queueFrames];
            _receive = new byte[65536];
            _socket.ReceiveTimeout = TimeSpan.FromMilliseconds(200);
            _thread = new Thread(ReceiveLoop) { IsBackground = true, Name = $"port {binding.Port} rx {binding.Interface}" };
        }

        public void Start() => _thread.Start();

        public WireCounters Snapshot() => new(_socket.Interface, Interlocked.Read(ref _rx), Interlocked.Read(ref _tx), Interlocked.Read(ref _full),
            Interlocked.Read(ref _tooLong), Interlocked.Read(ref _truncated), Interlocked.Read(ref _runt), Interlocked.Read(ref _txDropped),
            Interlocked.Read(ref _errors));

        public void Send(ReadOnlySpan<byte> frame)
        {
            if (_socket.Send(frame))
                Interlocked.Increment(ref _tx);
            else
                Interlocked.Increment(ref _txDropped);
        }

        public int Count => Volatile.Read(ref _count);

        public bool Drain(ModelDevice model, int port)
        {
            lock (_gate)
            {
                bool any = _count > 0;
                // The model's own ingress queue has no bound: keep it short and let this one, which drops and counts, hold the rest.
                while (_count > 0 && model.RxPending(port) < ModelIngressFrames)
                {
                    model.PushFrame(port, _slots[_head].AsSpan(0, _lengths[_head]));
                    _head = (_head + 1) % _slots.Length;
                    _count--;
                }
                return any;
            }
        }

        private void ReceiveLoop()
        {
            while (!_owner._stopping)
            {
                int n;
                try
                {
                    n = _socket.Receive(_receive);
                }
                catch (ObjectDisposedException)
                {
                    return;
                }
                catch (System.Net.Sockets.SocketException)
                {
                    // ENETDOWN and the like while the link flaps: count it, breathe, and listen again.
                    Interlocked.Increment(ref _errors);
                    if (_owner._stopping)
                        return;
                    Thread.Sleep(100);
                    continue;
                }
                if (n == 0)
                    continue;
                if (n > _receive.Length)
                {
                    Interlocked.Increment(ref _truncated);
                    continue;
                }
                if (n > _maxFrame)
                {
                    Interlocked.Increment(ref _tooLong);
                    continue;
                }
                if (n < 14)
                {
                    Interlocked.Increment(ref _runt);
                    continue;
                }
                bool queued = false;
                lock (_gate)
                {
                    if (_count < _slots.Length)
                    {
                        int tail = (_head + _count) % _slots.Length;
                        _receive.AsSpan(0, n).CopyTo(_slots[tail]);
                        // A physical link pads to the 60-byte minimum; a veth hands over frames as the sender built them.
                        if (n < MinFrame)
                            _slots[tail].AsSpan(n, MinFrame - n).Clear();
                        _lengths[tail] = Math.Max(n, MinFrame);
                        _count++;
                        queued = true;
                    }
                }
                if (queued)
                {
                    Interlocked.Increment(ref _rx);
                    _owner._wake?.Invoke();
                }
                else
                {
                    Interlocked.Increment(ref _full);
                }
            }
        }

        public void Dispose()
        {
            _socket.Dispose();
            if (_thread.IsAlive)
                _thread.Join();
        }
    }
}
