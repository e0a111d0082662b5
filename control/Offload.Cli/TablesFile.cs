using System.Globalization;
using Offload.Daemon;
using Offload.Device;
using Offload.Group;

namespace Offload.Cli;

/// <summary>
/// The table configuration that `offload sim` loads: port MACs, vMAC filter, ARP groups with forwarder
/// weights, next hops and flows by key (placed by the flow-table manager, as the control plane would). Read and judged
/// as the gateway's and the router's files are (<see cref="ConfigJson"/>, <see cref="ConfigValidator"/>): every problem
/// at once, each with its JSON path.
/// </summary>
public sealed class TablesFile
{
    public required DataplaneConfig Config { get; init; }

    public required IReadOnlyList<(FlowKey Key, FlowAction Action)> Flows { get; init; }

    /// <exception cref="ConfigException">Missing, unreadable, not JSON, or invalid (all problems listed, the file named).</exception>
    public static TablesFile Load(string path, DataplaneGeometry geometry) =>
        Parse(ConfigJson.ReadText(path, (m, e) => new ConfigException(m, e)), geometry, path);

    /// <exception cref="ConfigException">Not JSON, or invalid (all problems listed).</exception>
    public static TablesFile Parse(string json, DataplaneGeometry geometry, string source = "tables")
    {
        ArgumentNullException.ThrowIfNull(geometry);
        var file = ConfigJson.Deserialize<TablesSection>(json, source, (s, p) => new ConfigException(s, p));
        var v = new Validator(geometry);
        var tables = v.Build(file);
        if (v.Problems.Count > 0 || tables is null)
            throw new ConfigException(source, v.Problems);
        return tables;
    }

    private sealed class Validator(DataplaneGeometry geometry) : ConfigValidator
    {
        public TablesFile? Build(TablesSection f)
        {
            var config = new DataplaneConfig(geometry);
            var flows = new List<(FlowKey, FlowAction)>();
            if ((f.Ports?.Count ?? 0) > 2)
                Problem("ports", $"{f.Ports!.Count} ports: there are only ports 0 and 1");
            for (int p = 0; p < Math.Min(2, f.Ports?.Count ?? 0); p++)
            {
                if (NotNull($"ports[{p}]", f.Ports![p]))
                    config.PortMacs[p] = Mac($"ports[{p}].mac", f.Ports[p].Mac);
            }
            if ((f.Vmacs?.Count ?? 0) > geometry.Vmacs)
                Problem("vmacs", $"{f.Vmacs!.Count} entries: the filter holds {geometry.Vmacs}");
            for (int i = 0; i < Math.Min(geometry.Vmacs, f.Vmacs?.Count ?? 0); i++)
                config.Vmacs[i] = Mac($"vmacs[{i}]", f.Vmacs![i]);
            if ((f.Groups?.Count ?? 0) > geometry.Groups)
                Problem("groups", $"{f.Groups!.Count} groups: the data plane has {geometry.Groups}");
            for (int g = 0; g < Math.Min(geometry.Groups, f.Groups?.Count ?? 0); g++)
            {
                if (NotNull($"groups[{g}]", f.Groups![g]))
                    config.Groups[g] = Group($"groups[{g}]", f.Groups[g]);
            }
            if ((f.NextHops?.Count ?? 0) > geometry.NextHops)
                Problem("nextHops", $"{f.NextHops!.Count} entries: the table holds {geometry.NextHops}");
            for (int n = 0; n < Math.Min(geometry.NextHops, f.NextHops?.Count ?? 0); n++)
            {
                if (!NotNull($"nextHops[{n}]", f.NextHops![n]))
                    continue;
                var nh = f.NextHops[n];
                int port = Int($"nextHops[{n}].port", nh.Port, 0, 1, required: true) ?? 0;
                config.NextHops[n] = new NextHop((byte)port, Mac($"nextHops[{n}].dmac", nh.Dmac), Mac($"nextHops[{n}].smac", nh.Smac));
            }
            for (int i = 0; i < (f.Flows?.Count ?? 0); i++)
            {
                if (NotNull($"flows[{i}]", f.Flows![i]) && Flow($"flows[{i}]", f.Flows[i]) is { } flow)
                    flows.Add(flow);
            }
            if (f.SyncPort is { } sp && Int("syncPort", sp, 1, 65535) is { } syncPort)
                config.SyncPort = (ushort)syncPort;
            return Problems.Count > 0 ? null : new TablesFile { Config = config, Flows = flows };
        }

