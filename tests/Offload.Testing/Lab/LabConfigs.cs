using System.Text.Json;
using System.Text.Json.Nodes;
using Offload.Daemon;
using Offload.Device;
using Offload.Protocol;

namespace Offload.Testing.Lab;

/// <summary>
/// Gateway configurations for a lab segment, derived from one example file (examples/gateway.json): the same groups,
/// services, routes and keys, with each gateway's own name, address and MACs, and the other lab gateways as sync peers.
/// </summary>
public static class LabConfigs
{
    public static uint Ip(int n) => Ipv4Address.Parse("10.0.0.10") + (uint)n;

    public static MacAddress Port0Mac(int n) => new(0x020F_0000_0000UL + (ulong)n);

    public static MacAddress Port1Mac(int n) => new(0x020F_0000_0100UL + (ulong)n);

    public static string Name(int n) => $"gw-{(char)('a' + n - 1)}";

    /// <summary>Gateway <paramref name="n"/> (1-based) of <paramref name="gateways"/>, from the example's JSON text.</summary>
    /// <param name="sync">False drops session sync from the configuration (what a takeover is like without it).</param>
    /// <exception cref="GatewayConfigException">The example is not JSON or the derived configuration is invalid.</exception>
    public static GatewayConfig FromExample(string exampleJson, int n, int gateways, int priority, bool sync = true)
    {
        ArgumentNullException.ThrowIfNull(exampleJson);
        ArgumentOutOfRangeException.ThrowIfLessThan(n, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(n, gateways);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(gateways, 26);
        JsonNode? json;
        try
        {
            json = JsonNode.Parse(exampleJson, documentOptions: new JsonDocumentOptions { CommentHandling = JsonCommentHandling.Skip, AllowTrailingCommas = true });
        }
        catch (JsonException e)
        {
            throw new GatewayConfigException("example", [$"$: {e.Message}"]);
        }
        if (json?["gateway"] is not JsonObject gateway || json["groups"] is not JsonArray { Count: > 0 } groups)
            throw new GatewayConfigException("example", ["$: the example has no \"gateway\" section or no \"groups\""]);
        gateway["name"] = Name(n);
        gateway["ip"] = Ipv4Address.Format(Ip(n));
        gateway["port0Mac"] = Port0Mac(n).ToString();
        gateway["port1Mac"] = Port1Mac(n).ToString();
        foreach (var g in groups)
        {
            if (g is JsonObject group)
                group["priority"] = priority;
        }
        var root = json.AsObject();
        if (!sync)
        {
            root.Remove("sync");
        }
        else if (root["sync"] is JsonObject s)
        {
            var peers = new JsonArray();
            for (int p = 1; p <= gateways; p++)
            {
                if (p != n)
                    peers.Add(new JsonObject { ["ip"] = Ipv4Address.Format(Ip(p)), ["mac"] = Port0Mac(p).ToString() });
            }
            s["peers"] = peers;
        }
        // The lab serves no API; port 0 keeps a derived config from claiming the example's fixed port.
        root["api"] = new JsonObject { ["listen"] = "127.0.0.1:0" };
        return GatewayConfig.Parse(root.ToJsonString(), $"example as {Name(n)}");
    }
}
