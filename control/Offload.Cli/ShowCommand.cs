using System.CommandLine;
using System.Globalization;
using System.Net.Http.Json;
using Offload.Daemon;
using Spectre.Console;

namespace Offload.Cli;

/// <summary>
/// <c>offload show glbp|flows|backends</c>: a thin client of a running daemon's local API, printed the way
/// `show glbp` prints on a router, or as the API's JSON.
/// </summary>
internal static class ShowCommand
{
    public static readonly Uri DefaultApi = new($"http://127.0.0.1:{GatewayConfig.DefaultApiPort}/");

    /// <summary>A router's admin listener by default (<c>offload show routes</c> asks a router, not a gateway).</summary>
    public static readonly Uri DefaultRouterApi = new($"http://127.0.0.1:{Offload.Router.RouterConfig.DefaultAdminPort}/");

    public static Command Create()
    {
        var show = new Command("show", "show a running gateway's or router's state (asks its local API)");
        foreach (var (name, what) in new[] { ("glbp", "GLBP groups and forwarders"), ("flows", "sessions in the flow table"), ("backends", "backends: health, weight, load, sessions"),
            ("routes", "a router's routes and its pools' backends: health, weight, requests in flight") })
        {
            var api = new Option<string?>("--api") { Description = name == "routes" ? $"the router's admin listener (default {DefaultRouterApi})" : $"the daemon's API (default {DefaultApi}; or unix:/path/to.sock)" };
            var json = new Option<bool>("--json") { Description = "print the API's JSON instead of a table" };
            var limit = new Option<int>("--limit") { Description = "flows: how many to list", DefaultValueFactory = _ => 50 };
            var command = new Command(name, what) { api, json };
            if (name == "flows")
                command.Options.Add(limit);
            command.SetAction(r => Cli.Guard(() => Run(name, r.GetValue(api), r.GetValue(json), name == "flows" ? r.GetValue(limit) : 0, Console.Out)));
            show.Subcommands.Add(command);
        }
        return show;
    }

    /// <summary>Queries the API and prints; 2 for bad arguments, 1 when the daemon cannot be reached.</summary>
    public static int Run(string what, string? api, bool json, int limit, TextWriter output)
    {
        ArgumentNullException.ThrowIfNull(output);
        Uri baseUri = what == "routes" ? DefaultRouterApi : DefaultApi;
        if (api is not null && api.StartsWith(Daemon.ApiEndPoint.UnixPrefix, StringComparison.Ordinal))
        {
            if (!Daemon.ApiEndPoint.TryParse(api, out _, out string? why))
            {
                Console.Error.WriteLine($"offload: --api {why}");
                return 2;
            }
            baseUri = new Uri(api, UriKind.Absolute);
        }
        else if (api is not null && (!Uri.TryCreate(api.EndsWith('/') ? api : api + "/", UriKind.Absolute, out baseUri!) || baseUri.Scheme != Uri.UriSchemeHttp))
        {
            Console.Error.WriteLine($"offload: --api '{api}' is not an http:// URL such as {DefaultApi}, or unix:/path/to.sock");
            return 2;
        }
        if (limit is < 0 or > 100_000)
        {
            Console.Error.WriteLine($"offload: --limit {limit}: give 0..100000");
            return 2;
        }
        string path = what switch
        {
            "glbp" => "api/glbp",
            "flows" => string.Create(CultureInfo.InvariantCulture, $"api/flows?limit={limit}"),
            "backends" => "api/backends",
            "routes" => "api/routes",
            _ => throw new ArgumentException($"nothing to show called '{what}'", nameof(what)),
        };
        using var http = Client(baseUri);
        string body;
        try
        {
            using var response = http.GetAsync(new Uri(path, UriKind.Relative)).GetAwaiter().GetResult();
            body = response.Content.ReadAsStringAsync().GetAwaiter().GetResult();
            if (!response.IsSuccessStatusCode)
            {
                Console.Error.WriteLine($"offload: the API at {baseUri} answered {(int)response.StatusCode}: {body.Trim()}");
                return 1;
            }
        }
        catch (Exception e) when (e is HttpRequestException or TaskCanceledException)
        {
            Console.Error.WriteLine(what == "routes"
                ? $"offload: cannot reach the router's admin listener at {baseUri} ({e.Message}); is `offload router` running?"
                : $"offload: cannot reach the gateway's API at {baseUri} ({e.Message}); is `offload run` running?");
            return 1;
        }
        if (json)
        {
            output.WriteLine(body);
            return 0;
        }
        var console = AnsiConsole.Create(new AnsiConsoleSettings
        {
            Out = new AnsiConsoleOutput(output),
            Ansi = AnsiSupport.No,
            ColorSystem = ColorSystemSupport.NoColors,
        });
        // Written to a pipe or a file the width is unknown; wide enough that addresses never wrap.
        console.Profile.Width = Math.Max(console.Profile.Width, 160);
        switch (what)
        {
            case "glbp":
                PrintGlbp(console, System.Text.Json.JsonSerializer.Deserialize<GlbpView>(body, LocalApi.JsonOptions)!);
                break;
            case "flows":
                PrintFlows(console, System.Text.Json.JsonSerializer.Deserialize<FlowsView>(body, LocalApi.JsonOptions)!);
                break;
            case "routes":
                PrintRoutes(console, System.Text.Json.JsonSerializer.Deserialize<Offload.Router.RoutesView>(body, Offload.Router.RoutesView.JsonOptions)!);
                break;
            default:
                PrintBackends(console, System.Text.Json.JsonSerializer.Deserialize<BackendsView>(body, LocalApi.JsonOptions)!);
                break;
        }
        return 0;
    }

