using System.Globalization;
using System.Text;

namespace Offload.Daemon;

/// <summary>Builds the Prometheus text exposition format (version 0.0.4); every sample carries the gateway's name.</summary>
internal sealed class PrometheusWriter(string gateway)
{
    private readonly StringBuilder _text = new();
    private readonly string _gateway = Escape(gateway);

    public void Help(string name, string type, string help)
    {
        _text.Append("# HELP ").Append(name).Append(' ').Append(help).Append('\n');
        _text.Append("# TYPE ").Append(name).Append(' ').Append(type).Append('\n');
    }

    public void Sample(string name, double value, params ReadOnlySpan<(string Name, string Value)> labels)
    {
        _text.Append(name).Append("{gateway=\"").Append(_gateway).Append('"');
        foreach (var (n, v) in labels)
            _text.Append(',').Append(n).Append("=\"").Append(Escape(v)).Append('"');
        _text.Append("} ").Append(value.ToString("R", CultureInfo.InvariantCulture)).Append('\n');
    }

    public override string ToString() => _text.ToString();

    private static string Escape(string v) => v.Replace("\\", "\\\\", StringComparison.Ordinal).Replace("\"", "\\\"", StringComparison.Ordinal)
        .Replace("\n", "\\n", StringComparison.Ordinal);
}
