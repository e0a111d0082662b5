using System.CommandLine;
using Offload.Cli;
using Spectre.Console;

var width = new Option<int>("--width") { Description = "stream width of the model: 64 or 32", DefaultValueFactory = _ => 64 };
width.Validators.Add(r =>
{
    int w = r.GetValueOrDefault<int>();
    if (w is not (64 or 32))
        r.AddError($"--width {w}: the model is built at 64 and 32 bits");
});

var root = new RootCommand("offload: gateway load balancer, data plane on the Verilator model and control plane");

// offload demo
var demoOut = new Option<DirectoryInfo?>("--out") { Description = "also write what left each port as pcap files into this folder" };
var demoHosts = new Option<int>("--hosts") { Description = "hosts on the segment (1..120)", DefaultValueFactory = _ => 24 };
demoHosts.Validators.Add(r =>
{
    int h = r.GetValueOrDefault<int>();
    // After a failover one gateway holds every host's NAT return path, and the default 256-entry next-hop table
    // gives a gateway 128 client entries: more hosts would be lost in the second act (and the demo would say so).
    if (h is < 1 or > 120)
        r.AddError($"--hosts {h}: give 1 to 120 (a gateway has 128 next-hop entries for NAT return paths to clients)");
});
var demoNoFailover = new Option<bool>("--no-failover") { Description = "skip the second act (two gateways on their own models, one fails)" };
var demo = new Command("demo", "hosts ARP for a virtual IP and open connections through the model; checks it frame by frame against the reference model; then two gateways, one fails") { width, demoHosts, demoOut, demoNoFailover };
demo.SetAction(r => Cli.Guard(() => Demo.Run(r.GetValue(width), r.GetValue(demoHosts), r.GetValue(demoOut), !r.GetValue(demoNoFailover))));
root.Subcommands.Add(demo);

// offload sim
var pcap = new Option<FileInfo>("--pcap") { Description = "pcap or pcapng file to replay", Required = true };
var config = new Option<FileInfo?>("--config") { Description = "table configuration (JSON); default: the demo's tables" };
var port = new Option<int>("--port") { Description = "ingress port the frames arrive on: 0 (segment) or 1 (uplink)", DefaultValueFactory = _ => 0 };
port.Validators.Add(r =>
{
    int p = r.GetValueOrDefault<int>();
    if (p is not (0 or 1))
        r.AddError($"--port {p}: ports are 0 and 1");
});
var simOut = new Option<FileInfo?>("--out") { Description = "OUT.pcap: writes OUT.port0.pcap, OUT.port1.pcap and OUT.host.pcap" };
var sim = new Command("sim", "replay a capture through the model with the given tables and write what leaves each port") { pcap, config, port, simOut, width };
sim.SetAction(r => Cli.Guard(() => Sim.Run(r.GetValue(pcap)!, r.GetValue(config), r.GetValue(port), r.GetValue(simOut), r.GetValue(width))));
sim.Subcommands.Add(SimServe.Create(width));
root.Subcommands.Add(sim);

// offload bench dataplane
var json = new Option<bool>("--json") { Description = "print JSON for scripts instead of a table" };
var benchDataplane = new Command("dataplane", "cycles per frame at line rate, lookup latency, ARP replies per cycle, table load factor, model speed") { json, width };
benchDataplane.SetAction(r => Cli.Guard(() =>
{
    bool asJson = r.GetValue(json);
    var result = BenchDataplane.Run(r.GetValue(width), msg => { if (!asJson) AnsiConsole.MarkupLine($"[grey]{Markup.Escape(msg)}…[/]"); });
    if (asJson)
        Console.WriteLine(BenchDataplane.Json(result));
    else
        Report.BenchTable(result);
    return 0;
}));
var bench = new Command("bench", "benchmarks that print figures") { benchDataplane };
bench.Subcommands.Add(BenchBalancer.Command());
bench.Subcommands.Add(BenchGroup.Create(json));
bench.Subcommands.Add(BenchDevice.Command(json));
bench.Subcommands.Add(BenchRouter.Command(json));
bench.Subcommands.Add(BenchPolicies.Command(json));
bench.Subcommands.Add(Offload.Cli.Lab.BenchLab.Command(json));
bench.Subcommands.Add(BenchWire.Command(json));
root.Subcommands.Add(bench);

// offload glbp watch
var watchPcap = new Option<FileInfo?>("--pcap") { Description = "pcap or pcapng capture (Ethernet) to read" };
var watchInterface = new Option<string?>("--interface") { Description = "Linux interface to watch live (needs root or CAP_NET_RAW)" };
var watchKey = new Option<string?>("--key") { Description = "check every message's authentication (text, MD5 or Offload HMAC) against this key" };
var watchSeconds = new Option<int?>("--seconds") { Description = "with --interface: stop after this many seconds instead of at Ctrl-C" };
var glbpWatch = new Command("watch", "decode GLBP from a capture or live and show each group as an observer learns it, like show glbp") { watchPcap, watchInterface, json, watchKey, watchSeconds };
glbpWatch.SetAction(r => Cli.Guard(() => GlbpWatch.Run(r.GetValue(watchPcap), r.GetValue(watchInterface), r.GetValue(json), r.GetValue(watchKey), r.GetValue(watchSeconds))));
var glbp = new Command("glbp", "GLBP tools") { glbpWatch };
root.Subcommands.Add(glbp);

root.Subcommands.Add(DevicesCommand.Create(json));
root.Subcommands.Add(FlashCommand.Create());
root.Subcommands.Add(AgentCommand.Create());
root.Subcommands.Add(RunCommand.Create());
root.Subcommands.Add(Offload.Cli.Lab.LabCommand.Create(json));
root.Subcommands.Add(ShowCommand.Create());
root.Subcommands.Add(RouterCommand.Create());
root.Subcommands.Add(ConfigCheckCommand.Create());

var parsed = root.Parse(args);
if (parsed.Errors.Count > 0)
{
    // One line per problem and exit 2, like every other bad input, instead of the whole help text.
    foreach (var error in parsed.Errors)
        Console.Error.WriteLine($"offload: {Cli.PlainParseError(error.Message)}");
    Console.Error.WriteLine("offload: 'offload --help' and 'offload COMMAND --help' list the commands and options");
    return 2;
}
return parsed.Invoke();
