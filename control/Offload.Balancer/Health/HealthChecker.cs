namespace Offload.Balancer.Health;

/// <summary>How often a check runs and how many results in a row flip a backend.</summary>
/// <param name="Rise">Consecutive passes that bring a down backend up.</param>
/// <param name="Fall">Consecutive failures that take an up backend down.</param>
/// <param name="InitiallyUp">State before the first results (up avoids a pool without backends while a fresh gateway starts).</param>
public sealed record CheckOptions(TimeSpan Interval, TimeSpan Timeout, int Rise = 2, int Fall = 3, bool InitiallyUp = true)
{
    internal void Validate()
    {
        if (Interval <= TimeSpan.Zero)
            throw new ArgumentOutOfRangeException(nameof(Interval), Interval, "a check interval must be above zero");
        if (Timeout <= TimeSpan.Zero)
            throw new ArgumentOutOfRangeException(nameof(Timeout), Timeout, "a check timeout must be above zero");
        if (Rise < 1)
            throw new ArgumentOutOfRangeException(nameof(Rise), Rise, "rise must be at least 1");
        if (Fall < 1)
            throw new ArgumentOutOfRangeException(nameof(Fall), Fall, "fall must be at least 1");
    }
}

/// <summary>Rise/fall counting: a run of <c>fall</c> failures takes the state down, a run of <c>rise</c> passes brings it up.</summary>
public sealed class RiseFall(int rise, int fall, bool initiallyUp)
{
    private int _run;

    public bool Up { get; private set; } = initiallyUp;

    /// <summary>Counts one result; true when it flipped the state.</summary>
    public bool Record(bool success)
    {
        // A result that agrees with the state ends any run against it.
        if (success == Up)
        {
            _run = 0;
            return false;
        }
        if (++_run < (Up ? fall : rise))
            return false;
        Up = !Up;
        _run = 0;
        return true;
    }
}

/// <summary>
/// Runs one probe every interval on the injected clock, each with its timeout, and keeps the rise/fall state.
/// A probe still running when the next is due is not doubled up: that round is skipped. <see cref="Up"/> may be
/// read from any thread.
/// </summary>
public sealed class HealthChecker : IDisposable
{
    private readonly TimeProvider _time;
    private readonly RiseFall _state;
    private readonly CancellationTokenSource _stop = new();
    private readonly Lock _lock = new();
    private ITimer? _timer;
    private int _running;
    private volatile bool _up;
    private long _probes;
    private long _failures;
    private ProbeResult _last;

    public HealthChecker(IHealthProbe probe, CheckOptions options, TimeProvider? time = null)
    {
        ArgumentNullException.ThrowIfNull(probe);
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        Probe = probe;
        Options = options;
        _time = time ?? TimeProvider.System;
        _state = new RiseFall(options.Rise, options.Fall, options.InitiallyUp);
        _up = options.InitiallyUp;
    }

    public IHealthProbe Probe { get; }

    public CheckOptions Options { get; }

    public bool Up => _up;

    public long Probes => Interlocked.Read(ref _probes);

    public long Failures => Interlocked.Read(ref _failures);

    public ProbeResult LastResult
    {
        get { lock (_lock) return _last; }
    }

    /// <summary>Probes now, then every interval.</summary>
    public void Start()
    {
        if (_timer is not null)
            throw new InvalidOperationException("the checker is running already");
        _timer = _time.CreateTimer(static s => _ = ((HealthChecker)s!).RunOnce(), this, Options.Interval, Options.Interval);
        _ = RunOnce();
    }

    /// <summary>One probe with its timeout, counted into the state; a round while one is running is skipped.</summary>
    internal async Task RunOnce()
    {
        if (_stop.IsCancellationRequested || Interlocked.Exchange(ref _running, 1) == 1)
            return;
        try
        {
            ProbeResult result;
            using (var timeout = new CancellationTokenSource(Options.Timeout, _time))
            using (_stop.Token.Register(static s => ((CancellationTokenSource)s!).Cancel(), timeout))
            {
                try
                {
                    result = await Probe.ProbeAsync(timeout.Token).ConfigureAwait(false);
                }
                catch (OperationCanceledException) when (!_stop.IsCancellationRequested)
                {
                    result = ProbeResult.Fail($"{Probe.Name}: no answer within {Options.Timeout.TotalMilliseconds:0} ms");
                }
                catch (OperationCanceledException)
                {
                    return;
                }
#pragma warning disable CA1031 // A probe that throws is a failed check, whatever it threw; the checker must keep running.
                catch (Exception e)
#pragma warning restore CA1031
                {
                    result = ProbeResult.Fail($"{Probe.Name}: {e.GetType().Name}: {e.Message}");
                }
            }
            if (_stop.IsCancellationRequested)
                return;
            lock (_lock)
            {
                _last = result;
                _state.Record(result.Success);
                _up = _state.Up;
            }
            Interlocked.Increment(ref _probes);
            if (!result.Success)
                Interlocked.Increment(ref _failures);
        }
        finally
        {
            Volatile.Write(ref _running, 0);
        }
    }

    public void Dispose()
    {
        _timer?.Dispose();
        // Cancelled, not disposed: a timer callback racing with this may still read its token.
        _stop.Cancel();
    }
}
