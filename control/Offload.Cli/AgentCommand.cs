using System.CommandLine;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Runtime.InteropServices;
using System.Text;
using Offload.Protocol.Agent;

namespace Offload.Cli;

/// <summary>What <c>offload agent</c> was asked to do, checked.</summary>
internal sealed record AgentArgs(
    string Id, byte[] Key, IReadOnlyList<IPEndPoint> Gateways, TimeSpan Interval, int? Weight, bool Drain, int ListenPort, long? Count);

/// <summary>
/// <c>offload agent</c>: runs on a backend, reads its load from procfs and reports it to the gateways'
/// health-and-load handlers, signed; answers a gateway's query at once.
/// </summary>
internal static class AgentCommand
{
    /// <summary>A key file is a line of text; anything bigger is the wrong file.</summary>
    public const int MaxKeyFileBytes = 64 * 1024;

    public static Command Create()
    {
        var gateway = new Option<string[]>("--gateway") { Description = $"gateway handler HOST:PORT to report to (port {AgentProtocol.DefaultGatewayPort} when left out); repeat for each gateway" };
        var id = new Option<string?>("--id") { Description = "this backend's id, as the gateways know it" };
        var keyFile = new Option<FileInfo?>("--key-file") { Description = "file holding the HMAC key shared with the gateways (trailing line breaks are ignored)" };
        var key = new Option<string?>("--key") { Description = "the HMAC key itself (visible to other users in ps: prefer --key-file)" };
        var interval = new Option<string>("--interval") { Description = "report interval: 500ms, 1s, 2m", DefaultValueFactory = _ => "1s" };
        var weight = new Option<int?>("--weight") { Description = "operator weight 0..65535 (default: the gateway's configured weight)" };
        var drain = new Option<bool>("--drain") { Description = "ask the gateways for no new connections to this backend" };
        var listen = new Option<int>("--listen") { Description = "UDP port for gateway queries (reports leave from it too); 0 picks one", DefaultValueFactory = _ => AgentProtocol.DefaultAgentPort };
        var count = new Option<long?>("--count") { Description = "stop after this many reports (default: run until Ctrl-C)" };
        var command = new Command("agent", "report this backend's health and load to the gateways (runs on each backend)")
        {
            gateway, id, keyFile, key, interval, weight, drain, listen, count,
        };
        command.SetAction((r, ct) => Task.FromResult(Cli.Guard(() =>
        {
            AgentArgs a = Check(r.GetValue(gateway) ?? [], r.GetValue(id), r.GetValue(keyFile), r.GetValue(key), r.GetValue(interval),
                r.GetValue(weight), r.GetValue(drain), r.GetValue(listen), r.GetValue(count));
            return Cli.UntilStopped(ct, stop => Run(a, new ProcHostLoadSource(), Console.Out, stop));
        })));
        return command;
    }

    /// <summary>Checks the arguments; every problem becomes a <see cref="ConfigException"/> naming the option.</summary>
    public static AgentArgs Check(
        IReadOnlyList<string> gateways, string? id, FileInfo? keyFile, string? key, string? interval, int? weight, bool drain, int listen, long? count)
    {
        if (string.IsNullOrEmpty(id))
            throw new ConfigException("--id is required: the backend's name as the gateways know it");
        if (!AgentProtocol.IsValidId(id))
            throw new ConfigException($"--id '{id}': use 1..{AgentProtocol.MaxIdLength} printable ASCII characters without spaces");
        if (gateways.Count == 0)
            throw new ConfigException("--gateway is required: at least one HOST:PORT to report to");
        var endpoints = gateways.Select(ParseGateway).ToList();
        byte[] keyBytes = (keyFile, key) switch
        {
            (not null, not null) => throw new ConfigException("give the key once: --key-file or --key, not both"),
            (null, null) => throw new ConfigException("an HMAC key is required: --key-file FILE or --key KEY"),
            (not null, null) => ReadKey(keyFile),
            (null, not null) => Encoding.UTF8.GetBytes(key),
        };
        if (keyBytes.Length == 0)
            throw new ConfigException("the HMAC key is empty");
        TimeSpan every = ParseInterval(interval ?? "1s");
        if (weight is < 0 or > ushort.MaxValue)
            throw new ConfigException($"--weight {weight}: give 0..65535");
        if (listen is < 0 or > ushort.MaxValue)
            throw new ConfigException($"--listen {listen}: give a UDP port 0..65535");
        if (count is < 1)
            throw new ConfigException($"--count {count}: give 1 or more");
        return new AgentArgs(id, keyBytes, endpoints, every, weight, drain, listen, count);
    }

