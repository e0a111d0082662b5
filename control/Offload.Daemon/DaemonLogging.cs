using Microsoft.Extensions.Logging;
using Serilog;
using Serilog.Core;
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
    public static ILoggerFactory CreateConsole(string level, bool verbose, string gatewayName) => CreateConsole(level, verbose, gatewayName, out _);

    /// <summary>As above, with the switch that moves the level while the daemon runs (a reload).</summary>
    public static ILoggerFactory CreateConsole(string level, bool verbose, string gatewayName, out LoggingLevelSwitch levelSwitch)
    {
        var min = verbose ? LogEventLevel.Debug : ParseLevel(level) ?? LogEventLevel.Information;
        levelSwitch = new LoggingLevelSwitch(min);
        var logger = new LoggerConfiguration()
            .MinimumLevel.ControlledBy(levelSwitch)
            .Enrich.WithProperty("Gateway", gatewayName)
            .WriteTo.Console(
                outputTemplate: "{Timestamp:HH:mm:ss.fff} [{Level:u3}] {Gateway} {SourceContext}: {Message:lj}{NewLine}{Exception}",
                formatProvider: System.Globalization.CultureInfo.InvariantCulture)
            .CreateLogger();
        return new SerilogLoggerFactory(logger, dispose: true);
    }
}
