namespace Offload.Unit.Tests;

internal static class RepoRoot
{
    public static string Find()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "offload.sln")))
                return dir.FullName;
        }
        throw new InvalidOperationException("offload.sln not found above " + AppContext.BaseDirectory);
    }
}