    /// <summary>Reports until <paramref name="ct"/> fires or the count is reached; returns 0, or 1 when no gateway was reached.</summary>
    public static int Run(AgentArgs a, IHostLoadSource load, TextWriter output, CancellationToken ct)
    {
        bool v6 = a.Gateways.Any(static g => g.AddressFamily == AddressFamily.InterNetworkV6);
        var listen = new IPEndPoint(v6 ? IPAddress.IPv6Any : IPAddress.Any, a.ListenPort);
        var options = new AgentReporterOptions(a.Id, a.Key, a.Gateways, a.Interval, listen, a.Weight, a.Drain, a.Count);
        AgentReporter reporter;
        try
        {
            reporter = new AgentReporter(options, load);
        }
        catch (SocketException e)
        {
            throw new ConfigException($"--listen {a.ListenPort}: cannot bind the UDP port ({e.SocketErrorCode}: {e.Message})");
        }
        using (reporter)
        {
            output.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"offload agent {a.Id}: reporting to {string.Join(", ", a.Gateways)} every {a.Interval.TotalMilliseconds:0} ms; queries on {reporter.LocalEndPoint}"));
            output.Flush();
            reporter.Start();
            try
            {
                reporter.Completion.Wait(ct);
            }
            catch (OperationCanceledException)
            {
                // Ctrl-C: the normal way to stop.
            }
            var (code, problems) = Verdict(reporter.GatewayStatus());
            output.WriteLine(string.Create(CultureInfo.InvariantCulture, $"offload agent {a.Id}: {reporter.ReportsSent} reports sent, {reporter.QueriesAnswered} queries answered"));
            foreach (string problem in problems)
                Console.Error.WriteLine($"offload agent {a.Id}: {problem}");
            return code;
        }
    }

    /// <summary>
    /// What went wrong per gateway, and the exit code: 1 when no gateway was reached. Gateways acknowledge nothing,
    /// so "reached" means no send error and no query under another key, or a valid query from it (proof enough).
    /// </summary>
    internal static (int Code, List<string> Problems) Verdict(IReadOnlyList<AgentGatewayStatus> gateways)
    {
        var problems = new List<string>();
        int reached = 0;
        foreach (var g in gateways)
        {
            if (g.SendErrors > 0)
            {
                string why = g.LastError switch
                {
                    SocketError.ConnectionRefused => "refused (ICMP port unreachable): nothing listens on that port, or a firewall rejects it",
                    SocketError.HostUnreachable or SocketError.NetworkUnreachable => "unreachable: no route to that host",
                    _ => g.LastError.ToString(),
                };
                problems.Add(string.Create(CultureInfo.InvariantCulture, $"gateway {g.Gateway}: {g.SendErrors} send error(s), last {why}"));
            }
            if (g.QueriesRefused > 0)
            {
                problems.Add(string.Create(CultureInfo.InvariantCulture,
                    $"gateway {g.Gateway}: refused {g.QueriesRefused} of its queries, signed with another key: it cannot check our reports either (check --key-file against its config)"));
            }
            if (g.QueriesAnswered > 0 || (g.SendErrors == 0 && g.QueriesRefused == 0 && g.Sent > 0))
                reached++;
        }
        if (reached == 0 && gateways.Count > 0)
            problems.Add("no gateway was reached");
        return (reached == 0 ? 1 : 0, problems);
    }

    internal static IPEndPoint ParseGateway(string text)
    {
        if (IPEndPoint.TryParse(text, out IPEndPoint? literal))
        {
            if (literal.Port == 0)
                literal.Port = AgentProtocol.DefaultGatewayPort;
            return literal;
        }
        string host = text;
        int port = AgentProtocol.DefaultGatewayPort;
        int colon = text.LastIndexOf(':');
        if (colon >= 0)
        {
            host = text[..colon];
            if (!int.TryParse(text.AsSpan(colon + 1), NumberStyles.None, CultureInfo.InvariantCulture, out port) || port is < 1 or > ushort.MaxValue)
                throw new ConfigException($"--gateway '{text}': the port must be 1..65535");
        }
        if (host.Length == 0)
            throw new ConfigException($"--gateway '{text}': no host; give HOST:PORT");
        IPAddress[] addresses;
        try
        {
            addresses = Dns.GetHostAddresses(host);
        }
        catch (SocketException e)
        {
            throw new ConfigException($"--gateway '{text}': cannot resolve '{host}' ({e.SocketErrorCode})");
        }
        IPAddress? pick = addresses.FirstOrDefault(static a => a.AddressFamily == AddressFamily.InterNetwork) ?? addresses.FirstOrDefault();
        return pick is null ? throw new ConfigException($"--gateway '{text}': '{host}' has no address") : new IPEndPoint(pick, port);
    }

    internal static TimeSpan ParseInterval(string text)
    {
        ReadOnlySpan<char> s = text.AsSpan().Trim();
        (double unitMs, int suffix) = s.EndsWith("ms", StringComparison.Ordinal) ? (1.0, 2)
            : s.EndsWith('s') ? (1000.0, 1)
            : s.EndsWith('m') ? (60_000.0, 1)
            : (1000.0, 0);
        if (!double.TryParse(s[..^suffix], NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture, out double value))
            throw new ConfigException($"--interval '{text}': give a duration such as 500ms, 1s or 2m");
        double ms = value * unitMs;
        if (!(ms >= 1 && ms <= AgentProtocol.MaxIntervalMs))
            throw new ConfigException($"--interval '{text}': give 1ms .. 60m");
        return TimeSpan.FromMilliseconds(Math.Round(ms));
    }

    private static byte[] ReadKey(FileInfo file)
    {
        byte[] bytes;
        try
        {
            bytes = Offload.Daemon.BoundedFile.ReadAllBytes(file.FullName, MaxKeyFileBytes);
        }
        catch (Offload.Daemon.InputFileException e)
        {
            throw new ConfigException($"--key-file {e.Message}");
        }
        int n = bytes.Length;
        while (n > 0 && bytes[n - 1] is (byte)'\n' or (byte)'\r')
            n--;
        return bytes[..n];
    }
}
