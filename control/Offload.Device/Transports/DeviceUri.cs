using System.Globalization;

namespace Offload.Device.Transports;

/// <summary>
/// Where a data plane is, as the CLI and configs name it: <c>model:</c> or <c>model:32</c> (the in-process
/// Verilator model at DATA_W 64 or 32), <c>tcp://HOST:PORT</c> (one served by another process) and
/// <c>pcie:DDDD:BB:DD.F</c> (a board's BAR 0; <see cref="Host"/> holds the PCI address) and <c>usb:VID:PID[:SERIAL]</c>
/// (an FTDI MPSSE bridge to the board's SPI bridge; <see cref="Host"/> holds "vvvv:pppp[:serial]").
/// </summary>
public sealed record DeviceUri(string Scheme, string Host, int Port, int ModelWidth)
{
    /// <summary>The transports this build can open, for messages.</summary>
    public const string Known = "model:, model:32, tcp://HOST:PORT, pcie:DDDD:BB:DD.F, usb:VID:PID[:SERIAL]";

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
        if (t.StartsWith("pcie:", StringComparison.Ordinal))
        {
            try
            {
                return new DeviceUri("pcie", PcieDevice.NormalizeAddress(t["pcie:".Length..]), 0, 0);
            }
            catch (FormatException)
            {
                throw new FormatException($"device '{text}': give pcie:DDDD:BB:DD.F, the function's address as `lspci -D` shows it");
            }
        }
        if (t.StartsWith("usb:", StringComparison.Ordinal))
        {
            string[] parts = t["usb:".Length..].Split(':', 3);
            if (parts.Length < 2 || !IsId(parts[0]) || !IsId(parts[1]) || (parts.Length == 3 && !IsSerial(parts[2])))
                throw new FormatException($"device '{text}': give usb:VID:PID or usb:VID:PID:SERIAL (four hex digits each, e.g. usb:0403:6010; `offload devices` prints them)");
            string ids = $"{parts[0].ToLowerInvariant()}:{parts[1].ToLowerInvariant()}";
            return new DeviceUri("usb", parts.Length == 3 ? $"{ids}:{parts[2]}" : ids, 0, 0);
        }
        throw new FormatException($"device '{text}': not a device URI; this build opens {Known}");
    }

    /// <summary>The vendor ID, product ID and serial (null when not given) of a <c>usb:</c> URI.</summary>
    public (ushort Vendor, ushort Product, string? Serial) UsbIds()
    {
        if (Scheme != "usb")
            throw new InvalidOperationException($"{this} is not a usb: device");
        string[] parts = Host.Split(':', 3);
        return (ushort.Parse(parts[0], NumberStyles.HexNumber, CultureInfo.InvariantCulture),
            ushort.Parse(parts[1], NumberStyles.HexNumber, CultureInfo.InvariantCulture), parts.Length == 3 ? parts[2] : null);
    }

    private static bool IsId(string s) => s.Length == 4 && ushort.TryParse(s, NumberStyles.HexNumber, CultureInfo.InvariantCulture, out _);

    // A USB serial string as sysfs shows it: printable ASCII without ':' (the URI's separator), at most 126 characters.
    private static bool IsSerial(string s) => s.Length is > 0 and <= 126 && s.All(ch => ch is > ' ' and < '\x7f' and not ':');

    public override string ToString() => Scheme switch
    {
        "usb" => $"usb:{Host}",
        "model" => ModelWidth == 64 ? "model:" : $"model:{ModelWidth}",
        "tcp" => Host.Contains(':', StringComparison.Ordinal) ? $"tcp://[{Host}]:{Port}" : $"tcp://{Host}:{Port}",
        "pcie" => $"pcie:{Host}",
        _ => $"{Scheme}:",
    };
}
