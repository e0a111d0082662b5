namespace Offload.Device;

/// <summary>
/// Runs a <see cref="ModelDevice"/> in real time on a thread of its own, as a board's data plane runs by itself:
/// every <see cref="Period"/> it runs <see cref="CyclesPerTick"/> cycles and hands each frame that left a network
/// port to <see cref="PortOutput"/> (a wire, when something is attached; dropped and counted otherwise).
/// </summary>
/// <remarks>
/// The control plane never clocks the model: it reaches registers through <see cref="IDevice"/> while this thread
/// runs the clock, and the device's lock keeps the two apart. The thread is this object's own: it ends on
/// <see cref="Dispose"/>, which waits for the tick in progress.
/// </remarks>
public sealed class ModelClock : IDisposable
{
    private readonly ModelDevice _device;
    private readonly Thread _thread;
    private readonly AutoResetEvent _wake = new(false);
    private readonly Action? _beforeTick;
    private volatile bool _stopping;
    private readonly byte[] _buffer = new byte[16384];
    private readonly long[] _framesOut = new long[2];
    private Exception? _fault;

    /// <param name="device">The model to run; the clock does not own it.</param>
    /// <param name="period">How often the model runs.</param>
    /// <param name="cyclesPerTick">Cycles per tick: 10,000 every 10 ms is 1 M cycles/s, half the model's speed.</param>
    /// <param name="portOutput">Takes each frame that leaves a network port (port, frame); null counts and drops them.</param>
    /// <param name="beforeTick">Runs on the clock's thread before each tick (frames that arrived are pushed into the model there).</param>
    public ModelClock(ModelDevice device, TimeSpan period, ulong cyclesPerTick, Action<int, ReadOnlySpan<byte>>? portOutput = null,
        Action? beforeTick = null)
    {
        _beforeTick = beforeTick;
        _device = device ?? throw new ArgumentNullException(nameof(device));
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(period, TimeSpan.Zero);
        ArgumentOutOfRangeException.ThrowIfZero(cyclesPerTick);
        Period = period;
        CyclesPerTick = cyclesPerTick;
        PortOutput = portOutput;
        _thread = new Thread(Loop) { IsBackground = true, Name = "model clock" };
    }

    /// <summary>The defaults `offload run` and `offload sim serve` use: 10,000 cycles every 10 ms.</summary>
    public static ModelClock Start(ModelDevice device, Action<int, ReadOnlySpan<byte>>? portOutput = null)
    {
        var clock = new ModelClock(device, TimeSpan.FromMilliseconds(10), 10_000, portOutput);
        clock.Start();
        return clock;
    }

    public TimeSpan Period { get; }

    public ulong CyclesPerTick { get; }

    public Action<int, ReadOnlySpan<byte>>? PortOutput { get; }

    /// <summary>Frames that left network port <paramref name="port"/> since the clock started.</summary>
    public long FramesOut(int port) => Interlocked.Read(ref _framesOut[port]);

    /// <summary>What stopped the clock, if the model failed under it.</summary>
    public Exception? Fault => Volatile.Read(ref _fault);

    public void Start() => _thread.Start();

    /// <summary>Ticks now instead of at the end of the period (a frame arrived: drive it in without waiting).</summary>
    public void Wake()
    {
        if (_stopping)
            return;
        try
        {
            _wake.Set();
        }
        catch (ObjectDisposedException)
        {
            // Stopped between the check and the set: nothing left to wake.
        }
    }

    public void Dispose()
    {
        _stopping = true;
        _wake.Set();
        if (_thread.IsAlive)
            _thread.Join();
        _wake.Dispose();
    }

    private void Loop()
    {
        try
        {
            while (true)
            {
                _wake.WaitOne(Period);
                if (_stopping)
                    break;
                _beforeTick?.Invoke();
                _device.Run(CyclesPerTick);
                for (int p = 0; p < 2; p++)
                {
                    int len;
                    while ((len = _device.PopFrame(p, _buffer)) >= 0)
                    {
                        Interlocked.Increment(ref _framesOut[p]);
                        PortOutput?.Invoke(p, _buffer.AsSpan(0, len));
                    }
                }
            }
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            // The model or a port callback failed: the clock stops and says why (Fault) instead of taking the process down.
            Volatile.Write(ref _fault, e);
        }
    }
}
