namespace Offload.Balancer.Tracking;

/// <summary>Timeouts of the session tracker (all on the injected clock).</summary>
public sealed record TrackerOptions
{
    /// <summary>A session that saw only its SYN; short, so a SYN flood does not fill the table.</summary>
    public TimeSpan SynTimeout { get; init; } = TimeSpan.FromSeconds(10);

    public TimeSpan TcpEstablishedTimeout { get; init; } = TimeSpan.FromMinutes(15);

    public TimeSpan UdpTimeout { get; init; } = TimeSpan.FromSeconds(60);

    /// <summary>Protocols other than TCP and UDP.</summary>
    public TimeSpan OtherTimeout { get; init; } = TimeSpan.FromSeconds(60);

    /// <summary>After a FIN: long enough for the other side's FIN and the last ACK to still hit.</summary>
    public TimeSpan FinLinger { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>After an RST: a retransmitted RST still hits.</summary>
    public TimeSpan RstLinger { get; init; } = TimeSpan.FromSeconds(1);

    /// <summary>How often the idle sweep reads LAST_SEEN of every entry.</summary>
    public TimeSpan SweepInterval { get; init; } = TimeSpan.FromSeconds(1);
}
