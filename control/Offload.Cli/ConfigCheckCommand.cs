using System.CommandLine;
using System.Text.Json;
using Offload.Daemon;
using Offload.Device;
using Offload.Router;

namespace Offload.Cli;

/// <summary>
/// <c>offload config check FILE [--kind gateway|router|tables]</c>: validates a config file with the very code the
/// command that reads it uses (<see cref="GatewayConfig.Parse"/>, <see cref="RouterConfig.Parse"/>,
/// <see cref="TablesFile.Parse"/>), without starting anything. Exit 0 when it would run, 2 with one line per problem
/// (its JSON path and what is wrong) when not.
/// </summary>
internal static class ConfigCheckCommand
{
    public enum Kind
    {
        Gateway,
        Router,
        Tables,
    }

    public static Command Create()
    {
        var file = new Argument<FileInfo>("FILE") { Description = "the config file to check" };
        var kind = new Option<string?>("--kind") { Description = "gateway, router or tables; default: told by the file's top-level keys" };
        var check = new Command("check", "validate a config file (gateway, router or tables) without starting anything: exit 0, or 2 with the JSON path of each problem")
        {
            file, kind,
        };
        check.SetAction(r => Cli.Guard(() => Run(r.GetValue(file)!, r.GetValue(kind), Console.Out, Console.Error)));
        return new Command("config", "config files") { check };
    }

    public static int Run(FileInfo file, string? kindText, TextWriter output, TextWriter error)
    {
        ArgumentNullException.ThrowIfNull(file);
        ArgumentNullException.ThrowIfNull(output);
        ArgumentNullException.ThrowIfNull(error);
        Kind? asked = kindText?.ToLowerInvariant() switch
        {
            null => null,
            "gateway" => Kind.Gateway,
            "router" => Kind.Router,
            "tables" => Kind.Tables,
            _ => (Kind)(-1),
        };
        if (asked is { } k && !Enum.IsDefined(k))
        {
            error.WriteLine($"offload: --kind '{kindText}': give gateway, router or tables");
            return 2;
        }
        string path = file.FullName;
        string text;
        try
        {
            text = BoundedFile.ReadAllText(path);
        }
        catch (InputFileException e)
        {
            error.WriteLine($"offload: cannot read the configuration file {e.Message}");
            return 2;
        }
        Kind kind;
        if (asked is { } given)
        {
            kind = given;
        }
        else if (Detect(text, out string? notJson) is { } found)
        {
            kind = found;
        }
        else if (notJson is not null)
        {
            error.WriteLine($"offload: {path}: {notJson}");
            error.WriteLine($"offload: {path}: 1 problem(s); not a valid config of any kind");
            return 2;
        }
        else
        {
            error.WriteLine($"offload: {path}: cannot tell which kind of config this is (a gateway config has \"gateway\", a router config \"router\", " +
                "a tables file \"ports\", \"vmacs\", \"nextHops\" or \"flows\"): give --kind gateway|router|tables");
            return 2;
        }
        string name = kind.ToString().ToLowerInvariant();
        try
        {
            string summary;
            IReadOnlyList<string> warnings = [];
            switch (kind)
            {
                case Kind.Gateway:
                    var g = GatewayConfig.Parse(text, path);
                    warnings = g.Warnings;
                    summary = $"{g.Groups.Count} group(s), {g.Services.Count} service(s), {g.Routes.Count} route(s), sync {(g.Sync is null ? "off" : $"to {g.Sync.Peers.Count} peer(s)")}";
                    break;
                case Kind.Router:
                    var r = RouterConfig.Parse(text, path);
                    summary = $"{r.Pools.Count} pool(s), {r.Routes.Count} route(s)";
                    break;
                default:
                    // The tables file is checked against the model's default geometry, what `offload sim` builds.
                    var t = TablesFile.Parse(text, new DataplaneGeometry(), path);
                    summary = $"{t.Flows.Count} flow(s)";
                    break;
            }
            foreach (string w in warnings)
                error.WriteLine($"offload: warning: {path}: {w}");
            output.WriteLine($"offload: {path}: a valid {name} config ({summary})");
            return 0;
        }
        catch (ConfigFileException e)
        {
            foreach (string problem in e.Problems)
                error.WriteLine($"offload: {path}: {problem}");
            error.WriteLine($"offload: {path}: {e.Problems.Count} problem(s); not a valid {name} config");
            return 2;
        }
        catch (Exception e) when (e is ConfigException or JsonException)
        {
            error.WriteLine($"offload: {path}: {(e is JsonException j ? GatewayConfig.Plain(j) : e.Message)}");
            error.WriteLine($"offload: {path}: 1 problem(s); not a valid {name} config");
            return 2;
        }
    }

    /// <summary>The kind of config the top-level keys say, or null when they say none or several (or it is not JSON: then <paramref name="notJson"/> says where).</summary>
    public static Kind? Detect(string json, out string? notJson)
    {
        notJson = null;
        try
        {
            using var doc = JsonDocument.Parse(json, new JsonDocumentOptions { CommentHandling = JsonCommentHandling.Skip, AllowTrailingCommas = true });
            if (doc.RootElement.ValueKind != JsonValueKind.Object)
            {
                notJson = "$: the file holds no configuration object";
                return null;
            }
            var keys = doc.RootElement.EnumerateObject().Select(p => p.Name.ToLowerInvariant()).ToHashSet(StringComparer.Ordinal);
            var kinds = new List<Kind>();
            if (keys.Contains("gateway"))
                kinds.Add(Kind.Gateway);
            if (keys.Contains("router") || keys.Contains("pools"))
                kinds.Add(Kind.Router);
            if (keys.Overlaps(["ports", "vmacs", "nexthops", "flows", "syncport"]))
                kinds.Add(Kind.Tables);
            return kinds.Count == 1 ? kinds[0] : null;
        }
        catch (JsonException e)
        {
            notJson = GatewayConfig.Plain(e);
            return null;
        }
    }
}
