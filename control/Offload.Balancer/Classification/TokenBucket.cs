namespace Offload.Balancer.Classification;

/// <summary>
/// A token bucket on an injected clock: <see cref="Rate"/> tokens per second up to <see cref="Burst"/>. Refills
/// lazily from the elapsed timestamp on each take, so an idle bucket costs nothing.
/// </summary>
public sealed class TokenBucket
{
    private readonly TimeProvider _time;
    private double _tokens;
    private long _last;

    public TokenBucket(double rate, int burst, TimeProvider time)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(burst);
        _time = time ?? throw new ArgumentNullException(nameof(time));
        Rate = rate;
        Burst = burst;
        _tokens = burst;
        _last = time.GetTimestamp();
    }

    /// <summary>Tokens per second; 0 or less means unlimited.</summary>
    public double Rate { get; }

    public int Burst { get; }

    public bool TryTake()
    {
        if (Rate <= 0)
            return true;
        long now = _time.GetTimestamp();
        double elapsed = _time.GetElapsedTime(_last, now).TotalSeconds;
        _last = now;
        _tokens = Math.Min(Burst, _tokens + (elapsed * Rate));
        if (_tokens < 1)
            return false;
        _tokens -= 1;
        return true;
    }
}