        private GroupConfig? Group(string path, TableGroupSection g)
        {
            int before = Problems.Count;
            uint vip = Ip($"{path}.vip", g.Vip);
            int gid = Int($"{path}.gid", g.Gid, 0, 1023, required: true) ?? 0;
            ArpMode? mode = (g.Mode ?? "round-robin") switch
            {
                "round-robin" or "weighted" => ArpMode.RoundRobin,
                "host-dependent" => ArpMode.HostDependent,
                _ => null,
            };
            if (mode is null)
                Problem($"{path}.mode", $"'{g.Mode}' is not round-robin, weighted or host-dependent");
            var weights = new List<(byte Forwarder, int Weight)>();
            if (g.Forwarders is null || g.Forwarders.Count == 0)
                Problem($"{path}.forwarders", "missing: an object of forwarder number to weight, e.g. {\"1\": 100, \"2\": 50}");
            foreach (var (name, weight) in g.Forwarders ?? [])
            {
                if (!byte.TryParse(name, NumberStyles.None, CultureInfo.InvariantCulture, out byte fwd) || fwd == 0)
                    Problem($"{path}.forwarders", $"'{name}' is not a forwarder number 1..255");
                else if (Int($"{path}.forwarders.{name}", weight, 0, 254, required: true) is { } w)
                    weights.Add((fwd, w));
            }
            if (Problems.Count > before)
                return null;
            if (geometry.Slots != SlotTableBuilder.SlotCount)
            {
                Problem($"{path}.forwarders", $"the data plane has {geometry.Slots} slots per group; slot tables are built for {SlotTableBuilder.SlotCount}");
                return null;
            }
            if (weights.All(w => w.Weight == 0))
            {
                Problem($"{path}.forwarders", "at least one forwarder needs a weight above 0");
                return null;
            }
            return new GroupConfig(vip, (ushort)gid, mode!.Value, g.Copy ?? false, Enabled: true, SlotTable.FromWeights(weights, geometry.Slots));
        }

        private (FlowKey, FlowAction)? Flow(string path, FlowSection e)
        {
            int before = Problems.Count;
            string protoText = e.Proto ?? "tcp";
            byte? proto = protoText switch
            {
                "tcp" => 6,
                "udp" => 17,
                "icmp" => 1,
                _ => byte.TryParse(protoText, NumberStyles.None, CultureInfo.InvariantCulture, out byte b) ? b : null,
            };
            if (proto is null)
                Problem($"{path}.proto", $"'{protoText}' is not tcp, udp, icmp or a number");
            int inPort = Int($"{path}.inPort", e.InPort, 0, 1, required: true) ?? 0;
            uint src = Ip($"{path}.src", e.Src);
            uint dst = Ip($"{path}.dst", e.Dst);
            int sport = Int($"{path}.sport", e.Sport, 0, 65535) ?? 0;
            int dport = Int($"{path}.dport", e.Dport, 0, 65535) ?? 0;
            NatMode? nat = (e.Nat ?? "none") switch
            {
                "none" => NatMode.None,
                "dst" => NatMode.Destination,
                "src" => NatMode.Source,
                _ => null,
            };
            if (nat is null)
                Problem($"{path}.nat", $"'{e.Nat}' is not none, dst or src");
            int nextHop = Int($"{path}.nextHop", e.NextHop, 0, geometry.NextHops - 1, required: true) ?? 0;
            uint natIp = nat is null or NatMode.None ? 0 : Ip($"{path}.natIp", e.NatIp);
            int natPort = Int($"{path}.natPort", e.NatPort, 0, 65535) ?? 0;
            if (Problems.Count > before)
                return null;
            return (new FlowKey((byte)inPort, src, dst, proto!.Value, (ushort)sport, (ushort)dport),
                new FlowAction((byte)nextHop, e.TtlDec ?? false, nat!.Value, natIp, (ushort)natPort));
        }

