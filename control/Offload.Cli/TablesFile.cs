using System.Globalization;
using System.Net;
using System.Text.Json;
using Offload.Device;
using Offload.Group;

namespace Offload.Cli;

/// <summary>
/// The table configuration that `offload sim` loads: port MACs, vMAC filter, ARP groups with forwarder
/// weights, next hops and flows by key (placed by the flow-table manager, as the control plane would).
/// </summary>
public sealed class TablesFile
{
    public required DataplaneConfig Config { get; init; }

    public required IReadOnlyList<(FlowKey Key, FlowAction Action)> Flows { get; init; }

    public static TablesFile Load(string path, DataplaneGeometry geometry)
    {
        string text;
        try
        {
            text = Offload.Daemon.BoundedFile.ReadAllText(path);
        }
        catch (Offload.Daemon.InputFileException e)
        {
            throw new ConfigException(e.Message);
        }
        try
        {
            return Parse(text, geometry);
        }
        catch (ConfigException e)
        {
            throw new ConfigException($"{path}: {e.Message}");
        }
        catch (JsonException e)
        {
            throw new ConfigException($"{path}: not valid JSON (line {e.LineNumber + 1}): {e.Message}");
        }
    }

    public static TablesFile Parse(string json, DataplaneGeometry geometry)
    {
        ArgumentNullException.ThrowIfNull(geometry);
        using var doc = JsonDocument.Parse(json, new JsonDocumentOptions { CommentHandling = JsonCommentHandling.Skip, AllowTrailingCommas = true });
        var root = doc.RootElement;
        if (root.ValueKind != JsonValueKind.Object)
            throw new ConfigException("the top level must be an object");
        var config = new DataplaneConfig(geometry);
        var flows = new List<(FlowKey, FlowAction)>();
        foreach (var prop in root.EnumerateObject())
        {
            switch (prop.Name)
            {
                case "ports":
                    int p = 0;
                    foreach (var port in Array(prop.Value, "ports"))
                    {
                        if (p > 1)
                            throw new ConfigException("ports: there are only ports 0 and 1");
                        config.PortMacs[p] = Mac(port, "mac", $"ports[{p}]");
                        p++;
                    }
                    break;
                case "vmacs":
                    int v = 0;
                    foreach (var mac in Array(prop.Value, "vmacs"))
                    {
                        if (v >= geometry.Vmacs)
                            throw new ConfigException($"vmacs: the filter holds {geometry.Vmacs} entries");
                        config.Vmacs[v] = ParseMac(mac.GetString(), $"vmacs[{v}]");
                        v++;
                    }
                    break;
                case "groups":
                    int g = 0;
                    foreach (var group in Array(prop.Value, "groups"))
                    {
                        if (g >= geometry.Groups)
                            throw new ConfigException($"groups: the data plane has {geometry.Groups} groups");
                        config.Groups[g] = Group(group, $"groups[{g}]", geometry.Slots);
                        g++;
                    }
                    break;
                case "nextHops":
                    int n = 0;
                    foreach (var nh in Array(prop.Value, "nextHops"))
                    {
                        if (n >= geometry.NextHops)
                            throw new ConfigException($"nextHops: the table holds {geometry.NextHops} entries");
                        string where = $"nextHops[{n}]";
                        config.NextHops[n] = new NextHop((byte)Int(nh, "port", where, 0, 1), Mac(nh, "dmac", where), Mac(nh, "smac", where));
                        n++;
                    }
                    break;
                case "flows":
                    int f = 0;
                    foreach (var flow in Array(prop.Value, "flows"))
                    {
                        flows.Add(Flow(flow, $"flows[{f}]", geometry));
                        f++;
                    }
                    break;
                case "syncPort":
                    config.SyncPort = (ushort)Int(root, "syncPort", "", 1, 65535);
                    break;
                default:
                    throw new ConfigException($"unknown key '{prop.Name}' (expected ports, vmacs, groups, nextHops, flows, syncPort)");
            }
        }
        return new TablesFile { Config = config, Flows = flows };
    }

    private static JsonElement.ArrayEnumerator Array(JsonElement e, string where) =>
        e.ValueKind == JsonValueKind.Array ? e.EnumerateArray() : throw new ConfigException($"{where}: must be a list");

