using System.Text.Json.Nodes;

namespace Offload.Cli.Lab;

/// <summary>Builds the lab's namespaces, bridges and veths with iproute2, starts its processes, and removes it all.</summary>
internal static class LabNetwork
{
    /// <summary>Lab namespaces that exist now (this run's, or what a crashed or killed run left).</summary>
    public static List<string> Existing()
    {
        var (code, output, _) = Sh.TryRun(TimeSpan.FromSeconds(10), "ip", "netns", "list");
        if (code != 0)
            return [];
        return output.Split('\n', StringSplitOptions.RemoveEmptyEntries)
            .Select(l => l.Split(' ')[0])
            .Where(n => n.StartsWith(LabPlan.Prefix, StringComparison.Ordinal))
            .ToList();
    }

    /// <summary>
    /// Why namespaces cannot be made here, in one line, or null when they can: the lab needs root (or CAP_SYS_ADMIN and
    /// CAP_NET_ADMIN), iproute2, and a kernel that allows new network namespaces.
    /// </summary>
    public static string? CannotRun()
    {
        if (!OperatingSystem.IsLinux())
            return "the lab needs Linux network namespaces";
        if (Environment.UserName != "root")
            return "the lab needs root (network namespaces, veths, raw sockets)";
        // Outside the lab's prefix, so a probe is never taken for a lab's leftovers.
        var probe = $"offload-probe-{Environment.ProcessId}";
        var (code, _, error) = Sh.TryRun(TimeSpan.FromSeconds(10), "ip", "netns", "add", probe);
        if (code != 0)
            return $"cannot make a network namespace here: {error.Trim().Split('\n')[0]}";
        Sh.TryRun(TimeSpan.FromSeconds(10), "ip", "netns", "del", probe);
        return null;
    }

    public static void Up(LabPlan plan, Action<string> say)
    {
        var left = Existing();
        if (left.Count > 0)
            throw new LabException($"leftovers of an earlier lab: {string.Join(", ", left)} (offload lab down removes them)");
        Directory.CreateDirectory(plan.Directory);
        Directory.CreateDirectory(Path.Combine(plan.Directory, "nginx-tmp"));
        try
        {
            Build(plan, say);
            var pids = Start(plan, say);
            for (int k = 1; k <= plan.Gateways; k++)
                WaitReady(plan, k, pids[LabPlan.GatewayName(k)]);
            say($"{plan.Gateways} gateways answer on their local APIs");
            plan.Save(new LabState(plan.Hosts, plan.Gateways, plan.Backends, plan.HelloMs, plan.HoldMs, plan.Directory, pids));
        }
        catch
        {
            Down(plan.Directory, _ => { });
            throw;
        }
    }

