using System.Globalization;
using System.Text;

namespace Offload.Daemon;

/// <summary>
/// Builds the Prometheus text exposition format (version 0.0.4); every sample carries the gateway's name. Samples
/// are kept by family and written family by family, each behind its HELP and TYPE, whatever order the caller adds
/// them in: the format (and `promtool check metrics`) wants one block per family. A sample of a family that was
/// never declared is a bug in the caller, refused at once.
/// </summary>
/// <remarks>Written by hand while the daemon serves its API without Kestrel; prometheus-net replaces it with the daemon's move to Hosting.</remarks>
public sealed class PrometheusWriter(string gateway)
{
    private readonly List<Family> _families = [];
    private readonly Dictionary<string, Family> _byName = new(StringComparer.Ordinal);
    private readonly string _gateway = Escape(gateway);

    public void Help(string name, string type, string help)
    {
        if (_byName.ContainsKey(name))
            throw new InvalidOperationException($"metric family {name} declared twice");
        var f = new Family(name, type, help);
        _families.Add(f);
        _byName.Add(name, f);
    }

    public void Sample(string name, double value, params ReadOnlySpan<(string Name, string Value)> labels)
    {
        if (!_byName.TryGetValue(name, out var f))
            throw new InvalidOperationException($"metric family {name} has no HELP and TYPE: declare it with Help first");
        var text = f.Samples;
        text.Append(name).Append("{gateway=\"").Append(_gateway).Append('"');
        foreach (var (n, v) in labels)
            text.Append(',').Append(n).Append("=\"").Append(Escape(v)).Append('"');
        text.Append("} ").Append(value.ToString("R", CultureInfo.InvariantCulture)).Append('\n');
    }

    public override string ToString()
    {
        var text = new StringBuilder();
        foreach (var f in _families)
        {
            text.Append("# HELP ").Append(f.Name).Append(' ').Append(f.HelpText).Append('\n');
            text.Append("# TYPE ").Append(f.Name).Append(' ').Append(f.Type).Append('\n');
            text.Append(f.Samples);
        }
        return text.ToString();
    }

    private static string Escape(string v) => v.Replace("\\", "\\\\", StringComparison.Ordinal).Replace("\"", "\\\"", StringComparison.Ordinal)
        .Replace("\n", "\\n", StringComparison.Ordinal);

    private sealed record Family(string Name, string Type, string HelpText)
    {
        public StringBuilder Samples { get; } = new();
    }
}
