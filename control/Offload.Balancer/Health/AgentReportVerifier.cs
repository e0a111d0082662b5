using System.Text;
using Offload.Protocol.Agent;

namespace Offload.Balancer.Health;

/// <summary>
/// What a gateway (or a router) accepts from an agent, in the order docs/control-plane.md gives: a well-formed
/// report, for a configured id, with a valid HMAC under that id's key, a sender time within the allowed skew, a boot
/// id no later than the report's own time, and a (boot id, sequence) above the last accepted one (the replay guard,
/// which lets a silent agent back after its fall time). Every listener of agent reports checks them here, so the
/// rules cannot drift apart between the health-and-load handler and the request router.
/// </summary>
/// <remarks>One receive loop calls <see cref="Verify"/>; configure with <see cref="Add"/> before it starts.</remarks>
public sealed class AgentReportVerifier
{
    private readonly Dictionary<string, AgentEndpoint> _agents = new(StringComparer.Ordinal);
    private readonly Dictionary<string, AgentEndpoint>.AlternateLookup<ReadOnlySpan<char>> _lookup;
    private readonly AgentReplayGuard _guard;
    private readonly TimeProvider _time;
    private readonly int _fall;
    private readonly TimeSpan? _maxClockSkew;

    /// <param name="agentFall">Missed report intervals after which an agent counts as silent.</param>
    /// <param name="maxClockSkew">Reports whose sender time is further than this from ours are refused; null turns the check off.</param>
    public AgentReportVerifier(int agentFall, TimeSpan? maxClockSkew, TimeProvider time)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(agentFall, 1);
        _time = time ?? throw new ArgumentNullException(nameof(time));
        _fall = agentFall;
        _maxClockSkew = maxClockSkew;
        _guard = new AgentReplayGuard(time);
        _lookup = _agents.GetAlternateLookup<ReadOnlySpan<char>>();
    }

    /// <exception cref="ArgumentException">The id is configured already.</exception>
    public void Add(AgentEndpoint agent)
    {
        ArgumentNullException.ThrowIfNull(agent);
        if (!_agents.TryAdd(agent.Id, agent))
            throw new ArgumentException($"agent '{agent.Id}' is configured twice", nameof(agent));
    }

    /// <summary>Checks one datagram in full.</summary>
    /// <param name="from">The configured agent the datagram names (also when it is refused for its key, time or sequence); null when it names none.</param>
    /// <returns><see cref="AgentReject.None"/> for a report to take; <paramref name="frame"/> is then its content.</returns>
    public AgentReject Verify(ReadOnlySpan<byte> datagram, out AgentFrame frame, out AgentEndpoint? from)
    {
        from = null;
        AgentReject r = AgentCodec.TryParse(datagram, out frame);
        if (r != AgentReject.None)
            return r;
        if (frame.Type != AgentMessageType.Report)
            return AgentReject.WrongType;
        Span<char> id = stackalloc char[AgentProtocol.MaxIdLength];
        int n = Encoding.ASCII.GetChars(frame.Id, id);
        if (!_lookup.TryGetValue(id[..n], out AgentEndpoint? agent))
            return AgentReject.UnknownAgent;
        from = agent;
        if (!AgentCodec.Authenticate(datagram, agent.Key.Span))
            return AgentReject.BadMac;
        if (_maxClockSkew is { } skew && (_time.GetUtcNow() - frame.Time).Duration() > skew)
            return AgentReject.ClockSkew;
        // Boot ids are start times in microseconds: one later than the report itself (beyond the skew allowed for
        // a clock step) would put the agent's real boots out of reach.
        TimeSpan slack = _maxClockSkew ?? TimeSpan.Zero;
        if (frame.BootId > Micros(frame.Time + slack))
            return AgentReject.BootInFuture;
        // Silent for its fall time, a boot (or a sequence) no longer holds the agent's later reports off.
        TimeSpan interval = frame.Interval > TimeSpan.Zero ? frame.Interval : agent.ExpectedInterval;
        return _guard.Check(frame.Id, frame.BootId, frame.Sequence, frame.Time, interval * _fall);
    }

    private static ulong Micros(DateTimeOffset t) => t <= DateTimeOffset.UnixEpoch ? 0 : (ulong)((t - DateTimeOffset.UnixEpoch).Ticks / 10);
}
