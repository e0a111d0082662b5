using Offload.Cli;

namespace Offload.Cli.Tests;

/// <summary>`offload run` given inputs it used to crash on, hang on, or describe wrongly.</summary>
[NonParallelizable]
public class RunInputTests
{
    private static string Example => Path.Combine(TablesFileTests.RepoRoot(), "examples", "gateway.json");


    private static (int Rc, string Err) RunWith(string config, double? seconds = 1) =>
        StandardError.Capture(() => RunCommand.Run(new FileInfo(config), seconds, false, "127.0.0.1:0", TextWriter.Null, CancellationToken.None));

    [Test]
    [Category("Model")]
    public void The_api_serves_on_ipv6_loopback()
    {
        try
        {
            using var probe = new System.Net.Sockets.TcpListener(System.Net.IPAddress.IPv6Loopback, 0);
            probe.Start();
        }
        catch (System.Net.Sockets.SocketException)
        {
            Assert.Ignore("this machine has no IPv6 loopback");
        }
        var started = new TaskCompletionSource<Uri>(TaskCreationOptions.RunContinuationsAsynchronously);
        using var cancel = new CancellationTokenSource();
        var run = Task.Run(() => StandardError.Capture(() => RunCommand.Run(new FileInfo(Example), 30, false, "[::1]:0", TextWriter.Null, cancel.Token, started.SetResult)));
        try
        {
            // A guard against a daemon that never comes up, not a performance assertion.
            Assert.That(Task.WaitAny([started.Task, run], TimeSpan.FromSeconds(60)), Is.Zero, run.IsCompleted ? run.Result.Err : "no start");
            Uri api = started.Task.Result;
            Assert.That(api.Host, Is.EqualTo("[::1]"));
            using var table = new StringWriter();
            Assert.That(ShowCommand.Run("glbp", api.ToString(), json: false, 0, table), Is.Zero);
            Assert.That(table.ToString(), Does.Contain("gw-a - Group 1"));
        }
        finally
        {
            cancel.Cancel();
            Assert.That(run.Wait(TimeSpan.FromSeconds(60)), Is.True);
        }
        Assert.That(run.Result.Rc, Is.Zero, run.Result.Err);
    }

    [Test]
    public void Seconds_beyond_the_limit_say_the_limit()
    {
        var (rc, err) = RunWith(Example, 99999999999);
        Assert.That(rc, Is.EqualTo(2));
        Assert.That(err, Does.Contain("31536000").And.Not.Contain("positive"), err);
        (rc, err) = RunWith(Example, -1);
        Assert.That(rc, Is.EqualTo(2));
        Assert.That(err, Does.Contain("above 0"), err);
    }

    [Test]
    public void A_config_larger_than_the_limit_is_refused_by_name()
    {
        string path = Path.Combine(Path.GetTempPath(), $"offload-big-{Guid.NewGuid():N}.json");
        File.WriteAllText(path, "{" + new string(' ', 2 << 20) + "}");
        try
        {
            var (rc, err) = RunWith(path);
            Assert.That(rc, Is.EqualTo(2));
            Assert.That(err, Does.Contain(path).And.Contain("larger than"), err);
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Test]
    public void A_directory_as_config_is_called_a_directory()
    {
        string dir = Path.GetTempPath().TrimEnd('/');
        var (rc, err) = RunWith(dir);
        Assert.That(rc, Is.EqualTo(2));
        Assert.That(err, Does.Contain(dir).And.Contain("is a directory"), err);
    }

    [Test]
    public void A_character_device_as_config_is_refused_at_once()
    {
        var (rc, err) = RunWith("/dev/zero");
        Assert.That(rc, Is.EqualTo(2));
        Assert.That(err, Does.Contain("/dev/zero").And.Contain("not a regular file"), err);
    }

    [Test]
    public void A_fifo_as_config_is_refused_without_waiting_for_a_writer()
    {
        string fifo = Path.Combine(Path.GetTempPath(), $"offload-fifo-{Guid.NewGuid():N}");
        using (var mk = System.Diagnostics.Process.Start("mkfifo", fifo))
            mk.WaitForExit();
        try
        {
            var run = Task.Run(() => RunWith(fifo));
            if (!run.Wait(TimeSpan.FromSeconds(20)))
            {
                // Release the reader blocked in open(2) so the test run can end.
                using (new FileStream(fifo, FileMode.Open, FileAccess.Write))
                {
                }
                Assert.Fail("run blocked opening the fifo");
            }
            Assert.That(run.Result.Rc, Is.EqualTo(2));
            Assert.That(run.Result.Err, Does.Contain(fifo).And.Contain("not a regular file"), run.Result.Err);
        }
        finally
        {
            File.Delete(fifo);
        }
    }

    [Test]
    public void A_key_file_is_read_within_a_limit_and_only_when_regular()
    {
        string big = Path.Combine(Path.GetTempPath(), $"offload-key-{Guid.NewGuid():N}");
        File.WriteAllText(big, new string('k', 100_000));
        try
        {
            var e = Assert.Throws<ConfigException>(() => AgentCommand.Check(["127.0.0.1:7380"], "web-1", new FileInfo(big), null, "1s", null, false, 0, 1))!;
            Assert.That(e.Message, Does.Contain(big).And.Contain("larger than"));
        }
        finally
        {
            File.Delete(big);
        }
        var dev = Assert.Throws<ConfigException>(() => AgentCommand.Check(["127.0.0.1:7380"], "web-1", new FileInfo("/dev/zero"), null, "1s", null, false, 0, 1))!;
        Assert.That(dev.Message, Does.Contain("/dev/zero").And.Contain("not a regular file"));
    }

    [Test]
    public void A_tables_file_that_is_a_directory_says_so()
    {
        string dir = Path.GetTempPath().TrimEnd('/');
        var e = Assert.Throws<ConfigException>(() => TablesFile.Load(dir, new Offload.Device.DataplaneGeometry()))!;
        Assert.That(e.Message, Does.Contain(dir).And.Contain("is a directory"));
    }
}
