using System.Globalization;
using Offload.Device;
using Offload.Protocol.Pcap;
using Offload.Reference;
using Spectre.Console;

namespace Offload.Cli;

/// <summary>`offload sim`: replays a capture into one port of the model with the given tables.</summary>
internal static class Sim
{
    public static int Run(FileInfo pcap, FileInfo? config, int port, FileInfo? outFile, int width)
    {
        if (Directory.Exists(pcap.FullName))
            throw new ConfigException($"{pcap.FullName}: is a directory, not a capture file");
        if (!pcap.Exists)
            throw new ConfigException($"{pcap.FullName}: no such file");
        // Read everything first: a bad capture stops here, before anything runs or is written.
        List<PcapPacket> packets;
        using (var reader = PcapReader.Open(pcap.FullName))
        {
            packets = reader.ReadAll();
            if (reader.Warning is { } cut)
                Console.Error.WriteLine($"offload: warning: {cut}");
        }
        var nonEthernet = packets.FirstOrDefault(p => p.LinkType != LinkType.Ethernet);
        if (packets.Any(p => p.LinkType != LinkType.Ethernet))
            throw new ConfigException($"{pcap.FullName}: link type {nonEthernet.LinkType} is not Ethernet (1); only Ethernet captures can be replayed");

        TablesFile? tables = null;
        using var run = new ModelRun(width, build: g =>
        {
            if (config is null)
                return Demo.Tables(g);
            tables = TablesFile.Load(config.FullName, g);
            return tables.Config;
        });
        var g = run.Dataplane.Geometry;
        foreach (var (key, action) in tables?.Flows ?? [])
            run.Install(key, action);

        AnsiConsole.MarkupLine($"Replaying {packets.Count} frames from {Markup.Escape(pcap.Name)} into port {port} of the model (DATA_W={g.DataWidth}), tables from {Markup.Escape(config?.Name ?? "the demo")} ({run.Flows.Count} flows).");
        int truncated = 0, oversized = 0;
        foreach (var p in packets)
        {
            if (p.Data.Length < p.OriginalLength)
                truncated++;
            if (p.Data.Length > g.MaxFrame)
                oversized++;
            // Captures from a NIC may include the FCS; the model takes frames without it, as a MAC hands them over.
            run.Send(port, p.Data.Span);
        }
        run.Flush();

        var table = new Table().AddColumns("output", "frames", "bytes");
        for (int d = 0; d < 3; d++)
        {
            var o = run.Outputs.Where(x => x.Port == d).ToList();
            table.AddRow(ModelRun.Name(d), o.Count.ToString(CultureInfo.InvariantCulture), o.Sum(x => (long)x.Frame.Length).ToString(CultureInfo.InvariantCulture));
        }
        AnsiConsole.Write(table);
        var reasons = run.Outputs.Where(o => o.IsHost).GroupBy(o => o.Metadata!.Value.Reason).OrderBy(x => x.Key)
            .Select(x => $"{HostMetadata.ReasonName(x.Key)} {x.Count()}");
        AnsiConsole.MarkupLine($"Host queue by reason: {string.Join(", ", reasons.DefaultIfEmpty("none"))}");
        var ct = new Table().AddColumns("counter", "port 0", "port 1", "reference");
        foreach (var (name, a, b, agree) in run.Counters())
        {
            if (a == 0 && b == 0 && agree)
                continue;
            ct.AddRow(name, a.ToString(CultureInfo.InvariantCulture), b.ToString(CultureInfo.InvariantCulture), agree ? "[green]same[/]" : "[red]differs[/]");
        }
        AnsiConsole.Write(ct);
        if (truncated > 0)
            AnsiConsole.MarkupLine($"[yellow]{truncated} frames were captured shorter than they were on the wire (snap length); they were replayed as captured.[/]");
        if (oversized > 0)
            AnsiConsole.MarkupLine($"[yellow]{oversized} frames exceed MAX_FRAME ({g.MaxFrame} bytes) and were dropped as oversize.[/]");

        if (outFile is not null)
        {
            string stem = outFile.FullName.EndsWith(".pcap", StringComparison.OrdinalIgnoreCase) ? outFile.FullName[..^5] : outFile.FullName;
            Demo.WritePcaps(run.Outputs, stem);
        }

        bool agreeAll = run.Counters().All(c => c.Agree);
        if (run.FirstMismatch is null && agreeAll)
        {
            AnsiConsole.MarkupLine($"[green]Model and reference model agree on all {run.Compared} outputs and every counter.[/] ({run.Cycles:N0} cycles)");
            return 0;
        }
        AnsiConsole.MarkupLine($"[red]Model and reference model disagree:[/] {Markup.Escape(run.FirstMismatch ?? "counters differ")}");
        return 1;
    }
}
