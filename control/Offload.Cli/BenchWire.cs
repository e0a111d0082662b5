using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using Offload.Benchmarks.Wire;
using Offload.Cli.Lab;

namespace Offload.Cli;

/// <summary>
/// <c>offload bench wire [--json]</c>: the three ways of reading frames from a Linux interface (one recv per frame,
/// recvmmsg batches, a TPACKET_V3 ring), measured on a veth pair in a network namespace made for the run and removed
/// after it. The measuring half runs as a child process inside that namespace (<c>ip netns exec</c>), so it sees the
/// pair under its own names in /sys as a gateway would see its ports.
/// </summary>
internal static class BenchWire
{
    public static Command Command(Option<bool> json)
    {
        var frames = new Option<int>("--frames") { Description = "frames per round (1000..10000000)", DefaultValueFactory = _ => 200_000 };
        var size = new Option<int>("--size") { Description = "frame size in bytes without FCS (60..1514)", DefaultValueFactory = _ => 64 };
        var rounds = new Option<int>("--rounds") { Description = "rounds per method; figures are medians (1..20)", DefaultValueFactory = _ => 3 };
        // The child's entry point: the two interfaces, already made, in this process's namespace.
        var inside = new Option<string?>("--inside") { Hidden = true };
        var command = new Command("wire", "frames read from a Linux interface per reading method (recv, recvmmsg, TPACKET_V3 ring): reader CPU per frame, system calls per frame, drops (root)")
        {
            json, frames, size, rounds, inside,
        };
        command.SetAction(r => Cli.Guard(() =>
        {
            try
            {
                return Run(r.GetValue(json), r.GetValue(frames), r.GetValue(size), r.GetValue(rounds), r.GetValue(inside), Console.Out);
            }
            catch (LabException e)
            {
                Console.Error.WriteLine($"offload: bench wire: {e.Message}");
                return 2;
            }
        }));
        return command;
    }

    public static int Run(bool json, int frames, int size, int rounds, string? inside, TextWriter output)
    {
        ArgumentNullException.ThrowIfNull(output);
        if (frames is < 1000 or > 10_000_000)
            throw new LabException($"--frames {frames}: give 1000 to 10000000");
        if (size is < 60 or > 1514)
            throw new LabException($"--size {size}: give 60 to 1514");
        if (rounds is < 1 or > 20)
            throw new LabException($"--rounds {rounds}: give 1 to 20");
        if (inside is not null)
        {
            string[] pair = inside.Split(',');
            var results = WireBench.Run(pair[0], pair[1], frames, size, rounds);
            output.WriteLine(JsonSerializer.Serialize(results));
            return 0;
        }
        if (LabNetwork.CannotRun() is { } why)
            throw new LabException(why.Replace("the lab needs", "bench wire needs", StringComparison.Ordinal));
        string ns = $"offload-wire-{Environment.ProcessId}";
        Sh.Run("ip", "netns", "add", ns);
        try
        {
            // IPv6 off before the pair exists, so its router solicitations and MLD reports do not wake the readers.
            Sh.Run("ip", "netns", "exec", ns, "sysctl", "-qw", "net.ipv6.conf.all.disable_ipv6=1", "net.ipv6.conf.default.disable_ipv6=1");
            Sh.Run("ip", "-n", ns, "link", "add", "wa", "type", "veth", "peer", "name", "wb");
            Sh.Run("ip", "-n", ns, "link", "set", "wa", "up");
            Sh.Run("ip", "-n", ns, "link", "set", "wb", "up");
            if (!json)
                output.WriteLine($"bench wire: {rounds} round(s) of {frames:N0} frames of {size} bytes per method, on a veth pair in namespace {ns}…");
            string self = Environment.ProcessPath ?? "dotnet";
            var args = new List<string> { "netns", "exec", ns, self };
            string? entry = System.Reflection.Assembly.GetEntryAssembly()?.Location;
            if (Path.GetFileNameWithoutExtension(self) == "dotnet" && entry is { Length: > 0 })
                args.Add(entry);
            args.AddRange(["bench", "wire", "--inside", "wa,wb", "--frames", Inv(frames), "--size", Inv(size), "--rounds", Inv(rounds)]);
            string text = Sh.Run(TimeSpan.FromMinutes(30), "ip", [.. args]);
            var results = JsonSerializer.Deserialize<List<WireMethodResult>>(text.Trim().Split('\n')[^1])
                ?? throw new LabException("the measuring process printed no results");
            Print(json, results, frames, size, rounds, output);
            return 0;
        }
        finally
        {
            Sh.TryRun(TimeSpan.FromSeconds(10), "ip", "netns", "del", ns);
        }
    }

    private static string Inv(int v) => v.ToString(CultureInfo.InvariantCulture);

    private static void Print(bool json, List<WireMethodResult> results, int frames, int size, int rounds, TextWriter output)
    {
        var plain = results.FirstOrDefault(r => r.Method == "plain");
        if (json)
        {
            var rows = new JsonArray();
            foreach (var r in results)
            {
                rows.Add(new JsonObject
                {
                    ["method"] = r.Method,
                    ["sent"] = r.Sent,
                    ["received"] = r.Received,
                    ["kernel_drops"] = r.KernelDrops,
                    ["out_of_order"] = r.OutOfOrder,
                    ["reader_ns_per_frame"] = r.ReaderNsPerFrame,
                    ["system_calls_per_frame"] = r.SystemCallsPerFrame,
                    ["frames_per_second"] = r.FramesPerSecond,
                    ["paced_latency_us"] = new JsonObject { ["p50"] = r.PacedLatencyP50Us, ["p99"] = r.PacedLatencyP99Us },
                    ["reader_cpu_vs_plain"] = plain is { ReaderNsPerFrame: > 0 } ? Math.Round(r.ReaderNsPerFrame / plain.ReaderNsPerFrame, 3) : null,
                });
            }
            output.WriteLine(new JsonObject
            {
                ["frames"] = frames,
                ["frame_bytes"] = size,
                ["rounds"] = rounds,
                ["cores"] = Environment.ProcessorCount,
                ["methods"] = rows,
            }.ToJsonString(new JsonSerializerOptions { WriteIndented = true }));
            return;
        }
        output.WriteLine("method       received   kernel drops  reader ns/frame  vs plain  syscalls/frame  frames/s  latency p50/p99 at 1k frames/s");
        foreach (var r in results)
        {
            string ratio = plain is { ReaderNsPerFrame: > 0 } ? (r.ReaderNsPerFrame / plain.ReaderNsPerFrame).ToString("0.00", CultureInfo.InvariantCulture) + "×" : "-";
            output.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"{r.Method,-12} {r.Received,9:N0}  {r.KernelDrops,12:N0}  {r.ReaderNsPerFrame,15:N0}  {ratio,8}  {r.SystemCallsPerFrame,14:0.000}  {r.FramesPerSecond,8:N0}  {r.PacedLatencyP50Us:0} / {r.PacedLatencyP99Us:0} µs"));
            if (r.OutOfOrder > 0)
                output.WriteLine($"  {r.OutOfOrder} frame(s) out of order or of the wrong length");
        }
        output.WriteLine("medians over the rounds; the reader's own thread CPU (user + system); on a veth the kernel's receive work is the sender's;");
        output.WriteLine("latency: send to read of 500 frames a millisecond apart (the ring hands a block over when it is full or its 1 ms retire timer fires)");
    }
}
