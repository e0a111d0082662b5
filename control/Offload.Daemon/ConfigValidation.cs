using System.Globalization;
using System.Text.Json;

namespace Offload.Daemon;

/// <summary>A config file that cannot run: every problem found, each with its JSON path (the gateway's and the router's).</summary>
public class ConfigFileException : Exception
{
    public ConfigFileException(string source, IReadOnlyList<string> problems)
        : base($"{source}: {problems?.Count ?? 0} problem(s) in the configuration:{Environment.NewLine}  " + string.Join(Environment.NewLine + "  ", problems ?? []))
    {
        Problems = problems ?? [];
    }

    public ConfigFileException()
        : this("config", [])
    {
    }

    public ConfigFileException(string message)
        : base(message)
    {
        Problems = [message];
    }

    public ConfigFileException(string message, Exception innerException)
        : base(message, innerException)
    {
        Problems = [message];
    }

    public IReadOnlyList<string> Problems { get; } = [];
}

/// <summary>How the config files people write are read: bounded, comments and trailing commas allowed, unknown settings refused.</summary>
public static class ConfigJson
{
    public static readonly JsonSerializerOptions Options = new()
    {
        PropertyNameCaseInsensitive = true,
        ReadCommentHandling = JsonCommentHandling.Skip,
        AllowTrailingCommas = true,
        UnmappedMemberHandling = System.Text.Json.Serialization.JsonUnmappedMemberHandling.Disallow,
    };

    /// <summary>The file's text, read as <see cref="BoundedFile"/> does; <paramref name="fail"/> makes the caller's exception.</summary>
    public static string ReadText(string path, Func<string, Exception, Exception> fail)
    {
        ArgumentNullException.ThrowIfNull(fail);
        try
        {
            return BoundedFile.ReadAllText(path);
        }
        catch (InputFileException e)
        {
            throw fail($"cannot read the configuration file {e.Message}", e);
        }
    }

    /// <summary>The file's shape, or the caller's exception with the one problem in plain words (<see cref="GatewayConfig.Plain"/>).</summary>
    public static T Deserialize<T>(string json, string source, Func<string, IReadOnlyList<string>, Exception> fail)
        where T : class
    {
        ArgumentNullException.ThrowIfNull(fail);
        T? file;
        try
        {
            file = JsonSerializer.Deserialize<T>(json, Options);
        }
        catch (JsonException e)
        {
            throw fail(source, [GatewayConfig.Plain(e)]);
        }
        return file ?? throw fail(source, ["$: the file holds no configuration (null)"]);
    }
}

/// <summary>Collects every problem of a config file with its JSON path, so the whole file is judged at once.</summary>
public abstract class ConfigValidator
{
    public List<string> Problems { get; } = [];

    public List<string> Warnings { get; } = [];

    protected void Problem(string path, string what) => Problems.Add($"{path}: {what}");

    // System.Text.Json fills a list entry written as null with null whatever the element's annotation says.
    protected bool NotNull<T>(string path, [System.Diagnostics.CodeAnalysis.NotNullWhen(true)] T? entry)
        where T : class
    {
        if (entry is null)
            Problem(path, "null: give an object here or remove the entry");
        return entry is not null;
    }

    protected int? Int(string path, int? value, int min, int max, bool required = false)
    {
        if (value is null)
        {
            if (required)
                Problem(path, "missing");
            return null;
        }
        if (value < min || value > max)
        {
            Problem(path, string.Create(CultureInfo.InvariantCulture, $"{value} is outside {min}..{max}"));
            return null;
        }
        return value;
    }
}
