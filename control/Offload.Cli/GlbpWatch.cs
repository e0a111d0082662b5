using System.Globalization;
using System.Net.Sockets;
using System.Runtime.InteropServices;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Offload.Group.Observer;
using Offload.Protocol;
using Offload.Protocol.Glbp;
using Offload.Protocol.Pcap;
using Spectre.Console;

namespace Offload.Cli;

/// <summary>
/// `offload glbp watch`: a passive GLBP observer over a capture file or a live interface, showing what a network
/// engineer would otherwise read from `show glbp` on each router: roles, forwarders, timers, and every change.
/// </summary>
internal static partial class GlbpWatch
{
    private static readonly JsonSerializerOptions Indented = new() { WriteIndented = true };

    public static int Run(FileInfo? pcap, string? iface, bool json, string? key, int? seconds)
    {
        if ((pcap is null) == (iface is null))
            throw new ConfigException("glbp watch: give either --pcap FILE or --interface IF");
        if (seconds is not null && iface is null)
            throw new ConfigException("glbp watch: --seconds only applies to --interface");
        if (seconds is <= 0)
            throw new ConfigException($"glbp watch: --seconds {seconds}: give a positive number");
        if (key is { Length: 0 })
            throw new ConfigException("glbp watch: --key is empty");
        byte[]? keyBytes = key is null ? null : Encoding.UTF8.GetBytes(key);
        IAnsiConsole console = AnsiConsole.Console;
        // Piped into a file or grep, a log line must stay one line: Spectre would wrap it at 80 columns.
        if (Console.IsOutputRedirected)
            console.Profile.Width = 240;
        if (pcap is not null)
            return RunCapture(pcap, json, keyBytes, console, Console.Out);

        using var stop = new CancellationTokenSource();
        // Ctrl-C and SIGTERM end the watch normally, so the final view is still printed.
        using var sigint = PosixSignalRegistration.Create(PosixSignal.SIGINT, c => { c.Cancel = true; stop.Cancel(); });
        using var sigterm = PosixSignalRegistration.Create(PosixSignal.SIGTERM, c => { c.Cancel = true; stop.Cancel(); });
        return RunLive(iface!, json, keyBytes, seconds, console, Console.Out, Console.Error, stop.Token);
    }

    /// <summary>
    /// Reads the whole capture before printing anything, so a bad file ends in one error line and no partial
    /// output.
    /// </summary>
    public static int RunCapture(FileInfo pcap, bool json, byte[]? key, IAnsiConsole console, TextWriter output)
    {
        var watch = ReadCapture(pcap, key);
        if (json)
        {
            output.WriteLine(Document(watch).ToJsonString(Indented));
            return 0;
        }
        console.MarkupLine(Markup.Escape(watch.Summary()));
        PrintChanges(console, watch.Observer.Changes);
        PrintView(console, watch);
        return 0;
    }

    public static Watch ReadCapture(FileInfo pcap, byte[]? key)
    {
        if (Directory.Exists(pcap.FullName))
            throw new ConfigException($"{pcap.FullName}: is a directory, not a capture file");
        if (!pcap.Exists)
            throw new ConfigException($"{pcap.FullName}: no such file");
        var watch = new Watch(pcap.Name, key);
        using var reader = PcapReader.Open(pcap.FullName);
        while (reader.TryRead(out PcapPacket p))
        {
            if (p.LinkType != LinkType.Ethernet)
                throw new ConfigException($"{pcap.FullName}: link type {p.LinkType} is not Ethernet (1); GLBP is read from Ethernet captures only");
            watch.Frame(p.TimestampNanoseconds, p.Data.Span, cut: p.Data.Length < p.OriginalLength);
        }
        // On stderr, so --json output stays one document.
        if (reader.Warning is { } cut)
            Console.Error.WriteLine($"offload: warning: {cut}");
        return watch;
    }

