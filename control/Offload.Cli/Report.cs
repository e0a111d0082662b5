using System.Globalization;
using System.Text.Json.Nodes;
using Spectre.Console;

namespace Offload.Cli;

internal static class Report
{
    public static void BenchTable(JsonObject r)
    {
        int width = (int)r["width"]!;
        AnsiConsole.MarkupLine($"[bold]Data plane on the Verilator model, DATA_W={width}[/]: both network ports receive back-to-back frames that hit the table (0→1 and 1→0).");
        var t = new Table().AddColumns("frame bytes", "frames/port", "cycles/frame", "ideal (1 word/cycle)", "ingress stall cycles");
        foreach (var f in r["frames"]!.AsArray())
        {
            t.AddRow(F(f!["bytes"]), F(f["frames_per_port"]), F(f["cycles_per_frame"]), F(f["ideal_cycles_per_frame"]), F(f["ingress_stall_cycles"]));
        }
        AnsiConsole.Write(t);
        var s = new Table().AddColumns("figure", "value");
        s.AddRow("lookup latency (cycles, fixed)", F(r["lookup_latency_cycles"]));
        s.AddRow("ARP replies per cycle, one port", F(r["arp_replies_per_cycle"]));
        s.AddRow("ARP replies per cycle, both ports", F(r["arp_replies_per_cycle_both_ports"]));
        s.AddRow("flow table load factor at first failed insert", $"{F(r["table_load_factor_at_first_failure"])} of {F(r["table_capacity"])} entries");
        s.AddRow("model cycles/s through the C# binding", Cli.Human((double)r["model_cycles_per_second"]!));
        s.AddRow("model frames/s through the C# binding", Cli.Human((double)r["model_frames_per_second"]!));
        s.AddRow("model cycles/s, pure C++ loop", Cli.Human((double)r["cpp_cycles_per_second"]!));
        s.AddRow("binding overhead vs pure C++", ((double)r["binding_overhead_fraction"]!).ToString("P1", CultureInfo.InvariantCulture));
        AnsiConsole.Write(s);
    }

    private static string F(JsonNode? n) => n?.ToJsonString() ?? "";
}