    private static string Cisco(string mac) => mac.Length == 17
        ? $"{mac[0..2]}{mac[3..5]}.{mac[6..8]}{mac[9..11]}.{mac[12..14]}{mac[15..17]}"
        : mac;

    private static void PrintGlbp(IAnsiConsole console, GlbpView view)
    {
        foreach (var g in view.Groups)
        {
            console.WriteLine($"{view.Gateway} - Group {g.Group}");
            console.WriteLine($"  State is {g.State}");
            console.WriteLine($"  Virtual IP address is {g.VirtualIp}");
            console.WriteLine($"  Active is {(g.ActiveRouter == view.LocalIp ? "local" : g.ActiveRouter.Length == 0 ? "unknown" : g.ActiveRouter)}");
            console.WriteLine($"  Standby is {(g.StandbyRouter == view.LocalIp ? "local" : g.StandbyRouter.Length == 0 ? "unknown" : g.StandbyRouter)}");
            console.WriteLine($"  Priority {g.Priority}, weighting {g.Weighting}{(g.Forwarding ? "" : " (below threshold: not forwarding)")}");
            console.WriteLine($"  There {(g.Forwarders.Count == 1 ? "is 1 forwarder" : $"are {g.Forwarders.Count} forwarders")} ({g.Members} member(s))");
            var table = new Table().Border(TableBorder.Simple);
            foreach (var c in new[] { "Fwd", "MAC address", "Owner", "State", "Holder", "Weight", "Load (pps)" })
                table.AddColumn(c);
            foreach (var f in g.Forwarders)
            {
                table.AddRow(
                    f.Number.ToString(CultureInfo.InvariantCulture),
                    Cisco(f.Vmac),
                    Markup.Escape(f.Owned ? "local" : Cisco(f.Owner)),
                    Markup.Escape(f.State + (f.Redirected ? " (redirected)" : "")),
                    f.Holder.Length == 0 ? "-" : f.Holder,
                    f.Weighting == 0 ? "-" : f.Weighting.ToString(CultureInfo.InvariantCulture),
                    f.LoadPps is { } l ? l.ToString("0", CultureInfo.InvariantCulture) : "-");
            }
            console.Write(table);
        }
        if (view.Groups.Count == 0)
            console.WriteLine($"{view.Gateway}: no GLBP groups configured");
    }

    private static void PrintFlows(IAnsiConsole console, FlowsView view)
    {
        console.WriteLine($"{view.Gateway}: {view.Sessions} session(s), {view.Entries} of {view.Capacity} flow entries");
        var table = new Table().Border(TableBorder.Simple);
        foreach (var c in new[] { "Client", "Service", "Backend", "State", "vMAC", "From peer" })
            table.AddColumn(c);
        foreach (var f in view.Flows)
            table.AddRow(Markup.Escape(f.Client), Markup.Escape(f.Service), Markup.Escape(f.Backend), f.State, f.Vmac is null ? "-" : Cisco(f.Vmac), f.FromPeer ? "yes" : "no");
        console.Write(table);
    }