    private static GroupConfig Group(JsonElement e, string where, int slots)
    {
        uint vip = Ip(e, "vip", where);
        int gid = Int(e, "gid", where, 0, 1023);
        string modeText = Str(e, "mode", where, "round-robin");
        ArpMode mode = modeText switch
        {
            "round-robin" or "weighted" => ArpMode.RoundRobin,
            "host-dependent" => ArpMode.HostDependent,
            _ => throw new ConfigException($"{where}.mode: '{modeText}' is not round-robin, weighted or host-dependent"),
        };
        bool copy = e.TryGetProperty("copy", out var c) && c.ValueKind == JsonValueKind.True;
        if (!e.TryGetProperty("forwarders", out var fw) || fw.ValueKind != JsonValueKind.Object)
            throw new ConfigException($"{where}.forwarders: needs an object of forwarder number to weight, e.g. {{\"1\": 100, \"2\": 50}}");
        var weights = new List<(byte Forwarder, int Weight)>();
        foreach (var w in fw.EnumerateObject())
        {
            if (!byte.TryParse(w.Name, NumberStyles.None, CultureInfo.InvariantCulture, out byte fwd) || fwd == 0)
                throw new ConfigException($"{where}.forwarders: '{w.Name}' is not a forwarder number 1..255");
            int weight = w.Value.TryGetInt32(out int wv) && wv is >= 0 and <= 254 ? wv : throw new ConfigException($"{where}.forwarders.{w.Name}: weight must be 0..254");
            weights.Add((fwd, weight));
        }
        return new GroupConfig(vip, (ushort)gid, mode, copy, Enabled: true, SlotTable.FromWeights(weights, slots));
    }

    private static (FlowKey, FlowAction) Flow(JsonElement e, string where, DataplaneGeometry geometry)
    {
        string protoText = Str(e, "proto", where, "tcp");
        byte proto = protoText switch
        {
            "tcp" => 6,
            "udp" => 17,
            "icmp" => 1,
            _ => byte.TryParse(protoText, NumberStyles.None, CultureInfo.InvariantCulture, out byte b) ? b : throw new ConfigException($"{where}.proto: '{protoText}' is not tcp, udp, icmp or a number"),
        };
        var key = new FlowKey((byte)Int(e, "inPort", where, 0, 1), Ip(e, "src", where), Ip(e, "dst", where), proto,
            (ushort)Int(e, "sport", where, 0, 65535, 0), (ushort)Int(e, "dport", where, 0, 65535, 0));
        string natText = Str(e, "nat", where, "none");
        NatMode nat = natText switch
        {
            "none" => NatMode.None,
            "dst" => NatMode.Destination,
            "src" => NatMode.Source,
            _ => throw new ConfigException($"{where}.nat: '{natText}' is not none, dst or src"),
        };
        var action = new FlowAction((byte)Int(e, "nextHop", where, 0, geometry.NextHops - 1),
            e.TryGetProperty("ttlDec", out var t) && t.ValueKind == JsonValueKind.True, nat,
            nat == NatMode.None ? 0 : Ip(e, "natIp", where), (ushort)Int(e, "natPort", where, 0, 65535, 0));
        return (key, action);
    }

    private static string Str(JsonElement e, string name, string where, string? fallback = null)
    {
        if (e.TryGetProperty(name, out var v))
            return v.ValueKind == JsonValueKind.String ? v.GetString()! : throw new ConfigException($"{where}.{name}: must be a string");
        return fallback ?? throw new ConfigException($"{where}.{name}: missing");
    }

    private static int Int(JsonElement e, string name, string where, int min, int max, int? fallback = null)
    {
        if (!e.TryGetProperty(name, out var v))
            return fallback ?? throw new ConfigException($"{where}.{name}: missing");
        if (!v.TryGetInt32(out int i) || i < min || i > max)
            throw new ConfigException($"{where}.{name}: must be a whole number from {min} to {max}");
        return i;
    }

    private static uint Ip(JsonElement e, string name, string where)
    {
        string s = Str(e, name, where);
        if (!IPAddress.TryParse(s, out var ip) || ip.AddressFamily != System.Net.Sockets.AddressFamily.InterNetwork)
            throw new ConfigException($"{where}.{name}: '{s}' is not an IPv4 address");
        Span<byte> b = stackalloc byte[4];
        ip.TryWriteBytes(b, out _);
        return System.Buffers.Binary.BinaryPrimitives.ReadUInt32BigEndian(b);
    }

    private static MacAddress Mac(JsonElement e, string name, string where) => ParseMac(Str(e, name, where), $"{where}.{name}");

    private static MacAddress ParseMac(string? s, string where)
    {
        try
        {
            return MacAddress.Parse(s ?? "");
        }
        catch (FormatException)
        {
            throw new ConfigException($"{where}: '{s}' is not a MAC address");
        }
    }
}

public sealed class ConfigException(string message) : Exception(message);

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
