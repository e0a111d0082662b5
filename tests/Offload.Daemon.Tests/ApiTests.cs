using System.Net;
using System.Net.Http.Json;
using System.Text.RegularExpressions;
using Microsoft.Extensions.Logging.Abstractions;
using Offload.Device;
using Offload.Protocol;
using static Offload.Daemon.Tests.DaemonRig;

namespace Offload.Daemon.Tests;

/// <summary>The local API over loopback: a converged gateway with one connection, read back through HTTP.</summary>
[NonParallelizable]
[Category("Model")]
public partial class ApiTests
{
    private DaemonRig _rig = null!;
    private Node _a = null!;
    private LocalApi _api = null!;
    private HttpClient _http = null!;

    [SetUp]
    public void SetUp()
    {
        _rig = new DaemonRig();
        _a = _rig.Add(ExampleAs(1, priority: 110));
        _a.Gateway.Start();
        _rig.Run(TimeSpan.FromSeconds(8));
        _api = new LocalApi(_a.Gateway, new IPEndPoint(IPAddress.Loopback, 0), NullLoggerFactory.Instance);
        _api.Start();
        _http = new HttpClient { BaseAddress = _api.BaseAddress, Timeout = TimeSpan.FromSeconds(30) };
        // One connection through the gateway: a miss, an install, then a hit.
        _rig.FromClient(ClientTcp(1, _a.OwnVmac, TcpFlags.Syn));
        _rig.FromClient(ClientTcp(1, _a.OwnVmac, TcpFlags.Ack, payload: 10));
    }

    [TearDown]
    public void TearDown()
    {
        _http.Dispose();
        _api.Dispose();
        _rig.Dispose();
    }

    [GeneratedRegex(@"^(?<name>[a-z_]+)\{(?<labels>[^}]*)\} (?<value>\S+)$", RegexOptions.Multiline)]
    private static partial Regex SampleLine();

    private static double Sample(string text, string name, params string[] labels)
    {
        var hits = SampleLine().Matches(text).Where(m => m.Groups["name"].Value == name && labels.All(l => m.Groups["labels"].Value.Contains(l, StringComparison.Ordinal))).ToList();
        Assert.That(hits, Has.Count.EqualTo(1), $"one sample {name}{{{string.Join(",", labels)}}}");
        return double.Parse(hits[0].Groups["value"].Value, System.Globalization.CultureInfo.InvariantCulture);
    }

