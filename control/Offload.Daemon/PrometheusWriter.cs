using System.Text;
using Prometheus;

namespace Offload.Daemon;

/// <summary>
/// The gateway's metrics in a prometheus-net registry of its own, filled from the node's state at each scrape: the
/// values live in the node, the device and the groups, so they are read when asked for, not pushed on every event.
/// Every sample carries the gateway's name (a static label). A label set that was not written in a collection (a
/// forwarder or backend that went away) leaves the registry with it. Not thread-safe: one collection at a time (the
/// node holds its lock around <see cref="Collect"/>).
/// </summary>
public sealed class PrometheusWriter
{
    private readonly CollectorRegistry _registry = Metrics.NewCustomRegistry();
    private readonly IMetricFactory _factory;
    private readonly Dictionary<string, Family> _families = new(StringComparer.Ordinal);
    private readonly HashSet<string> _declared = new(StringComparer.Ordinal);

    public PrometheusWriter(string gateway)
    {
        _registry.SetStaticLabels(new Dictionary<string, string> { ["gateway"] = gateway });
        _factory = Metrics.WithCustomRegistry(_registry);
    }

    /// <summary>Runs <paramref name="fill"/> and returns the text exposition format (0.0.4) of what it wrote.</summary>
    public string Collect(Action<PrometheusWriter> fill)
    {
        ArgumentNullException.ThrowIfNull(fill);
        _declared.Clear();
        foreach (var f in _families.Values)
            f.Touched.Clear();
        fill(this);
        foreach (var f in _families.Values)
        {
            var all = f.Metric switch
            {
                Counter c => c.GetAllLabelValues(),
                Gauge g => g.GetAllLabelValues(),
                _ => [],
            };
            foreach (var values in all.ToList())
            {
                string gone = string.Join('\u0001', values);
                if (f.Touched.Contains(gone))
                    continue;
                f.Raw.Remove(gone);
                if (f.Metric is Counter counter)
                    counter.RemoveLabelled(values);
                else if (f.Metric is Gauge gauge)
                    gauge.RemoveLabelled(values);
            }
        }
        using var stream = new MemoryStream();
        _registry.CollectAndExportAsTextAsync(stream).GetAwaiter().GetResult();
        return Encoding.UTF8.GetString(stream.GetBuffer(), 0, (int)stream.Length);
    }

    /// <summary>Declares a family (type counter or gauge) once per collection; its label names come with its first sample.</summary>
    public void Help(string name, string type, string help)
    {
        if (type is not ("counter" or "gauge"))
            throw new ArgumentException($"metric family {name}: type {type} is not counter or gauge", nameof(type));
        if (!_declared.Add(name))
            throw new InvalidOperationException($"metric family {name} declared twice");
        if (_families.TryGetValue(name, out var f) && (f.Type != type || f.HelpText != help))
            throw new InvalidOperationException($"metric family {name} was declared as {f.Type} before");
        if (f is null)
            _families[name] = new Family(type, help);
    }

    public void Sample(string name, double value, params ReadOnlySpan<(string Name, string Value)> labels)
    {
        if (!_declared.Contains(name) || !_families.TryGetValue(name, out var f))
            throw new InvalidOperationException($"metric family {name} has no HELP and TYPE: declare it with Help first");
        var names = new string[labels.Length];
        var values = new string[labels.Length];
        for (int i = 0; i < labels.Length; i++)
            (names[i], values[i]) = labels[i];
        if (f.Metric is null)
        {
            f.LabelNames = names;
            f.Metric = f.Type == "counter" ? _factory.CreateCounter(name, f.HelpText, names) : _factory.CreateGauge(name, f.HelpText, names);
        }
        else if (!f.LabelNames.AsSpan().SequenceEqual(names))
        {
            throw new InvalidOperationException($"metric family {name} has labels {string.Join(',', f.LabelNames)}, not {string.Join(',', names)}");
        }
        string series = string.Join('\u0001', values);
        f.Touched.Add(series);
        if (f.Metric is Counter counter)
        {
            // A source that starts again from 0 (a health handler rebuilt by a reload, a device reset) would leave a
            // counter stuck where it was: what it counted before is kept as an offset, so the series only grows.
            var (last, offset) = f.Raw.GetValueOrDefault(series);
            if (value < last)
                offset += last;
            f.Raw[series] = (value, offset);
            counter.WithLabels(values).IncTo(value + offset);
        }
        else
            ((Gauge)f.Metric).WithLabels(values).Set(value);
    }

    private sealed class Family(string type, string help)
    {
        public string Type { get; } = type;
        public string HelpText { get; } = help;
        public string[] LabelNames { get; set; } = [];
        public Collector? Metric { get; set; }
        public HashSet<string> Touched { get; } = new(StringComparer.Ordinal);

        /// <summary>Per counter series: the last value its source gave, and what earlier runs of the source counted.</summary>
        public Dictionary<string, (double Last, double Offset)> Raw { get; } = new(StringComparer.Ordinal);
    }
}