        private uint Ip(string path, string? text)
        {
            if (text is null)
            {
                Problem(path, "missing: an IPv4 address");
                return 0;
            }
            try
            {
                // Four decimal parts only: IPAddress would take "1.2.3" as 1.2.0.3.
                return Offload.Protocol.Ipv4Address.Parse(text);
            }
            catch (FormatException)
            {
                Problem(path, $"'{text}' is not an IPv4 address");
                return 0;
            }
        }

        private MacAddress Mac(string path, string? text)
        {
            if (text is null)
            {
                Problem(path, "missing: a MAC address");
                return default;
            }
            try
            {
                return MacAddress.Parse(text);
            }
            catch (FormatException)
            {
                Problem(path, $"'{text}' is not a MAC address");
                return default;
            }
        }
    }
}

// The JSON shape of a tables file, as written by people: every member optional, so the validator says what is missing.
#pragma warning disable CA1002, CA2227 // plain data bound by System.Text.Json
public sealed class TablesSection
{
    public List<PortMacSection>? Ports { get; set; }
    public List<string>? Vmacs { get; set; }
    public List<TableGroupSection>? Groups { get; set; }
    public List<NextHopSection>? NextHops { get; set; }
    public List<FlowSection>? Flows { get; set; }
    public int? SyncPort { get; set; }
}

public sealed class PortMacSection
{
    public string? Mac { get; set; }
}

public sealed class TableGroupSection
{
    public string? Vip { get; set; }
    public int? Gid { get; set; }

    /// <summary>round-robin (or weighted), host-dependent.</summary>
    public string? Mode { get; set; }

    /// <summary>Also copy ARP requests for the VIP to the host queue.</summary>
    public bool? Copy { get; set; }

    /// <summary>Forwarder number ("1".."255") to weight (0..254).</summary>
    public Dictionary<string, int?>? Forwarders { get; set; }
}

public sealed class NextHopSection
{
    public int? Port { get; set; }
    public string? Dmac { get; set; }
    public string? Smac { get; set; }
}

public sealed class FlowSection
{
    public int? InPort { get; set; }
    public string? Src { get; set; }
    public string? Dst { get; set; }

    /// <summary>tcp, udp, icmp or a protocol number.</summary>
    public string? Proto { get; set; }

    public int? Sport { get; set; }
    public int? Dport { get; set; }
    public int? NextHop { get; set; }
    public bool? TtlDec { get; set; }

    /// <summary>none, dst or src.</summary>
    public string? Nat { get; set; }

    public string? NatIp { get; set; }
    public int? NatPort { get; set; }
}
#pragma warning restore CA1002, CA2227

/// <summary>A file or an argument the CLI refuses; for a file, every problem with its JSON path.</summary>
public sealed class ConfigException : ConfigFileException
{
    public ConfigException()
    {
    }

    public ConfigException(string message)
        : base(message)
    {
    }

    public ConfigException(string message, Exception innerException)
        : base(message, innerException)
    {
    }

    public ConfigException(string source, IReadOnlyList<string> problems)
        : base(source, problems)
    {
    }
}

/// <summary>Turns forwarder weights from a config file into a slot table, with the group's own builder.</summary>
public static class SlotTable
{
    public static byte[] FromWeights(IReadOnlyList<(byte Forwarder, int Weight)> weights, int slots)
    {
        ArgumentNullException.ThrowIfNull(weights);
        if (slots != SlotTableBuilder.SlotCount)
            throw new ConfigException($"the data plane has {slots} slots per group; slot tables are built for {SlotTableBuilder.SlotCount}");
        var forwarders = new byte[weights.Count];
        var w = new double[weights.Count];
        for (int i = 0; i < weights.Count; i++)
            (forwarders[i], w[i]) = (weights[i].Forwarder, weights[i].Weight);
        var table = new byte[slots];
        if (SlotTableBuilder.Build(forwarders, w, table) == 0)
            throw new ConfigException("at least one forwarder needs a weight above 0");
        return table;
    }
}
