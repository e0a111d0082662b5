using Offload.Balancer.Tracking;
using Offload.Device;

namespace Offload.Balancer.Classification;

/// <summary>Receives host frames the balancer does not handle (ARP copies, GLBP, sync, ...).</summary>
public delegate void HostFrameHandler(in HostFrame meta, ReadOnlySpan<byte> frame);

/// <summary>
/// The balancer's driver: one <see cref="Poll"/> drains the host RX queue (misses to the classifier, FIN/RST
/// events to the tracker), kicks the watchdog and ages flows. No threads: the daemon calls it in its loop,
/// tests call it between model runs.
/// </summary>
public sealed class BalancerLoop
{
    private readonly Dataplane _dataplane;
    private readonly byte[] _buffer;

    public BalancerLoop(Dataplane dataplane, Classifier classifier, SessionTracker tracker)
    {
        _dataplane = dataplane ?? throw new ArgumentNullException(nameof(dataplane));
        Classifier = classifier ?? throw new ArgumentNullException(nameof(classifier));
        Tracker = tracker ?? throw new ArgumentNullException(nameof(tracker));
        _buffer = new byte[dataplane.Geometry.MaxFrame];
    }

    public Classifier Classifier { get; }

    public SessionTracker Tracker { get; }

    /// <summary>Frames per poll at most, so aging and the watchdog run even under a miss storm.</summary>
    public int MaxFramesPerPoll { get; set; } = 256;

    /// <summary>Where frames for other components go; null drops them (counted in <see cref="Unhandled"/>).</summary>
    public HostFrameHandler? OtherFrames { get; set; }

    public long Unhandled { get; private set; }

    /// <summary>Runs one round; returns how many host frames it took.</summary>
    public int Poll()
    {
        int n = 0;
        while (n < MaxFramesPerPoll && _dataplane.TryReceiveHost(_buffer, out var meta, out int length))
        {
            n++;
            switch (meta.Reason)
            {
                case HostReason.Miss:
                    Classifier.Classify(meta.IngressPort, _buffer.AsSpan(0, length));
                    break;
                case HostReason.FinRst:
                    Tracker.OnFinRst(meta);
                    break;
                default:
                    if (OtherFrames is { } handler)
                        handler(meta, _buffer.AsSpan(0, length));
                    else
                        Unhandled++;
                    break;
            }
        }
        _dataplane.Kick();
        Tracker.Age();
        return n;
    }
}
