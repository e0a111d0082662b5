using System.Diagnostics;
using System.Globalization;
using Offload.Daemon;
using Offload.Device;
using Offload.Protocol;
using Offload.Testing.Lab;
using Spectre.Console;

namespace Offload.Cli;

/// <summary>What the second act found, for the caller and the tests; <see cref="Line"/> is the act's last line.</summary>
public sealed record FailoverSummary(int Hosts, int Established, int Continued, int Lost, string Survivor, string Victim, string Vmac,
    TimeSpan? TakeoverAfter, TimeSpan Hold, string Line)
{
    public bool Ok => Lost == 0 && TakeoverAfter is not null && Established == Hosts;
}

/// <summary>
/// The demo's second act: the product's failover story on a simulated segment (<see cref="FailoverLab"/>). Two
/// gateways from examples/gateway.json, each a full <see cref="GatewayNode"/> on its own Verilator model, elect an
/// AVG; the hosts ARP the virtual IP and spread over the vMACs; their connections are balanced over the backends; the
/// gateway whose vMAC hosts use dies; its peer takes over, and every connection is checked end to end. Every figure
/// printed is read from counters, group state or what the emulated hosts and backends received.
/// </summary>
internal static class DemoFailover
{
    public const string ExampleRelative = "examples/gateway.json";

    /// <summary>The act as `offload demo` runs it: 0 when nothing was lost, 1 when something was, 2 for an unusable example.</summary>
    public static int Run(int hosts)
    {
        string? example = FindExample();
        try
        {
            return Run(hosts, example, AnsiConsole.Console).Ok ? 0 : 1;
        }
        catch (GatewayConfigException e)
        {
            Console.Error.WriteLine($"offload: second act: {example}: {e.Message}");
            return 2;
        }
    }

