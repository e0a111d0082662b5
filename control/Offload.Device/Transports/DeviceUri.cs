using System.Globalization;

namespace Offload.Device.Transports;

/// <summary>
/// Where a data plane is, as the CLI and configs name it: <c>model:</c> or <c>model:32</c> (the in-process
/// Verilator model at DATA_W 64 or 32) and <c>tcp://HOST:PORT</c> (one served by another process). USB and PCIe
/// join this list when their transports exist; until then they are refused by name rather than half-opened.
/// </summary>
public sealed record DeviceUri(string Scheme, string Host, int Port, int ModelWidth)
{
    /// <summary>The transports this build can open, for messages.</summary>
    public const string Known = "model:, model:32, tcp://HOST:PORT";

    public static DeviceUri Model(int width = 64) => new("model", "", 0, width);

    /// <exception cref="FormatException">Not a device URI this build can open; the message says what is.</exception>
    public static DeviceUri Parse(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        string t = text.Trim();
        if (t is "model" or "model:" or "model:64")
            return Model(64);
        if (t == "model:32")
            return Model(32);
        if (t.StartsWith("model:", StringComparison.Ordinal))
            throw new FormatException($"device '{text}': the model is built at 64 and 32 bits (model: or model:32)");
        if (t.StartsWith("tcp://", StringComparison.Ordinal))
        {
            string rest = t["tcp://".Length..].TrimEnd('/');
            int colon = rest.LastIndexOf(':');
            if (colon <= 0 || !int.TryParse(rest[(colon + 1)..], NumberStyles.None, CultureInfo.InvariantCulture, out int port) || port is < 1 or > 65535)
                throw new FormatException($"device '{text}': give tcp://HOST:PORT with a port of 1..65535");
            string host = rest[..colon];
            if (host.StartsWith('[') && host.EndsWith(']'))
                host = host[1..^1];
            if (host.Length == 0)
                throw new FormatException($"device '{text}': the host is missing");
            return new DeviceUri("tcp", host, port, 0);
        }
        int end = t.IndexOf(':', StringComparison.Ordinal);
        string scheme = end > 0 ? t[..end] : t;
        if (scheme is "usb" or "pcie")
            throw new FormatException($"device '{text}': this build has no {scheme} transport yet; it opens {Known}");
        throw new FormatException($"device '{text}': not a device URI; this build opens {Known}");
    }

    public override string ToString() => Scheme switch
    {
        "model" => ModelWidth == 64 ? "model:" : $"model:{ModelWidth}",
        "tcp" => Host.Contains(':', StringComparison.Ordinal) ? $"tcp://[{Host}]:{Port}" : $"tcp://{Host}:{Port}",
        _ => $"{Scheme}:",
    };
}
