using Offload.Device;

namespace Offload.Gateway;

/// <summary>
/// Measures this gateway's forwarding load from the data plane's counters every <c>interval</c> of the injected
/// clock and reports it (packets/s and, when given, installed flows) — to <c>GlbpGroup.SetLocalLoad</c> of every
/// group on the box, which carries it to the AVG for load-based ARP.
/// <para>
/// The rate is port 0's <c>FT_HIT + FT_MISS</c> per second. Those two count exactly the IPv4 frames that arrived on
/// the segment port addressed to one of this box's MACs (its vMACs, or its own port MAC, which hosts do not use
/// as a gateway) and passed the header checks: the traffic hosts send through this gateway, whether the hardware
/// forwarded it (hit) or the classifier placed its first packet (miss). <c>RX_FRAMES</c> would also count every
/// hello, ARP broadcast and frame for the other gateways that the segment floods to us, and port 1's counters
/// see the return path, which does not follow the ARP choice at all.
/// </para>
/// </summary>
public sealed class ForwarderLoadMeter : IDisposable
{
    private readonly Dataplane _dataplane;
    private readonly TimeProvider _time;
    private readonly TimeSpan _interval;
    private readonly Action<double, int> _report;
    private readonly Func<int>? _flows;
    private readonly Lock _sync = new();
    private ITimer? _timer;
    private ulong _lastCount;
    private long _lastStamp;
    private bool _hasBaseline;

    /// <param name="dataplane">The device.</param>
    /// <param name="time">The clock the interval runs on.</param>
    /// <param name="interval">How often to measure (the rate is averaged over it).</param>
    /// <param name="report">Receives (packets/s, flows) after every measurement.</param>
    /// <param name="flows">Installed flow count (the flow table manager's), or null to report 0.</param>
    public ForwarderLoadMeter(Dataplane dataplane, TimeProvider time, TimeSpan interval, Action<double, int> report,
        Func<int>? flows = null)
    {
        _dataplane = dataplane ?? throw new ArgumentNullException(nameof(dataplane));
        _time = time ?? throw new ArgumentNullException(nameof(time));
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(interval, TimeSpan.Zero);
        _interval = interval;
        _report = report ?? throw new ArgumentNullException(nameof(report));
        _flows = flows;
    }

    /// <summary>The last measured rate.</summary>
    public double PacketsPerSecond { get; private set; }

    public int Flows { get; private set; }

    public int Measurements { get; private set; }

    /// <summary>Counter reads that failed (the device went away); the meter keeps trying every interval.</summary>
    public int Errors { get; private set; }

    public Exception? LastError { get; private set; }

    /// <summary>Takes the baseline now and measures every interval from then on.</summary>
    public void Start()
    {
        lock (_sync)
        {
            if (_timer is not null)
                return;
            TryBaseline();
            _timer = _time.CreateTimer(static s => ((ForwarderLoadMeter)s!).Measure(), this, _interval, _interval);
        }
    }

    /// <summary>One measurement now (the timer calls this); the rate covers the time since the previous one.</summary>
    public void Measure()
    {
        double pps;
        int flows;
        lock (_sync)
        {
            if (!TryRead(out ulong count))
                return;
            long stamp = _time.GetTimestamp();
            if (!_hasBaseline)
            {
                SetBaseline(count, stamp);
                return;
            }
            double seconds = _time.GetElapsedTime(_lastStamp, stamp).TotalSeconds;
            // A counter that went backwards was cleared (ClearCounters, a reset): what it reads now is all since then.
            ulong delta = count >= _lastCount ? count - _lastCount : count;
            SetBaseline(count, stamp);
            if (seconds <= 0)
                return;
            pps = delta / seconds;
            flows = _flows?.Invoke() ?? 0;
            PacketsPerSecond = pps;
            Flows = flows;
            Measurements++;
        }
        _report(pps, flows);
    }

    public void Dispose()
    {
        lock (_sync)
        {
            _timer?.Dispose();
            _timer = null;
        }
    }

    private void TryBaseline()
    {
        if (TryRead(out ulong count))
            SetBaseline(count, _time.GetTimestamp());
    }

    private void SetBaseline(ulong count, long stamp)
    {
        _lastCount = count;
        _lastStamp = stamp;
        _hasBaseline = true;
    }

    private bool TryRead(out ulong count)
    {
        try
        {
            var port0 = _dataplane.ReadCounters().Port0;
            count = port0.FlowHit + port0.FlowMiss;
            return true;
        }
        catch (Exception e) when (e is DeviceException or ObjectDisposedException)
        {
            Errors++;
            LastError = e;
            count = 0;
            return false;
        }
    }
}
