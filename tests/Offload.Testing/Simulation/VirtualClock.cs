using Offload.Group;
namespace Offload.Testing.Simulation;

/// <summary>
/// Virtual time for the simulator: a <see cref="TimeProvider"/> whose timers and scheduled actions live in one
/// queue ordered by due time, then by the order they were queued, so a run is a pure function of its inputs.
/// Nothing advances it but <see cref="Step"/>; no wall clock is read anywhere. Single-threaded by design:
/// callbacks run on the caller of <see cref="Step"/>, and one of them may schedule more.
/// <para>
/// One queue for thousands of groups' timers is what lets the scale benchmark run 8192 members: stepping
/// deadline to deadline by asking every group for its next one would be quadratic.
/// </para>
/// </summary>
public sealed class VirtualClock : TimeProvider
{
    private readonly PriorityQueue<Entry, (long Due, long Seq)> _queue = new();
    private readonly DateTimeOffset _start;
    private long _now;
    private long _seq;

    public VirtualClock(DateTimeOffset start)
    {
        _start = start;
    }

    /// <summary>Time since the clock was made.</summary>
    public TimeSpan Elapsed => TimeSpan.FromTicks(_now);

    /// <summary>Entries waiting, stale timer entries included (they are dropped when reached).</summary>
    public int Queued => _queue.Count;

    public override DateTimeOffset GetUtcNow() => _start.AddTicks(_now);

    public override long GetTimestamp() => _now;

    // One timestamp unit per tick, so elapsed times convert exactly.
    public override long TimestampFrequency => TimeSpan.TicksPerSecond;

    public override TimeZoneInfo LocalTimeZone => TimeZoneInfo.Utc;

    public override ITimer CreateTimer(TimerCallback callback, object? state, TimeSpan dueTime, TimeSpan period)
    {
        ArgumentNullException.ThrowIfNull(callback);
        var timer = new VirtualTimer(this, callback, state);
        timer.Change(dueTime, period);
        return timer;
    }

    /// <summary>Runs <paramref name="action"/> with <paramref name="state"/> at <see cref="Elapsed"/> + <paramref name="delay"/>.</summary>
    public void Schedule(TimeSpan delay, Action<object?> action, object? state = null)
    {
        ArgumentNullException.ThrowIfNull(action);
        ArgumentOutOfRangeException.ThrowIfLessThan(delay, TimeSpan.Zero);
        _queue.Enqueue(new Entry(null, 0, action, state), (_now + delay.Ticks, _seq++));
    }

    /// <summary>When the next live entry is due, or null when nothing is queued.</summary>
    public TimeSpan? NextDue
    {
        get
        {
            while (_queue.TryPeek(out Entry e, out var key))
            {
                if (e.Timer is null || e.Timer.Version == e.Version)
                    return TimeSpan.FromTicks(key.Due);
                _queue.Dequeue();
            }
            return null;
        }
    }

    /// <summary>
    /// Runs the next entry due at or before <paramref name="until"/> (moving time to it) and returns true; when
    /// there is none, moves time to <paramref name="until"/> and returns false.
    /// </summary>
    public bool Step(TimeSpan until)
    {
        if (until.Ticks < _now)
            throw new ArgumentOutOfRangeException(nameof(until), $"virtual time is already {Elapsed}; it cannot go back to {until}");
        while (_queue.TryPeek(out Entry e, out var key))
        {
            if (key.Due > until.Ticks)
                break;
            _queue.Dequeue();
            if (e.Timer is { } t)
            {
                if (t.Version != e.Version)
                    continue; // changed or disposed since this entry was queued
                _now = key.Due;
                t.Fire();
                return true;
            }
            _now = key.Due;
            e.Action!(e.State);
            return true;
        }
        _now = until.Ticks;
        return false;
    }

    private void Arm(VirtualTimer timer, long dueTicks) => _queue.Enqueue(new Entry(timer, timer.Version, null, null), (dueTicks, _seq++));

    private readonly record struct Entry(VirtualTimer? Timer, long Version, Action<object?>? Action, object? State);

    private sealed class VirtualTimer(VirtualClock clock, TimerCallback callback, object? state) : ITimer
    {
        private long _period = -1;
        private bool _disposed;

        // Every Change or Dispose bumps it, which makes the entries queued before stale.
        public long Version { get; private set; }

        public bool Change(TimeSpan dueTime, TimeSpan period)
        {
            if (_disposed)
                return false;
            Version++;
            _period = period == Timeout.InfiniteTimeSpan || period <= TimeSpan.Zero ? -1 : period.Ticks;
            if (dueTime != Timeout.InfiniteTimeSpan)
                clock.Arm(this, clock._now + Math.Max(0, dueTime.Ticks));
            return true;
        }

        public void Fire()
        {
            if (_period > 0)
                clock.Arm(this, clock._now + _period);
            callback(state);
        }

        public void Dispose()
        {
            _disposed = true;
            Version++;
        }

        public ValueTask DisposeAsync()
        {
            Dispose();
            return ValueTask.CompletedTask;
        }
    }
}
