namespace Offload.Device;

/// <summary>
/// Runs a <see cref="ModelDevice"/> in real time on a thread of its own, as a board's data plane runs by itself:
/// while the model has work it runs up to <see cref="CyclesPerTick"/> cycles every <see cref="Period"/> (at once when
/// woken) and hands each frame that left a network port to <see cref="PortOutput"/> (a wire, when something is
/// attached; dropped and counted otherwise).
/// </summary>
/// <remarks>
/// A model costs a core while its clock runs, so unlike silicon it stops when nothing is in flight (the design's
/// <c>idle</c>) and sleeps until a frame arrives or a register write gives it work: an idle gateway then costs almost
/// nothing. TIME therefore counts the cycles run, not wall time: it is a timestamp source (LAST_SEEN moves with
/// every tick that carries frames), and a watchdog in cycles only runs down while the model runs.
/// <para>The control plane never clocks the model: it reaches registers through <see cref="IDevice"/> while this thread
/// runs the clock, and the device's lock keeps the two apart. The thread is this object's own: it ends on
/// <see cref="Dispose"/>, which waits for the tick in progress.</para>
/// </remarks>
public sealed class ModelClock : IDisposable
{
    private readonly ModelDevice _device;
    private readonly Thread _thread;
    private readonly AutoResetEvent _wake = new(false);
    private readonly Action? _beforeTick;
    private readonly Func<bool>? _queued;
    private volatile bool _stopping;
    private readonly byte[] _buffer = new byte[16384];
    private readonly long[] _framesOut = new long[2];
    private Exception? _fault;
    private long _cyclesRun;

    /// <param name="device">The model to run; the clock does not own it.</param>
    /// <param name="period">How often the model runs.</param>
    /// <param name="cyclesPerTick">Cycles per tick: 10,000 every 10 ms is 1 M cycles/s, half the model's speed.</param>
    /// <param name="portOutput">Takes each frame that leaves a network port (port, frame); null counts and drops them.</param>
    /// <param name="beforeTick">Runs on the clock's thread before the model runs (frames that arrived are pushed into it there).</param>
    /// <param name="queued">Whether frames still wait to be pushed (the clock keeps running while they do).</param>
    public ModelClock(ModelDevice device, TimeSpan period, ulong cyclesPerTick, Action<int, ReadOnlySpan<byte>>? portOutput = null,
        Action? beforeTick = null, Func<bool>? queued = null)
    {
        _beforeTick = beforeTick;
        _queued = queued;
        _device = device ?? throw new ArgumentNullException(nameof(device));
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(period, TimeSpan.Zero);
        ArgumentOutOfRangeException.ThrowIfZero(cyclesPerTick);
        Period = period;
        CyclesPerTick = cyclesPerTick;
        PortOutput = portOutput;
        _thread = new Thread(Loop) { IsBackground = true, Name = "model clock" };
        // LAST_SEEN only has to change between two hits for the session tracker to see activity; with the clock running
        // only while frames are in flight, a fine step keeps that cheap (2^4 cycles run before each tick's frames instead
        // of 2^10). 32 bits of TIME >> 4 last 2^36 cycles, about 19 hours of the model's busiest running.
        _device.Write(Reg.TsShift, ModelTsShift);
        _device.Activity = Wake;
    }

    /// <summary>TS_SHIFT the clock sets: LAST_SEEN = TIME >> 4.</summary>
    public const uint ModelTsShift = 4;

    /// <summary>Cycles run before the frames of a tick are fed: one LAST_SEEN step at <see cref="ModelTsShift"/>.</summary>
    public const ulong MinCyclesBeforeFrames = 1UL << (int)ModelTsShift;

    /// <summary>The longest sleep while the model is idle and nothing woke it.</summary>
    public static readonly TimeSpan IdlePeriod = TimeSpan.FromSeconds(1);

    /// <summary>Cycles the clock has run (it runs only while the model has work: see the remarks).</summary>
    public long CyclesRun => Interlocked.Read(ref _cyclesRun);

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
        _device.Activity = null;
        _wake.Set();
        if (_thread.IsAlive)
            _thread.Join();
        _wake.Dispose();
    }

    private void Loop()
    {
        try
        {
            bool busy = true;
            while (true)
            {
                // Idle, the model costs nothing: the thread sleeps until a frame arrives, a register write gives the
                // model work, or IdlePeriod passes (a safety net for work nothing announced).
                _wake.WaitOne(busy ? Period : IdlePeriod);
                if (_stopping)
                    break;
                ulong ran = 0;
                bool popped = false;
                if (_queued?.Invoke() == true)
                {
                    // LAST_SEEN is TIME >> TS_SHIFT (ModelTsShift here): frames fed in two different ticks must see
                    // different values, or the session tracker would take a connection with sparse traffic for idle;
                    // so the clock moves a step before this tick's frames go in.
                    _device.Run(MinCyclesBeforeFrames);
                    ran = MinCyclesBeforeFrames;
                }
                // Feed, run until idle, drain, while frames wait and the tick's budget lasts: the ports hand the model only
                // a few frames at a time, and none may wait for the next wake.
                while (true)
                {
                    _beforeTick?.Invoke();
                    ran += _device.RunUntilIdle(CyclesPerTick);
                    for (int p = 0; p < 2; p++)
                    {
                        int len;
                        while ((len = _device.PopFrame(p, _buffer)) >= 0)
                        {
                            popped = true;
                            Interlocked.Increment(ref _framesOut[p]);
                            PortOutput?.Invoke(p, _buffer.AsSpan(0, len));
                        }
                    }
                    if (ran >= CyclesPerTick || _queued?.Invoke() != true)
                        break;
                }
                busy = popped || ran >= CyclesPerTick || _queued?.Invoke() == true;
                Interlocked.Add(ref _cyclesRun, (long)ran);
                // The interrupt a board would raise: a frame waits for the control plane, which sleeps until told.
                if (ran > 0 && _device.Read(Reg.HostRxLen) != 0)
                    _device.RaiseHostAttention();
            }
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            // The model or a port callback failed: the clock stops and says why (Fault) instead of taking the process down.
            Volatile.Write(ref _fault, e);
        }
    }
}
