namespace Offload.Cli;

/// <summary>Where the repository's build outputs are, when the CLI runs from a checkout.</summary>
internal static class RepoPaths
{
    public static string? Root { get; } = Find();

    public static string HwModelBuild => Path.Combine(Root ?? AppContext.BaseDirectory, "hwmodel", "build");

    private static string? Find()
    {
        string? env = Environment.GetEnvironmentVariable("OFFLOAD_HOME");
        if (!string.IsNullOrEmpty(env))
            return env;
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "offload.sln")))
                return dir.FullName;
        }
        return null;
    }
}
