using Offload.Cli;

namespace Offload.Cli.Tests;

/// <summary>`offload config check`: every config file the tool reads, judged by the code that reads it, without starting anything.</summary>
public class ConfigCheckTests
{
    private static string Examples => Path.Combine(TablesFileTests.RepoRoot(), "examples");

    private static (int Rc, string Out, string Err) Check(string path, string? kind = null)
    {
        using var output = new StringWriter();
        using var error = new StringWriter();
        int rc = ConfigCheckCommand.Run(new FileInfo(path), kind, output, error);
        return (rc, output.ToString(), error.ToString());
    }

    private static string Temp(string text)
    {
        string path = Path.Combine(Path.GetTempPath(), $"offload-check-{Guid.NewGuid():N}.json");
        File.WriteAllText(path, text);
        return path;
    }

    [TestCase("gateway.json", "gateway", "1 group(s), 1 service(s), 1 route(s)")]
    [TestCase("router.json", "router", "pool(s)")]
    [TestCase("tables.json", "tables", "flow(s)")]
    public void Every_example_is_told_apart_and_valid(string file, string kind, string summary)
    {
        var (rc, output, error) = Check(Path.Combine(Examples, file));
        Assert.That((rc, error), Is.EqualTo((0, "")));
        Assert.That(output, Does.Contain($"a valid {kind} config").And.Contain(summary));
    }

    [Test]
    public void Every_problem_of_a_gateway_config_is_listed_with_its_json_path_and_exit_2()
    {
        string text = File.ReadAllText(Path.Combine(Examples, "gateway.json"))
            .Replace("\"vip\": \"10.0.0.1\"", "\"vip\": \"10.0.0.300\"", StringComparison.Ordinal)
            .Replace("\"port\": 80,", "\"port\": 99999,", StringComparison.Ordinal);
        string path = Temp(text);
        try
        {
            var (rc, output, error) = Check(path);
            Assert.That(rc, Is.EqualTo(2));
            Assert.That(output, Is.Empty);
            Assert.That(error, Does.Contain($"{path}: groups[0].vip: '10.0.0.300' is not an IPv4 address"));
            Assert.That(error, Does.Contain($"{path}: services[0].port: 99999 is outside 1..65535"));
            Assert.That(error, Does.Contain("2 problem(s); not a valid gateway config"));
            Assert.That(error, Does.Not.Contain("   at "), "no stack trace");
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Test]
    public void A_router_config_problem_and_a_tables_problem_name_their_path_too()
    {
        string router = Temp("""{ "router": { "name": "r" }, "pools": [ { "id": "web", "backends": [ { "id": "a", "address": "nowhere", "port": 80 } ] } ], "routes": [] }""");
        string tables = Temp("""{ "ports": [ { "mac": "02:00:00:00:00:01" } ], "flows": [ { "src": "10.0.0.1", "dst": "10.0.0.2", "inPort": 7, "nextHop": 1 } ] }""");
        try
        {
            var (rc, _, error) = Check(router);
            Assert.That(rc, Is.EqualTo(2));
            Assert.That(error, Does.Contain("pools[0].backends[0].address"));
            (rc, _, error) = Check(tables);
            Assert.That(rc, Is.EqualTo(2));
            Assert.That(error, Does.Contain("flows[0].inPort"));
        }
        finally
        {
            File.Delete(router);
            File.Delete(tables);
        }
    }

    [Test]
    public void A_file_of_no_known_kind_asks_for_kind_and_kind_overrides_detection()
    {
        string path = Temp("""{ "something": 1 }""");
        try
        {
            var (rc, _, error) = Check(path);
            Assert.That(rc, Is.EqualTo(2));
            Assert.That(error, Does.Contain("cannot tell which kind").And.Contain("--kind gateway|router|tables"));
            (rc, _, error) = Check(path, "gateway");
            Assert.That(rc, Is.EqualTo(2));
            Assert.That(error, Does.Contain("'something' is not a setting here"));
            (rc, _, error) = Check(path, "printer");
            Assert.That((rc, error.Trim()), Is.EqualTo((2, "offload: --kind 'printer': give gateway, router or tables")));
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Test]
    public void Not_json_missing_and_a_directory_are_one_line_each()
    {
        string path = Temp("{ \"gateway\": ");
        try
        {
            var (rc, _, error) = Check(path);
            Assert.That(rc, Is.EqualTo(2));
            Assert.That(error, Does.Contain("not valid JSON at line 1"));
        }
        finally
        {
            File.Delete(path);
        }
        var missing = Check("/nonexistent/offload.json");
        Assert.That((missing.Rc, missing.Err.Trim()), Is.EqualTo((2, "offload: cannot read the configuration file /nonexistent/offload.json: no such file")));
        var directory = Check(Path.GetTempPath());
        Assert.That(directory.Rc, Is.EqualTo(2));
        Assert.That(directory.Err, Does.Contain("is a directory"));
    }
}