    /// <summary>Runs the act and prints it to <paramref name="console"/>; with no example file it says so and skips.</summary>
    public static FailoverSummary Run(int hosts, string? examplePath, IAnsiConsole console)
    {
        ArgumentNullException.ThrowIfNull(console);
        if (examplePath is null)
        {
            const string skipped = "Second act skipped: examples/gateway.json was not found above the program or the current folder (run it from the repository).";
            console.MarkupLine($"[yellow]{Markup.Escape(skipped)}[/]");
            return new FailoverSummary(hosts, hosts, hosts, 0, "", "", "", TimeSpan.Zero, TimeSpan.Zero, skipped);
        }
        string example;
        try
        {
            example = File.ReadAllText(examplePath);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new IOException($"{examplePath}: cannot read the example configuration: {e.Message}", e);
        }

        var wall = Stopwatch.StartNew();
        using var lab = new FailoverLab(new FailoverLabOptions(example, hosts));
        console.WriteLine();
        console.MarkupLine("[bold]Second act: two gateways, one virtual IP, one of them fails[/]");
        console.MarkupLine($"gw-a and gw-b run the full control plane (GLBP, classifier, session tracker, session sync) from {Markup.Escape(ExampleRelative)}, " +
            $"each on its own Verilator model (DATA_W=64); port 0 of both on one simulated segment with {hosts} hosts, port 1 to the backends; virtual clock.");
        console.WriteLine();

        Rule(console, $"4. Election (group {lab.A.Config.Groups[0].Group}, virtual IP {Ipv4Address.Format(lab.GroupVip)}, hello {Seconds(lab.Hello)} s, hold {Seconds(lab.Hold)} s)");
        var election = lab.Elect();
        var gt = new Table().AddColumns("gateway", "address", "priority", "AVG state", "weighting", "own vMAC");
        foreach (var g in election.Gateways)
        {
            gt.AddRow(g.Name, Ipv4Address.Format(g.Ip), N(g.Priority), g.State.ToString(), N(g.Weighting), g.OwnVmac.ToString());
        }
        console.Write(gt);
        var ft = new Table().AddColumns("forwarder", "vMAC", "owner", "forwarded by");
        foreach (var f in election.Forwarders)
            ft.AddRow(N(f.Number), f.Vmac.ToString(), f.Owner, f.ForwardedBy);
        console.Write(ft);
        console.MarkupLine(election.Converged
            ? $"Converged at {Seconds(election.ConvergedAt)} s (virtual): {election.Avg} is the AVG (Active), {election.Standby} is Standby."
            : $"[red]No convergence within 30 s (virtual):[/] AVG {election.Avg}, standby {election.Standby}.");
        console.WriteLine();

        Rule(console, $"5. {hosts} hosts ARP for {Ipv4Address.Format(lab.GroupVip)}");
        var arp = lab.ResolveAll();
        var at = new Table().AddColumns("vMAC", "owner", "hosts that got it");
        foreach (var r in arp.Rows)
            at.AddRow(r.Vmac.ToString(), r.Owner, N(r.Hosts));
        console.Write(at);
        console.MarkupLine($"{arp.Answered} of {arp.Hosts} hosts answered; replies sent by {Pairs(arp.AnsweredBy)} " +
            $"(ARP_REPLIES counters: {string.Join(", ", lab.Segment.Gateways.Select(g => $"{g.Name} {g.Counters().Port0.ArpReplies}"))}).");
        console.WriteLine();

        var svc = lab.Service;
        Rule(console, $"6. Every host opens a TCP connection to {Ipv4Address.Format(svc.VirtualIp)}:{svc.Port} through its vMAC");
        var connect = lab.ConnectAll();
        var ct = new Table().AddColumns("gateway", "connections", "installed", "flow entries", "hits (both ports)", "misses (both ports)");
        foreach (var g in connect.PerGateway)
            ct.AddRow(g.Name, N(g.Connections), N(g.Installed), N(g.FlowEntries), N(g.Hits), N(g.Misses));
        console.Write(ct);
        var bt = new Table().AddColumns("backend", "address", "connections (Maglev)");
        foreach (var b in connect.PerBackend)
            bt.AddRow(b.Id, Ipv4Address.Format(b.Ip), N(b.Connections));
        console.Write(bt);
        console.MarkupLine($"{connect.Established} of {connect.Attempted} connections established (SYN missed, was classified and installed, SYN-ACK and data hit). " +
            $"Session sync: {string.Join(", ", connect.HeldByPeers.Select(kv => $"{kv.Value} of {kv.Key}'s sessions held by its peer"))}.");
        console.WriteLine();

        var crash = lab.CrashAndTakeOver();
        Rule(console, $"7. {crash.Victim} fails (powered off: no hellos, its frames vanish)");
        string vmac = crash.VictimVmac.ToString();
        if (crash.VictimWasAvg)
        {
            console.MarkupLine(crash.AvgAfter is { } avgAfter
                ? $"{crash.Survivor} became AVG {Seconds(avgAfter)} s after the failure (virtual time)."
                : $"[red]{crash.Survivor} did not become AVG.[/]");
        }
        console.MarkupLine(crash.VmacAfter is { } vmacAfter
            ? $"{crash.Survivor} took over {crash.Victim}'s vMAC {vmac} {Seconds(vmacAfter)} s after the failure (hold {Seconds(crash.Hold)} s + one hello {Seconds(crash.Hello)} s at most) " +
              $"and installed {crash.SyncedFlowsInstalled} synced flows for the {crash.ConnectionsThroughVictim} connections that use that vMAC."
            : $"[red]{crash.Survivor} did not take over {vmac} within {Seconds(crash.Hold + crash.Hello + TimeSpan.FromSeconds(2))} s.[/]");
        console.WriteLine();

        Rule(console, "8. Every host sends more data on its connection, to the vMAC it resolved before");
        var more = lab.ContinueAll();
        console.MarkupLine($"{more.Continued} of {more.Established} connections reached the same backend with the same NAT rewrite and got its acknowledgement back " +
            $"({more.ContinuedThroughVictimVmac} of {more.ThroughVictimVmac} through {crash.Victim}'s vMAC). At {crash.Survivor}: {more.Hits} hits, {more.Misses} misses; " +
            $"first packets: {more.FirstPacketHit} hit in hardware, {more.Reclassified} placed again by the classifier.");
        if (more.Outcomes.Count > 0)
            console.MarkupLine($"{crash.Survivor}'s classifier on those misses: {string.Join(", ", more.Outcomes.Select(kv => $"{kv.Key} {kv.Value}"))}.");
        if (more.LostCount > 0)
        {
            const int shown = 10;
            var lt = new Table().AddColumns("host", "vMAC", "backend before", "what happened");
            foreach (var l in more.Lost.Take(shown))
                lt.AddRow(Ipv4Address.Format(l.HostIp), l.Vmac.ToString(), l.Backend, Markup.Escape(l.Reason));
            console.Write(lt);
            if (more.LostCount > shown)
                console.MarkupLine($"… and {more.LostCount - shown} more.");
        }
        console.MarkupLine(more.LostCount == 0 ? "[green]Goal: 0 connections lost.[/]" : $"[red]{more.LostCount} connections lost.[/]");
        console.WriteLine();

        Rule(console, $"9. The hosts ARP for {Ipv4Address.Format(lab.GroupVip)} again");
        var again = lab.ReArp();
        var rt = new Table().AddColumns("vMAC", "owner", "forwarded by", "hosts that got it");
        foreach (var r in again.Rows)
            rt.AddRow(r.Vmac.ToString(), r.Owner, r.ForwardedBy, N(r.Hosts));
        console.Write(rt);
        console.MarkupLine($"{again.Answered} of {again.Hosts} hosts answered, by {Pairs(again.AnsweredBy)}.");
        console.MarkupLine($"[grey]Virtual time {Seconds(lab.Segment.Clock.Elapsed)} s, wall time {wall.Elapsed.TotalSeconds.ToString("0.0", CultureInfo.InvariantCulture)} s.[/]");

        string took = crash.VmacAfter is { } t
            ? $"{crash.Survivor} took over vMAC {vmac} in {Seconds(t)} s (hold {Seconds(crash.Hold)} s)"
            : $"{crash.Survivor} did not take over vMAC {vmac}";
        string notUp = more.Established < hosts ? $" ({hosts - more.Established} of {hosts} never got established)" : "";
        string line = $"Failover: {took}; {more.Continued} of {more.Established} established connections continued on their backends{notUp}; {more.LostCount} lost.";
        var summary = new FailoverSummary(hosts, more.Established, more.Continued, more.LostCount, crash.Survivor, crash.Victim, vmac, crash.VmacAfter, crash.Hold, line);
        console.MarkupLine(summary.Ok ? $"[green]{Markup.Escape(line)}[/]" : $"[red]{Markup.Escape(line)}[/]");
        return summary;
    }

    /// <summary>examples/gateway.json above the program's folder (the repository's build output) or the current folder.</summary>
    public static string? FindExample()
    {
        foreach (string start in new[] { AppContext.BaseDirectory, Environment.CurrentDirectory })
        {
            for (var dir = new DirectoryInfo(start); dir is not null; dir = dir.Parent)
            {
                string path = Path.Combine(dir.FullName, ExampleRelative);
                if (File.Exists(path))
                    return path;
            }
        }
        return null;
    }

    private static void Rule(IAnsiConsole console, string title) => console.Write(new Rule($"[bold]{Markup.Escape(title)}[/]").LeftJustified());

    private static string Seconds(TimeSpan t) => t.TotalSeconds.ToString("0.0##", CultureInfo.InvariantCulture);

    private static string N<T>(T v)
        where T : IFormattable => v.ToString(null, CultureInfo.InvariantCulture);

    private static string Pairs(IReadOnlyDictionary<string, int> counts) =>
        counts.Count == 0 ? "nobody" : string.Join(", ", counts.OrderBy(kv => kv.Key, StringComparer.Ordinal).Select(kv => $"{kv.Key}'s hardware ({kv.Value})"));
}
