using Microsoft.Extensions.Logging;
using Serilog;
using Serilog.Events;
using Serilog.Extensions.Logging;

namespace Offload.Daemon;

/// <summary>Serilog behind Microsoft.Extensions.Logging, so the control plane's libraries log through ILogger only.</summary>
public static class DaemonLogging
{
    public static LogEventLevel? ParseLevel(string? text) => (text ?? "").ToLowerInvariant() switch
    {
        "verbose" or "trace" => LogEventLevel.Verbose,
        "debug" => LogEventLevel.Debug,
        "information" or "info" => LogEventLevel.Information,
        "warning" or "warn" => LogEventLevel.Warning,
        "error" => LogEventLevel.Error,
        "fatal" or "critical" => LogEventLevel.Fatal,
        _ => null,
    };

    /// <summary>A console logger factory; <paramref name="verbose"/> overrides the configured level with debug.</summary>
    public static ILoggerFactory CreateConsole(string level, bool verbose, string gatewayName)
    {
        var min = verbose ? LogEventLevel.Debug : ParseLevel(level) ?? LogEventLevel.Information;
        var logger = new LoggerConfiguration()
            .MinimumLevel.Is(min)
            .Enrich.WithProperty("Gateway", gatewayName)
            .WriteTo.Console(
                outputTemplate: "{Timestamp:HH:mm:ss.fff} [{Level:u3}] {Gateway} {SourceContext}: {Message:lj}{NewLine}{Exception}",
                formatProvider: System.Globalization.CultureInfo.InvariantCulture)
            .CreateLogger();
        return new SerilogLoggerFactory(logger, dispose: true);
    }
}
