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
    // reload keeps the backend's state; a backend that leaves the config takes its counter with it.
    private readonly ConditionalWeakTable<DestinationState, Judged> _states = new();

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
            var judged = _states.GetValue(probe.Destination, _ => new Judged(rise, fall, new RiseFall(rise, fall, initiallyUp: true)));
            if (judged.Rise != rise || judged.Fall != fall)
            {
                // A reload changed the thresholds: the backend keeps its state (up stays up) and counts its next run
                // against the new ones; the run under way restarts, since it was counted against the old.
                judged = new Judged(rise, fall, new RiseFall(rise, fall, initiallyUp: judged.State.Up));
                _states.AddOrUpdate(probe.Destination, judged);
            }
            var state = judged.State;
            if (state.Record(pass))
                metrics.HealthChanged(cluster.ClusterId, probe.Destination.DestinationId, state.Up);
            results.Add(new NewActiveDestinationHealth(probe.Destination, state.Up ? DestinationHealth.Healthy : DestinationHealth.Unhealthy));
        }
        updater.SetActive(cluster, results);
    }

    private sealed record Judged(int Rise, int Fall, RiseFall State);

    private static int Read(IReadOnlyDictionary<string, string>? meta, string key, int fallback) =>
        meta is not null && meta.TryGetValue(key, out string? text) && int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out int v) ? v : fallback;
}