    public static int RunLive(string iface, bool json, byte[]? key, int? seconds, IAnsiConsole console, TextWriter output, TextWriter status, CancellationToken stop)
    {
        using Socket socket = PacketSocket.Open(iface);
        var watch = new Watch($"interface {iface}", key);
        long deadline = seconds is int s ? Environment.TickCount64 + (s * 1000L) : long.MaxValue;
        // Scripts wait for this line before they send; it goes to stderr so --json stays clean.
        status.WriteLine(seconds is int n
            ? $"offload: watching GLBP on {iface} for {n} s"
            : $"offload: watching GLBP on {iface}; Ctrl-C to stop");
        status.Flush();
        var buffer = new byte[65536];
        int reported = 0;
        while (!stop.IsCancellationRequested && Environment.TickCount64 < deadline)
        {
            // Poll in short steps so silence is noticed, and Ctrl-C or the deadline honoured, with no traffic.
            if (socket.Poll(TimeSpan.FromMilliseconds(100), SelectMode.SelectRead))
            {
                int length;
                try
                {
                    length = socket.Receive(buffer);
                }
                catch (SocketException e)
                {
                    throw new ConfigException($"receiving on {iface}: {e.Message}");
                }
                watch.Frame(Now(), buffer.AsSpan(0, length), cut: false);
            }
            watch.Observer.Advance(Now());
            var changes = watch.Observer.Changes;
            for (; reported < changes.Count; reported++)
            {
                if (json)
                    output.WriteLine(new JsonObject { ["change"] = Change(changes[reported]) }.ToJsonString());
                else
                    PrintChanges(console, [changes[reported]]);
            }
            output.Flush();
        }
        if (json)
        {
            output.WriteLine(Document(watch).ToJsonString());
            return 0;
        }
        console.MarkupLine(Markup.Escape(watch.Summary()));
        PrintView(console, watch);
        return 0;
    }

    private static long Now() => (TimeProvider.System.GetUtcNow() - DateTimeOffset.UnixEpoch).Ticks * 100;

    public static void PrintChanges(IAnsiConsole console, IEnumerable<GlbpChange> changes)
    {
        foreach (GlbpChange c in changes)
        {
            string colour = c.Kind switch
            {
                GlbpChangeKind.MemberSilent or GlbpChangeKind.AuthenticationFailed => "red",
                GlbpChangeKind.MemberState or GlbpChangeKind.ForwarderOwner => "yellow",
                _ => "default",
            };
            console.MarkupLine($"[grey]{GlbpText.Time(c.TimestampNanoseconds)}[/]  Grp {c.Group,-4} [{colour}]{Markup.Escape(c.Text)}[/]");
        }
    }

    /// <summary>The final state in the shape of Cisco's `show glbp`, one block per group.</summary>
    public static void PrintView(IAnsiConsole console, Watch watch)
    {
        GroupObserver o = watch.Observer;
        if (o.Groups.Count == 0)
            console.MarkupLine("No GLBP group heard.");
        foreach (ObservedGroup g in o.Groups)
        {
            console.WriteLine();
            console.MarkupLine($"[bold]Group {g.Number}[/]");
            var lines = new List<string>
            {
                $"Virtual IP address is {g.VirtualIp ?? "unknown (no Hello heard)"}",
            };
            if (g.Timers is GlbpTimers t)
            {
                lines.Add($"Hello time {GlbpText.Seconds(t.HelloMs)} sec, hold time {GlbpText.Seconds(t.HoldMs)} sec");
                lines.Add($"Redirect time {t.RedirectSeconds} sec, forwarder time-out {t.TimeoutSeconds} sec");
            }
            lines.Add($"Authentication {GlbpText.Auth(g.Authentication)}{Unverified(g, watch.Observer)}");
            if (g.VirtualLinkLocal is { } linkLocal)
                lines.Add($"GLBP over IPv6; virtual link-local address is {linkLocal}");
            lines.Add($"Active is {Leader(g.Active)}");
            lines.Add($"Standby is {Leader(g.Standby)}");
            foreach (string line in lines)
                console.MarkupLine("  " + Markup.Escape(line));

            var members = new Table().AddColumns("Member", "MAC", "Sends from", "State", "Priority", "Hello/hold", "Last heard", "Messages");
            foreach (ObservedMember m in g.Members)
            {
                string state = m.IsSilent ? $"[red]silent[/] (was {GlbpText.State(m.State)})" : GlbpText.State(m.State);
                string timers = m.Timers is GlbpTimers mt ? $"{GlbpText.Seconds(mt.HelloMs)}/{GlbpText.Seconds(mt.HoldMs)} s" : "-";
                members.AddRow(Markup.Escape(m.Address), GlbpText.Mac(m.Mac), GlbpText.Mac(m.SourceMac), state, Num(m.Priority), timers,
                    GlbpText.Time(m.LastHeardNanoseconds), m.Messages.ToString(CultureInfo.InvariantCulture));
            }
            console.Write(members);

            var forwarders = g.Forwarders;
            console.MarkupLine($"  There are {forwarders.Count} forwarders ({forwarders.Count(f => f.State == GlbpVfState.Active)} active)");
            var table = new Table().AddColumns("Fwd", "MAC address", "State", "Forwarded by", "Owner", "Owner MAC", "Redirect/time-out left", "Weight", "Listening");
            foreach (ObservedForwarder f in forwarders)
            {
                string by = f.Holder is null ? "-" : f.StandIn ? $"{f.Holder.Address} (secondary)" : $"{f.Holder.Address} (primary)";
                string owner = f.Owner is null ? "unknown" : f.OwnerLive ? f.Owner.Address : $"{f.Owner.Address} (silent)";
                string left = f.RedirectRemaining is ushort r && f.TimeoutRemaining is ushort left2 ? $"{r}/{left2} s" : "-";
                table.AddRow(Num(f.Number), GlbpText.Mac(f.VirtualMac), GlbpText.State(f.State), Markup.Escape(by), Markup.Escape(owner),
                    f.Owner is null ? "-" : GlbpText.Mac(f.Owner.Mac), left, f.Weight is byte w ? Num(w) : "-",
                    f.Listeners.Count == 0 ? "-" : Markup.Escape(string.Join(", ", f.Listeners.Select(m => m.Address))));
            }
            if (forwarders.Count > 0)
                console.Write(table);
        }
        if (o.Malformed.Count > 0)
        {
            console.MarkupLine($"[red]Malformed GLBP messages: {o.Malformed.Values.Sum()}[/] ("
                + Markup.Escape(string.Join("; ", o.Malformed.Select(kv => $"{GlbpResult.Describe(kv.Key)}: {kv.Value}"))) + ")");
        }
        if (o.AuthenticationFailures.Count > 0)
        {
            console.MarkupLine($"[red]Messages failing the key: {o.AuthenticationFailures.Values.Sum()}[/] ("
                + Markup.Escape(string.Join("; ", o.AuthenticationFailures.Select(kv => $"{kv.Key}: {kv.Value}"))) + ")");
        }
    }

