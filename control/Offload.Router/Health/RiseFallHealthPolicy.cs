using System.Globalization;
using System.Runtime.CompilerServices;
using Offload.Balancer.Health;
using Yarp.ReverseProxy.Health;
using Yarp.ReverseProxy.Model;

namespace Offload.Router.Health;

/// <summary>
/// YARP sends the probes (its active health checks fit: interval, timeout, path, per pool); this policy judges them
/// the way the gateway judges its HTTP checks, with the Balancer's own <see cref="RiseFall"/> and
/// <see cref="StatusCodeSet"/>: <c>fall</c> failed probes in a row take a backend out of every route's pool, <c>rise</c>
/// passes bring it back. YARP's built-in policy takes a backend out at the first failure and has no rise at all.
/// </summary>
internal sealed class RiseFallHealthPolicy(IDestinationHealthUpdater updater, RouterMetrics metrics) : IActiveHealthCheckPolicy
{
    public const string PolicyName = "OffloadRiseFall";

    // Kept by the destination's state object: YARP keeps that object across reloads while the backend's id stays, so a
    // reload does not reset the run; a backend that leaves the config takes its counter with it.
    private readonly ConditionalWeakTable<DestinationState, RiseFall> _states = new();

    public string Name => PolicyName;

    public void ProbingCompleted(ClusterState cluster, IReadOnlyList<DestinationProbingResult> probingResults)
    {
        ArgumentNullException.ThrowIfNull(cluster);
        ArgumentNullException.ThrowIfNull(probingResults);
        var meta = cluster.Model.Config.Metadata;
        int rise = Read(meta, YarpConfig.RiseKey, 2);
        int fall = Read(meta, YarpConfig.FallKey, 3);
        var expect = meta is not null && meta.TryGetValue(YarpConfig.ExpectKey, out string? e) ? StatusCodeSet.Parse(e) : StatusCodeSet.Ok;
        var results = new List<NewActiveDestinationHealth>(probingResults.Count);
        foreach (var probe in probingResults)
        {
            bool pass = probe.Exception is null && probe.Response is { } response && expect.Contains((int)response.StatusCode);
            // Probes of one cluster complete together, one round at a time, so a destination's counter has one writer.
            var state = _states.GetValue(probe.Destination, _ => new RiseFall(rise, fall, initiallyUp: true));
            if (state.Record(pass))
                metrics.HealthChanged(cluster.ClusterId, probe.Destination.DestinationId, state.Up);
            results.Add(new NewActiveDestinationHealth(probe.Destination, state.Up ? DestinationHealth.Healthy : DestinationHealth.Unhealthy));
        }
        updater.SetActive(cluster, results);
    }

    private static int Read(IReadOnlyDictionary<string, string>? meta, string key, int fallback) =>
        meta is not null && meta.TryGetValue(key, out string? text) && int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out int v) ? v : fallback;
}
