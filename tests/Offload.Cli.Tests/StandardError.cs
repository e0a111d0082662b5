namespace Offload.Cli.Tests;

/// <summary>What commands print to standard error, for the tests of their refusals.</summary>
internal static class StandardError
{
    public static string ExampleGateway => Path.Combine(TablesFileTests.RepoRoot(), "examples", "gateway.json");

    /// <summary>Runs a command with standard error captured; its exit code and what it printed there.</summary>
    public static (int Rc, string Err) Capture(Func<int> run)
    {
        var saved = Console.Error;
        using var err = new StringWriter();
        Console.SetError(err);
        try
        {
            return (run(), err.ToString());
        }
        finally
        {
            Console.SetError(saved);
        }
    }
}