    private static string Leader(ObservedMember? m) =>
        m is null ? "unknown" : $"{m.Address}, priority {m.Priority} ({GlbpText.Mac(m.Mac)})";

    /// <summary>Says plainly what was not checked: every message without --key, MD5 over IPv6 even with one.</summary>
    private static string Unverified(ObservedGroup g, GroupObserver o) => g.Unverified == 0 ? ""
        : o.HasKey
            ? $" ({g.Unverified} messages not verified: how Cisco's MD5 digest covers an IPv6 source is not known)"
            : $" (not verified: give --key to check {g.Unverified} messages)";

    private static string Num(byte b) => b.ToString(CultureInfo.InvariantCulture);

    public static JsonObject Document(Watch watch)
    {
        GroupObserver o = watch.Observer;
        return new JsonObject
        {
            ["source"] = watch.Source,
            ["frames"] = watch.Frames,
            ["glbpMessages"] = o.MessagesSeen,
            ["framesCutShort"] = watch.CutShort,
            ["first"] = Time(watch.FirstNanoseconds),
            ["last"] = Time(watch.LastNanoseconds),
            ["groups"] = new JsonArray([.. o.Groups.Select(Group)]),
            ["changes"] = new JsonArray([.. o.Changes.Select(Change)]),
            ["malformed"] = new JsonObject
            {
                ["total"] = o.Malformed.Values.Sum(),
                ["byReason"] = new JsonObject(o.Malformed.Select(kv => KeyValuePair.Create(kv.Key.ToString(), (JsonNode?)kv.Value))),
            },
            ["authenticationFailures"] = new JsonObject(o.AuthenticationFailures.Select(kv => KeyValuePair.Create(kv.Key.ToString(), (JsonNode?)kv.Value))),
        };
    }