    /// <summary>An HTTP client for the API at <paramref name="api"/>: http://host:port/ or unix:/path (HTTP over the socket).</summary>
    public static HttpClient Client(Uri api)
    {
        ArgumentNullException.ThrowIfNull(api);
        if (api.Scheme != "unix")
            return new HttpClient { BaseAddress = api, Timeout = TimeSpan.FromSeconds(10) };
        string path = api.AbsolutePath;
        var handler = new SocketsHttpHandler
        {
            ConnectCallback = async (_, cancel) =>
            {
                var socket = new System.Net.Sockets.Socket(System.Net.Sockets.AddressFamily.Unix, System.Net.Sockets.SocketType.Stream, System.Net.Sockets.ProtocolType.Unspecified);
                try
                {
                    await socket.ConnectAsync(new System.Net.Sockets.UnixDomainSocketEndPoint(path), cancel).ConfigureAwait(false);
                    return new System.Net.Sockets.NetworkStream(socket, ownsSocket: true);
                }
                catch
                {
                    socket.Dispose();
                    throw;
                }
            },
        };
        // The host name is only what the Host header says; the socket decides where the request goes.
        return new HttpClient(handler) { BaseAddress = new Uri("http://localhost/"), Timeout = TimeSpan.FromSeconds(10) };
    }

    private static void PrintBackends(IAnsiConsole console, BackendsView view)
    {
        var table = new Table().Border(TableBorder.Simple);
        foreach (var c in new[] { "Service", "Backend", "Address", "Next hop", "Health", "Agent", "Weight", "Load", "Sessions", "Refused" })
            table.AddColumn(c);
        foreach (var b in view.Backends)
        {
            string hop = b.NextHop is not { } h ? "-" : string.Create(CultureInfo.InvariantCulture, $"{h.Index} {h.Mac ?? "(none)"} {h.Source}");
            table.AddRow(Markup.Escape(b.Service), Markup.Escape(b.Id), string.Create(CultureInfo.InvariantCulture, $"{b.Address}:{b.Port}"), Markup.Escape(hop),
                b.Draining ? "draining" : b.Healthy ? "up" : "down", b.Agent, b.Weight.ToString(CultureInfo.InvariantCulture),
                b.Overload.ToString("0.00", CultureInfo.InvariantCulture), b.Sessions.ToString(CultureInfo.InvariantCulture), Markup.Escape(Refusals(b.AgentRefused)));
        }
        console.WriteLine($"{view.Gateway}: {view.Backends.Count} backend(s)");
        console.Write(table);
        if (view.AgentReportsRefused is { Count: > 0 } all)
            console.WriteLine($"Agent reports refused: {Refusals(all)}");
    }

    private static void PrintRoutes(IAnsiConsole console, Offload.Router.RoutesView view)
    {
        console.WriteLine($"{view.Router}: {view.Routes.Count} route(s) over {view.Pools.Count} pool(s), proxy at {view.Config}, {view.Reloads} reload(s)");
        var routes = new Table().Border(TableBorder.Simple);
        foreach (var c in new[] { "Route", "Hosts", "Path", "Methods", "Headers", "Pool", "Timeout", "Retries" })
            routes.AddColumn(c);
        foreach (var r in view.Routes)
        {
            routes.AddRow(Markup.Escape(r.Id), Markup.Escape(r.Hosts.Count == 0 ? "*" : string.Join(' ', r.Hosts)), Markup.Escape(r.Path ?? "*"),
                r.Methods.Count == 0 ? "*" : string.Join(' ', r.Methods), Markup.Escape(r.Headers.Count == 0 ? "-" : string.Join("; ", r.Headers)), Markup.Escape(r.Pool),
                r.TimeoutMs is { } t ? string.Create(CultureInfo.InvariantCulture, $"{t:0} ms") : "-", r.Retries.ToString(CultureInfo.InvariantCulture));
        }
        console.Write(routes);
        var pools = new Table().Border(TableBorder.Simple);
        foreach (var c in new[] { "Pool", "Balancing", "Backend", "Address", "Weight", "Checks", "Agent", "Load", "In pool", "In flight" })
            pools.AddColumn(c);
        foreach (var p in view.Pools)
        {
            foreach (var b in p.Backends)
            {
                pools.AddRow(Markup.Escape(p.Id), p.LoadBalancing + (p.AffinityCookie is null ? "" : $" + affinity ({Markup.Escape(p.AffinityCookie)})"), Markup.Escape(b.Id), b.Address,
                    b.Weight.ToString(CultureInfo.InvariantCulture), p.Checked ? b.Active.ToLowerInvariant() : "none", b.Agent,
                    b.Load is { } load ? load.ToString("0.00", CultureInfo.InvariantCulture) : "-", b.Available ? "yes" : "no",
                    b.InFlight.ToString(CultureInfo.InvariantCulture));
            }
        }
        console.Write(pools);
    }

    private static string Refusals(IReadOnlyDictionary<string, long>? byReason) =>
        byReason is null ? "" : string.Join(", ", byReason.OrderBy(static r => r.Key, StringComparer.Ordinal).Select(static r => string.Create(CultureInfo.InvariantCulture, $"{r.Key} {r.Value}")));
}
