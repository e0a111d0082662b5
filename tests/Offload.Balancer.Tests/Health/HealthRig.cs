using System.Net;
using System.Text;
using Microsoft.Extensions.Time.Testing;
using Offload.Balancer.Classification;
using Offload.Balancer.Health;
using Offload.Balancer.Scheduling;
using Offload.Device;
using Offload.Protocol;
using Offload.Protocol.Agent;

namespace Offload.Balancer.Tests.Health;

/// <summary>A load the test sets: the agent reports exactly this, so views can be compared value for value.</summary>
internal sealed class SetLoad(double cpu, double memory, uint connections) : IHostLoadSource
{
    public HostLoad Value { get; set; } = new(cpu, memory, connections);

    public HostLoad Sample() => Value;
}

/// <summary>
/// A gateway's balancer services on the Verilator model, on a fake clock, with real agents and a real handler
/// socket on 127.0.0.1. Agents and handler share the clock, so periodic reports go out only when a test moves it.
/// </summary>
internal sealed class HealthRig : IDisposable
{
    public static readonly byte[] Key = Encoding.ASCII.GetBytes("rig-shared-key");
    public static readonly TimeSpan Interval = TimeSpan.FromSeconds(1);
    public static readonly ServiceKey Web = new(Ipv4Address.Parse("192.0.2.10"), IpProtocol.Tcp, 80);
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(20);

    private readonly List<AgentReporter> _reporters = [];

    public HealthRig(int backends, TimeSpan? drainTimeout = null)
    {
        Device = ModelDevice.Create(64);
        Dataplane = new Dataplane(Device);
        Dataplane.ReadGeometry();
        Backends = backends;
        DrainTimeout = drainTimeout ?? TimeSpan.FromSeconds(30);
        Services = NewServices();
    }

    public ModelDevice Device { get; }

    public Dataplane Dataplane { get; }

    public FakeTimeProvider Time { get; } = new(new DateTimeOffset(2025, 3, 1, 12, 0, 0, TimeSpan.Zero));

    public int Backends { get; }

    public TimeSpan DrainTimeout { get; }

    public ServiceTable Services { get; private set; }

    public Service Service => Services.TryFind(Web, out var s) ? s : throw new InvalidOperationException("no web service");

    public HealthLoadHandler? Handler { get; private set; }

    /// <summary>Where agents send reports: the first handler's port, which later handlers bind again.</summary>
    public IPEndPoint? Gateway { get; private set; }

    public Dictionary<string, AgentReporter> Agents { get; } = new(StringComparer.Ordinal);

    public static string Id(int i) => $"b{i}";

    /// <summary>A fresh service table configured as the daemon would from its file: every backend weight 1, healthy.</summary>
    public ServiceTable NewServices()
    {
        var table = new ServiceTable(Dataplane, [MacAddress.Parse("02:0f:00:00:00:01"), MacAddress.Parse("02:0f:00:00:01:01")], Time);
        var service = table.Add(new ServiceConfig(Web, ForwardingMode.Nat, DrainTimeout: DrainTimeout));
        for (int i = 1; i <= Backends; i++)
            service.SetBackend(new BackendConfig(Id(i), Ipv4Address.Parse($"198.51.100.{i}"), 8080, (byte)i, new MacAddress(0x0200_0000_0100UL + (ulong)i)));
        return table;
    }

    /// <summary>Restarts the services (a daemon restart) so the next handler starts from configuration only.</summary>
    public void RestartServices() => Services = NewServices();

    /// <summary>Creates (not starts) a handler on the gateway port; the first one picks the port.</summary>
    public HealthLoadHandler NewHandler(HealthLoadOptions? options = null)
    {
        var transport = new UdpAgentTransport(Gateway ?? new IPEndPoint(IPAddress.Loopback, 0));
        Gateway ??= transport.LocalEndPoint;
        Handler = new HealthLoadHandler(transport, options, Time);
        return Handler;
    }

    /// <summary>A real agent on 127.0.0.1 reporting to the gateway port (created, not started).</summary>
    public AgentReporter NewAgent(string id, IHostLoadSource load, int? weight = null, bool drain = false)
    {
        if (Gateway is null)
            throw new InvalidOperationException("create the handler first: agents report to its port");
        var r = new AgentReporter(new AgentReporterOptions(id, Key, [Gateway], Interval, new IPEndPoint(IPAddress.Loopback, 0), weight, drain), load, Time);
        _reporters.Add(r);
        Agents[id] = r;
        return r;
    }

    /// <summary>Registers agent <paramref name="id"/> for backend <paramref name="id"/> with the handler.</summary>
    public void Watch(HealthLoadHandler handler, string id, params HealthCheck[] checks)
    {
        handler.AddAgent(new AgentEndpoint(id, Agents[id].LocalEndPoint, Key, Interval));
        handler.AddBackend(Service, id, id, checks);
    }

    /// <summary>
    /// Runs the handler's <see cref="HealthLoadHandler.Apply"/> until <paramref name="done"/> holds. Datagrams
    /// cross real sockets to another task, so the test waits for them; the clock does not move meanwhile.
    /// </summary>
    public void ApplyUntil(Func<bool> done, string what)
    {
        var handler = Handler ?? throw new InvalidOperationException("no handler");
        var deadline = DateTime.UtcNow + Patience;
        while (true)
        {
            handler.Apply();
            if (done())
                return;
            if (DateTime.UtcNow > deadline)
                Assert.Fail($"gave up waiting for: {what}");
            Thread.Sleep(5);
        }
    }

    /// <summary>Moves the clock (agents send their periodic reports) and waits until the handler took <paramref name="reports"/> more.</summary>
    public void Advance(TimeSpan by, int reports)
    {
        long want = Handler!.ReportsAccepted + reports;
        Time.Advance(by);
        ApplyUntil(() => Handler.ReportsAccepted >= want, $"{reports} reports after moving the clock by {by}");
    }

    public PoolSnapshot Pool => ((MaglevScheduler)Service.Scheduler).Pool!;

    public long EffectiveWeight(string id) => Pool.EffectiveWeight(Pool.IndexOf(id));

    /// <summary>Maglev slots the backend holds in the service's table.</summary>
    public int Slots(string id) => ((MaglevScheduler)Service.Scheduler).Table.CountSlots(Pool)[Pool.IndexOf(id)];

    public void Dispose()
    {
        Handler?.Dispose();
        foreach (var r in _reporters)
            r.Dispose();
        Device.Dispose();
    }
}