    /// <summary>
    /// The namespaces, bridges and veths. With <paramref name="kernelGateways"/> the gateways are Linux routers instead of
    /// Offload (their kernel holds 10.0.0.1k on p0 and forwards), for the peers the benchmark runs in Offload's place.
    /// </summary>
    public static void Build(LabPlan plan, Action<string> say, bool kernelGateways = false)
    {
        foreach (var ns in plan.Namespaces())
        {
            Sh.Run("ip", "netns", "add", ns);
            Sh.Run("ip", "-n", ns, "link", "set", "lo", "up");
            // IPv6 autoconfiguration would put router solicitations and DAD on the segment the capture checks.
            Sh.Run("ip", "netns", "exec", ns, "sysctl", "-qw", "net.ipv6.conf.all.disable_ipv6=1", "net.ipv6.conf.default.disable_ipv6=1");
        }
        say($"{plan.Namespaces().Count()} network namespaces");

        // The switch: two learning bridges. Multicast snooping off, so GLBP's 224.0.0.102 reaches every port as on a plain switch.
        foreach (var br in (string[])["br0", "br1"])
        {
            Sh.Run("ip", "-n", LabPlan.Switch, "link", "add", br, "type", "bridge", "mcast_snooping", "0");
            Sh.Run("ip", "-n", LabPlan.Switch, "link", "set", br, "up");
        }

        for (int i = 1; i <= plan.Hosts; i++)
        {
            var ns = LabPlan.HostNs(i);
            Plug($"h{i}", "br0", ns, "eth0", LabPlan.HostMac(i));
            Sh.Run("ip", "-n", ns, "addr", "add", $"{LabPlan.HostIp(i)}/24", "dev", "eth0");
            Sh.Run("ip", "-n", ns, "route", "add", "default", "via", LabPlan.VirtualIp);
        }
        for (int k = 1; k <= plan.Gateways; k++)
        {
            var ns = LabPlan.GatewayNs(k);
            Plug(LabPlan.SwitchPortOf(k), "br0", ns, "p0", null);
            Plug($"g{k}p1", "br1", ns, "p1", null);
            Sh.Run("ip", "-n", ns, "addr", "add", $"{LabPlan.GatewayBackendIp(k)}/24", "dev", "p1");
            if (kernelGateways)
            {
                Sh.Run("ip", "-n", ns, "addr", "add", $"{LabPlan.GatewayIp(k)}/24", "dev", "p0");
                // HAProxy binds the service address before keepalived gives it to this box.
                Sh.Run("ip", "netns", "exec", ns, "sysctl", "-qw", "net.ipv4.ip_forward=1", "net.ipv4.ip_nonlocal_bind=1");
            }
        }
        for (int j = 1; j <= plan.Backends; j++)
        {
            var ns = LabPlan.BackendNs(j);
            Plug($"b{j}", "br1", ns, "eth0", LabPlan.BackendMac(j));
            Sh.Run("ip", "-n", ns, "addr", "add", $"{LabPlan.BackendIp(j)}/24", "dev", "eth0");
            // Direct server return: the service address is the backend's own (on lo) but it must not answer ARP for it.
            Sh.Run("ip", "-n", ns, "addr", "add", $"{LabPlan.ServiceIp}/32", "dev", "lo");
            Sh.Run("ip", "netns", "exec", ns, "sysctl", "-qw", "net.ipv4.conf.all.arp_ignore=1", "net.ipv4.conf.all.arp_announce=2");
            Sh.Run("ip", "-n", ns, "route", "add", "default", "via", "10.1.0.254");
        }
        Plug("r0", "br1", LabPlan.Router, "eth0", null);
        Plug("r1", "br0", LabPlan.Router, "eth1", null);
        Sh.Run("ip", "-n", LabPlan.Router, "addr", "add", "10.1.0.254/24", "dev", "eth0");
        Sh.Run("ip", "-n", LabPlan.Router, "addr", "add", "10.0.0.254/24", "dev", "eth1");
        Sh.Run("ip", "netns", "exec", LabPlan.Router, "sysctl", "-qw", "net.ipv4.ip_forward=1", "net.ipv4.conf.all.rp_filter=0");
        say($"segment br0: {plan.Hosts} hosts, {plan.Gateways} gateways; backend bridge br1: {plan.Backends} backends and their router");
    }

    // A veth from the switch's bridge into a namespace.
    private static void Plug(string switchSide, string bridge, string ns, string inside, string? mac)
    {
        Sh.Run("ip", "-n", LabPlan.Switch, "link", "add", switchSide, "type", "veth", "peer", "name", inside, "netns", ns);
        Sh.Run("ip", "-n", LabPlan.Switch, "link", "set", switchSide, "master", bridge, "up");
        if (mac is not null)
            Sh.Run("ip", "-n", ns, "link", "set", inside, "address", mac);
        // A wire carries whole checksums; a veth hands frames on with the TCP/UDP checksum left for the receiver to fill in
        // (checksum offload), which the model would forward as they are and the next kernel would drop. Hosts compute
        // their checksums as a NIC would put them on the wire.
        Sh.Run("ip", "netns", "exec", ns, "ethtool", "-K", inside, "tx", "off");
        Sh.Run("ip", "-n", ns, "link", "set", inside, "up");
    }

    private static Dictionary<string, int> Start(LabPlan plan, Action<string> say)
    {
        var pids = new Dictionary<string, int>();
        File.WriteAllText(Path.Combine(plan.Directory, "agent.key"), LabPlan.AgentKey);
        for (int j = 1; j <= plan.Backends; j++)
        {
            var name = LabPlan.BackendName(j);
            var conf = Path.Combine(plan.Directory, $"{name}.nginx.conf");
            File.WriteAllText(conf, plan.NginxConfig(j));
            pids[$"{name}.nginx"] = Sh.StartIn(LabPlan.BackendNs(j), plan.LogPath($"{name}.nginx"), "nginx", "-c", conf, "-g", "daemon off;");
            var agent = new List<string> { "agent", "--id", name, "--key-file", Path.Combine(plan.Directory, "agent.key"), "--interval", "500ms" };
            for (int k = 1; k <= plan.Gateways; k++)
                agent.AddRange(["--gateway", $"{LabPlan.GatewayBackendIp(k)}:7380"]);
            pids[$"{name}.agent"] = StartOffload(LabPlan.BackendNs(j), plan.LogPath($"{name}.agent"), agent);
        }
        for (int k = 1; k <= plan.Gateways; k++)
            pids[LabPlan.GatewayName(k)] = StartGateway(plan, k);
        say($"started {plan.Backends} nginx backends with offload agents and {plan.Gateways} gateway daemons (logs in {plan.Directory})");
        return pids;
    }