    [Test]
    public async Task Metrics_are_served_in_prometheus_text_format_with_the_gateways_numbers()
    {
        using var response = await _http.GetAsync(new Uri("metrics", UriKind.Relative));
        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.OK));
        Assert.That(response.Content.Headers.ContentType!.MediaType, Is.EqualTo("text/plain"));
        string text = await response.Content.ReadAsStringAsync();
        var hw = _a.Counters(0);
        Assert.Multiple(() =>
        {
            Assert.That(Sample(text, "offload_glbp_gateway_state", "state=\"Active\""), Is.EqualTo(1));
            Assert.That(Sample(text, "offload_glbp_gateway_state", "state=\"Listen\""), Is.Zero);
            Assert.That(Sample(text, "offload_glbp_forwarder_active", "owned=\"true\""), Is.EqualTo(1));
            Assert.That(Sample(text, "offload_flows_installed"), Is.EqualTo(2), "forward and reverse entry");
            Assert.That(Sample(text, "offload_sessions_active"), Is.EqualTo(1));
            Assert.That(Sample(text, "offload_classify_total", "outcome=\"Installed\""), Is.EqualTo(1));
            Assert.That(Sample(text, "offload_host_frames_total", "reason=\"Miss\""), Is.EqualTo(1));
            Assert.That(Sample(text, "offload_hw_port_total", "port=\"0\"", "counter=\"ft_hit\""), Is.EqualTo(hw.FlowHit).And.EqualTo(1));
            Assert.That(Sample(text, "offload_hw_port_total", "port=\"0\"", "counter=\"ft_miss\""), Is.EqualTo(hw.FlowMiss));
            Assert.That(Sample(text, "offload_sync_messages_total", "event=\"sent\""), Is.GreaterThanOrEqualTo(1), "announced to the (absent) peer");
            Assert.That(Sample(text, "offload_sync_messages_total", "event=\"acked\""), Is.Zero, "nobody answers");
            Assert.That(text, Does.Contain("# TYPE offload_classify_total counter"));
        });
    }

    [Test]
    [Category("System")]
    public async Task Metrics_pass_promtool_check_metrics()
    {
        string text = await _http.GetStringAsync(new Uri("metrics", UriKind.Relative));
        var psi = new System.Diagnostics.ProcessStartInfo("promtool", "check metrics")
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        System.Diagnostics.Process p;
        try
        {
            p = System.Diagnostics.Process.Start(psi)!;
        }
        catch (System.ComponentModel.Win32Exception e)
        {
            Assert.Fail($"promtool is not installed ({e.Message}); ci/setup.sh installs it from Debian's prometheus package");
            return;
        }
        using (p)
        {
            await p.StandardInput.WriteAsync(text);
            p.StandardInput.Close();
            string said = await p.StandardOutput.ReadToEndAsync() + await p.StandardError.ReadToEndAsync();
            await p.WaitForExitAsync();
            Assert.That((p.ExitCode, said.Trim()), Is.EqualTo((0, "")), text);
        }
    }

    [Test]
    public async Task Glbp_flows_and_backends_are_served_as_json()
    {
        var glbp = await _http.GetFromJsonAsync<GlbpView>(new Uri("api/glbp", UriKind.Relative), LocalApi.JsonOptions);
        Assert.That(glbp!.Gateway, Is.EqualTo("gw-a"));
        var g = glbp.Groups.Single();
        Assert.That((g.Group, g.State, g.VirtualIp, g.ActiveRouter), Is.EqualTo((1, "Active", "10.0.0.1", "10.0.0.11")));
        var f = g.Forwarders.Single();
        Assert.That((f.Vmac, f.Owner, f.Owned, f.State), Is.EqualTo((_a.OwnVmac.ToString(), Port0Mac(1).ToString(), true, "Active")));
        Assert.That(f.Weighting, Is.EqualTo(g.Weighting), "the forwarder is ours: our weighting");

        var flows = await _http.GetFromJsonAsync<FlowsView>(new Uri("api/flows?limit=5", UriKind.Relative), LocalApi.JsonOptions);
        Assert.That((flows!.Sessions, flows.Entries), Is.EqualTo((1, 2)));
        var row = flows.Flows.Single();
        Assert.That(row.Client, Does.StartWith($"{Ipv4Address.Format(ClientIp(1))}:{ClientPort(1)} > 192.0.2.10:80"));
        Assert.That(row.Vmac, Is.EqualTo(_a.OwnVmac.ToString()));

        var backends = await _http.GetFromJsonAsync<BackendsView>(new Uri("api/backends", UriKind.Relative), LocalApi.JsonOptions);
        Assert.That(backends!.Backends.Select(b => b.Id), Is.EqualTo(new[] { "b1", "b2", "b3" }));
        Assert.That(backends.Backends.Sum(b => b.Sessions), Is.EqualTo(1));
        Assert.That(backends.Backends.Single(b => b.Sessions == 1).Id, Is.EqualTo(row.Backend));
        Assert.That(backends.Backends, Has.All.Matches<BackendRow>(b => b.Healthy));
    }

    [Test]
    public async Task Unknown_paths_and_bad_queries_get_a_clear_error()
    {
        using var missing = await _http.GetAsync(new Uri("api/nothing", UriKind.Relative));
        Assert.That(missing.StatusCode, Is.EqualTo(HttpStatusCode.NotFound));
        Assert.That(await missing.Content.ReadAsStringAsync(), Does.Contain("/api/glbp"));
        using var bad = await _http.GetAsync(new Uri("api/flows?limit=-1", UriKind.Relative));
        Assert.That(bad.StatusCode, Is.EqualTo(HttpStatusCode.BadRequest));
    }

    [Test]
    public void The_api_refuses_to_listen_beyond_loopback()
    {
        var e = Assert.Throws<ArgumentException>(() => new LocalApi(_a.Gateway, new IPEndPoint(IPAddress.Any, 0), NullLoggerFactory.Instance));
        Assert.That(e!.Message, Does.Contain("loopback"));
    }
}