    private static JsonObject Group(ObservedGroup g) => new()
    {
        ["group"] = g.Number,
        ["virtualIp"] = g.VirtualIp,
        ["authentication"] = GlbpText.Auth(g.Authentication),
        ["unverifiedMessages"] = g.Unverified,
        ["ipv6"] = g.IsIpv6,
        ["virtualLinkLocal"] = g.VirtualLinkLocal,
        ["timers"] = g.Timers is GlbpTimers t
            ? new JsonObject { ["helloMs"] = t.HelloMs, ["holdMs"] = t.HoldMs, ["redirectSeconds"] = t.RedirectSeconds, ["timeoutSeconds"] = t.TimeoutSeconds }
            : null,
        ["active"] = LeaderJson(g.Active),
        ["standby"] = LeaderJson(g.Standby),
        ["messages"] = g.Messages,
        ["members"] = new JsonArray([.. g.Members.Select(m => (JsonNode)new JsonObject
        {
            ["ip"] = m.Address,
            ["mac"] = GlbpText.Mac(m.Mac),
            ["sourceMac"] = GlbpText.Mac(m.SourceMac),
            ["state"] = GlbpText.State(m.State),
            ["priority"] = m.Priority,
            ["silent"] = m.IsSilent,
            ["silentSince"] = m.SilentSinceNanoseconds is long s ? Time(s) : null,
            ["holdMs"] = m.HoldMs,
            ["firstHeard"] = Time(m.FirstHeardNanoseconds),
            ["lastHeard"] = Time(m.LastHeardNanoseconds),
            ["messages"] = m.Messages,
        })]),
        ["forwarders"] = new JsonArray([.. g.Forwarders.Select(f => (JsonNode)new JsonObject
        {
            ["number"] = f.Number,
            ["vmac"] = GlbpText.Mac(f.VirtualMac),
            ["state"] = f.State is null ? null : GlbpText.State(f.State),
            ["forwardedBy"] = f.Holder?.Address,
            ["standIn"] = f.StandIn,
            ["owner"] = f.Owner?.Address,
            ["ownerMac"] = f.Owner is null ? null : GlbpText.Mac(f.Owner.Mac),
            ["ownerLive"] = f.OwnerLive,
            ["redirectRemainingSeconds"] = f.RedirectRemaining,
            ["timeoutRemainingSeconds"] = f.TimeoutRemaining,
            ["weight"] = f.Weight,
            ["priority"] = f.Priority,
            ["listeners"] = new JsonArray([.. f.Listeners.Select(l => (JsonNode)l.Address)]),
        })]),
    };

    private static JsonObject? LeaderJson(ObservedMember? m) => m is null ? null : new JsonObject
    {
        ["ip"] = m.Address,
        ["mac"] = GlbpText.Mac(m.Mac),
        ["priority"] = m.Priority,
    };

    private static JsonObject Change(GlbpChange c) => new()
    {
        ["time"] = Time(c.TimestampNanoseconds),
        ["group"] = c.Group,
        ["kind"] = c.Kind.ToString(),
        ["member"] = c.Member,
        ["forwarder"] = c.Forwarder,
        ["from"] = c.From,
        ["to"] = c.To,
        ["text"] = c.Text,
    };

    private static string? Time(long? nanoseconds) => nanoseconds is long ns
        ? DateTimeOffset.UnixEpoch.AddTicks(ns / 100).ToString("yyyy-MM-dd'T'HH:mm:ss.fffffff'Z'", CultureInfo.InvariantCulture)
        : null;

    /// <summary>One watch: the observer and what the frames around the GLBP messages looked like.</summary>
    internal sealed class Watch(string source, byte[]? key)
    {
        public string Source { get; } = source;

        public GroupObserver Observer { get; } = new(key);

        public long Frames { get; private set; }

        /// <summary>Frames the capture holds shorter than they were on the wire; a GLBP message in one is lost.</summary>
        public long CutShort { get; private set; }

        public long? FirstNanoseconds { get; private set; }

        public long? LastNanoseconds { get; private set; }

        /// <summary>Anything that is not IPv4 or IPv6 UDP to port 3222 (VLAN-tagged or not) is counted and skipped.</summary>
        public void Frame(long timestampNanoseconds, ReadOnlySpan<byte> frame, bool cut)
        {
            Frames++;
            if (cut)
                CutShort++;
            FirstNanoseconds ??= timestampNanoseconds;
            LastNanoseconds = timestampNanoseconds;
            if (!GlbpFrame.TryRead(frame, out GlbpSource source, out ReadOnlySpan<byte> message))
                return;
            Observer.Observe(timestampNanoseconds, source, message);
        }

        public string Summary()
        {
            string span = FirstNanoseconds is long f && LastNanoseconds is long l
                ? $", {Time(f)} to {Time(l)}"
                : "";
            return $"{Source}: {Frames} frames, {Observer.MessagesSeen} GLBP messages{span}";
        }
    }
}