    /// <summary>Starts gateway k's daemon (its config written first); returns its pid.</summary>
    public static int StartGateway(LabPlan plan, int k)
    {
        var path = plan.GatewayConfigPath(k);
        File.WriteAllText(path, plan.GatewayConfig(k).ToJsonString(LabJson.Options));
        return StartOffload(LabPlan.GatewayNs(k), plan.LogPath(LabPlan.GatewayName(k)), ["run", "--config", path]);
    }

    /// <summary>Waits until gateway k's API answers; a gateway that exits first is reported with the last line it logged.</summary>
    public static void WaitReady(LabPlan plan, int k, int pid)
    {
        using var ns = new NetnsSockets(LabPlan.GatewayNs(k));
        using var client = ns.HttpClient(TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(2), keepAlive: false);
        var until = DateTime.UtcNow.AddSeconds(90);
        while (ApiAsync(client, "/api/glbp", CancellationToken.None).GetAwaiter().GetResult() is null)
        {
            if (!Sh.Alive(pid))
            {
                var log = plan.LogPath(LabPlan.GatewayName(k));
                var last = File.Exists(log) ? File.ReadLines(log).Where(l => l.Trim().Length > 0).TakeLast(3) : [];
                throw new LabException($"gateway g{k} exited: {string.Join(" / ", last.Select(l => l.Trim()))} ({log})");
            }
            if (DateTime.UtcNow > until)
                throw new LabException($"gateway g{k} did not answer its API within 90 s ({plan.LogPath(LabPlan.GatewayName(k))})");
            Thread.Sleep(100);
        }
    }

    /// <summary>This same CLI, in a namespace: the installed apphost, or dotnet with this assembly.</summary>
    private static int StartOffload(string ns, string log, IEnumerable<string> args)
    {
        var self = Environment.ProcessPath ?? "dotnet";
        var program = Path.GetFileNameWithoutExtension(self) == "dotnet" ? [self, typeof(LabNetwork).Assembly.Location] : new[] { self };
        return Sh.StartIn(ns, log, program[0], [.. program[1..], .. args]);
    }

    /// <summary>Every process in a lab namespace (ip netns pids).</summary>
    public static List<int> PidsIn(string ns)
    {
        var (code, output, _) = Sh.TryRun(TimeSpan.FromSeconds(10), "ip", "netns", "pids", ns);
        if (code != 0)
            return [];
        return output.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(int.Parse).ToList();
    }

    public static void Kill(int pid)
    {
        try
        {
            using var p = System.Diagnostics.Process.GetProcessById(pid);
            p.Kill();
        }
        catch (Exception e) when (e is ArgumentException or InvalidOperationException or System.ComponentModel.Win32Exception)
        {
            // Already gone.
        }
    }

    /// <summary>Removes every lab namespace (and so every veth and bridge) after killing what runs in them; returns what it removed.</summary>
    public static List<string> Down(string directory, Action<string> say)
    {
        var removed = new List<string>();
        foreach (var ns in Existing())
        {
            foreach (var pid in PidsIn(ns))
                Kill(pid);
            removed.Add(ns);
        }
        // A process just killed may hold its namespace a moment longer; ip netns del only unmounts it, which is enough.
        foreach (var ns in removed)
            Sh.TryRun(TimeSpan.FromSeconds(10), "ip", "netns", "del", ns);
        var state = Path.Combine(directory, "state.json");
        if (File.Exists(state))
            File.Delete(state);
        say(removed.Count == 0 ? "no lab namespaces were left" : $"removed {removed.Count} namespaces: {string.Join(' ', removed)}");
        return removed;
    }

    /// <summary>Gateway k's GLBP view from its API (inside its namespace), or null when it does not answer.</summary>
    public static async Task<JsonNode?> ApiAsync(HttpClient client, string path, CancellationToken ct)
    {
        try
        {
            using var response = await client.GetAsync(new Uri($"http://127.0.0.1:9480{path}"), ct).ConfigureAwait(false);
            if (!response.IsSuccessStatusCode)
                return null;
            return JsonNode.Parse(await response.Content.ReadAsStringAsync(ct).ConfigureAwait(false));
        }
        catch (Exception e) when (e is HttpRequestException or TaskCanceledException or System.Text.Json.JsonException or IOException)
        {
            return null;
        }
    }
}
