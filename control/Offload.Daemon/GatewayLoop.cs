using System.Diagnostics;
using Microsoft.Extensions.Logging;
using Offload.Device;

namespace Offload.Daemon;

/// <summary>
/// The thread that runs a <see cref="GatewayNode"/>: a round (<see cref="GatewayNode.Step"/>) whenever there is work and
/// a short sleep when there is none; reloads asked for from any thread (SIGHUP) happen here, between rounds; a
/// heartbeat (systemd's watchdog) is sent from here, so a loop that hangs stops sending it and gets restarted; and on
/// <see cref="StopAndResign"/> it hands the sessions over and resigns before it ends.
/// </summary>
public sealed class GatewayLoop : IDisposable
{
    /// <summary>How long a leaving gateway waits for its sync peers to acknowledge its sessions.</summary>
    public static readonly TimeSpan DefaultHandOver = TimeSpan.FromSeconds(2);

    // How long the resign hellos may take to leave the device (they are a few hundred bytes on an idle queue).
    private static readonly TimeSpan TxDrainLimit = TimeSpan.FromMilliseconds(500);
    private static readonly TimeSpan IdleWait = TimeSpan.FromMilliseconds(2);

    /// <summary>The longest sleep of an idle loop on a device with a host-attention line: the group and session timers' grain.</summary>
    public static readonly TimeSpan AttentionPollInterval = TimeSpan.FromMilliseconds(10);

    private readonly GatewayNode _node;
    private readonly ILogger _log;
    private readonly Thread _thread;
    private readonly AutoResetEvent _wake = new(false);
    private readonly Func<GatewayConfig>? _reloadSource;
    private readonly Action<GatewayConfig>? _reloaded;
    private readonly Action? _heartbeat;
    private readonly TimeSpan _heartbeatInterval;
    private readonly TimeSpan _handOver;
    private readonly Action? _faulted;
    private readonly WaitHandle[]? _waits;
    private volatile bool _stopping;
    private volatile bool _reloadWanted;
    private Exception? _fault;

    /// <param name="node">The node; the loop does not own it.</param>
    /// <param name="loggers">Where the loop's lines go.</param>
    /// <param name="reloadSource">Reads and validates the config file again (throws <see cref="ConfigFileException"/>); null: reloads are refused.</param>
    /// <param name="reloaded">Called on the loop thread after a reload applied (the daemon applies the log level there).</param>
    /// <param name="heartbeat">Called from the loop thread at <paramref name="heartbeatInterval"/> while rounds complete.</param>
    /// <param name="handOver">How long to wait for sync peers when leaving; default <see cref="DefaultHandOver"/>.</param>
    /// <param name="faulted">Called from the loop thread if the loop fails (the daemon stops its host).</param>
    public GatewayLoop(GatewayNode node, ILoggerFactory loggers, Func<GatewayConfig>? reloadSource = null, Action<GatewayConfig>? reloaded = null,
        Action? heartbeat = null, TimeSpan heartbeatInterval = default, TimeSpan? handOver = null, Action? faulted = null)
    {
        _faulted = faulted;
        _node = node ?? throw new ArgumentNullException(nameof(node));
        ArgumentNullException.ThrowIfNull(loggers);
        _log = loggers.CreateLogger<GatewayLoop>();
        _reloadSource = reloadSource;
        _reloaded = reloaded;
        _heartbeat = heartbeat;
        _heartbeatInterval = heartbeatInterval > TimeSpan.Zero ? heartbeatInterval : TimeSpan.FromSeconds(1);
        _handOver = handOver ?? DefaultHandOver;
        _thread = new Thread(Loop) { IsBackground = true, Name = "gateway loop" };
        _waits = node.Attention is { } attention ? [_wake, attention] : null;
    }

    /// <summary>What ended the loop thread, if something other than a stop did.</summary>
    public Exception? Fault => Volatile.Read(ref _fault);

    public ResignSummary? Resigned { get; private set; }

    /// <summary>Starts the node (groups, meter, checks, sync) and the thread.</summary>
    public void Start()
    {
        _node.Start();
        _thread.Start();
    }

    /// <summary>Asks for a reload of the config file; the loop does it between two rounds. Any thread (a signal handler).</summary>
    public void RequestReload()
    {
        _reloadWanted = true;
        _wake.Set();
    }

    /// <summary>Hands the sessions over, resigns from every group, waits for the resign hellos to leave, and ends the thread.</summary>
    public ResignSummary? StopAndResign()
    {
        _stopping = true;
        _wake.Set();
        if (_thread.IsAlive)
            _thread.Join();
        return Resigned;
    }

    public void Dispose()
    {
        StopAndResign();
        _wake.Dispose();
    }

    private void Loop()
    {
        try
        {
            long lastBeat = 0;
            while (!_stopping)
            {
                if (_reloadWanted)
                {
                    _reloadWanted = false;
                    Reload();
                }
                int n = Round();
                long now = Stopwatch.GetTimestamp();
                if (_heartbeat is not null && Stopwatch.GetElapsedTime(lastBeat, now) >= _heartbeatInterval)
                {
                    _heartbeat();
                    lastBeat = now;
                }
                if (n == 0)
                    Idle();
            }
            Leave();
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            // The daemon's host sees the fault and stops; systemd's watchdog (no more heartbeats) restarts it if not.
            Volatile.Write(ref _fault, e);
            _log.LogCritical(e, "The gateway loop failed; no more rounds run");
            _faulted?.Invoke();
        }
    }

    // A device that raises a line when the host queue fills lets the loop sleep to the timers' pace; without one the
    // host queue is polled every 2 ms, so a first packet waits no longer than that. A reload or a stop wakes it at once.
    private void Idle()
    {
        if (_waits is not null)
            WaitHandle.WaitAny(_waits, AttentionPollInterval);
        else
            _wake.WaitOne(IdleWait);
    }

    private int Round()
    {
        try
        {
            return _node.Step();
        }
        catch (DeviceException e)
        {
            _log.LogError(e, "Device error in the loop; retrying");
            return 0;
        }
    }

    private void Reload()
    {
        if (_reloadSource is null)
        {
            _log.LogError("Reload refused: this gateway was not started from a file");
            return;
        }
        GatewayConfig next;
        try
        {
            next = _reloadSource();
        }
        catch (ConfigFileException e)
        {
            _node.CountRefusedReload();
            _log.LogError("Reload refused, the running configuration stays: {Problems}", string.Join("; ", e.Problems));
            return;
        }
        var result = _node.Reload(next);
        if (!result.Applied)
        {
            _log.LogError("Reload refused, the running configuration stays: {Problems}", string.Join("; ", result.Refusals));
            return;
        }
        _reloaded?.Invoke(next);
        _log.LogInformation("Reload applied: {Changes}", result.Changes.Count == 0 ? "nothing changed" : string.Join("; ", result.Changes));
    }

    private void Leave()
    {
        _node.BeginResign(_handOver);
        while (!_node.HandedOver)
        {
            if (Round() == 0)
                _wake.WaitOne(TimeSpan.FromMilliseconds(1));
        }
        Resigned = _node.Leave();
        // The resign hellos are in the host TX queue; the device sends them by itself. Rounds go on meanwhile so a
        // peer's hello or sync ack still finds a reader.
        long start = Stopwatch.GetTimestamp();
        while (!_node.HostTxDrained && Stopwatch.GetElapsedTime(start) < TxDrainLimit)
        {
            if (Round() == 0)
                _wake.WaitOne(TimeSpan.FromMilliseconds(1));
        }
    }
}
