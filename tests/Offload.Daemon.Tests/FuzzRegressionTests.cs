using Offload.Fuzz.Targets;

namespace Offload.Daemon.Tests;

/// <summary>
/// Replays every input the fuzzers keep (tests/fuzz/corpus: the seeds and what AFL++ found that reached new code;
/// tests/fuzz/crashes: every input that ever crashed a decoder) through the same targets ci/fuzz.sh fuzzes, so each
/// of them runs in every test run, with or without AFL++ on the machine.
/// </summary>
public class FuzzRegressionTests
{
    private static string FuzzRoot => Path.Combine(DaemonRig.RepoRoot(), "tests", "fuzz");

    public static IEnumerable<TestCaseData> KeptInputs()
    {
        foreach (string kind in new[] { "corpus", "crashes" })
        {
            string dir = Path.Combine(FuzzRoot, kind);
            if (!Directory.Exists(dir))
                continue;
            foreach (string file in Directory.EnumerateFiles(dir, "*", SearchOption.AllDirectories).Order(StringComparer.Ordinal))
            {
                string relative = Path.GetRelativePath(dir, file);
                if (Path.GetFileName(file).StartsWith('.') || relative.Equals("README.md", StringComparison.Ordinal))
                    continue;
                string target = relative.Split(Path.DirectorySeparatorChar)[0];
                yield return new TestCaseData(target, Path.GetRelativePath(FuzzRoot, file)).SetName($"{kind}/{relative.Replace('\\', '/')}");
            }
        }
    }

    [TestCaseSource(nameof(KeptInputs))]
    public void A_kept_input_decodes_or_is_refused_without_an_unexpected_exception(string target, string file)
    {
        var run = FuzzTargets.Find(target);
        Assert.That(run, Is.Not.Null, $"{file} is under a folder that names no fuzz target");
        byte[] input = File.ReadAllBytes(Path.Combine(FuzzRoot, file));
        Assert.DoesNotThrow(() => run!(input));
    }

    [Test]
    public void Every_target_has_seeds_kept()
    {
        // Without this, a moved folder would leave the replay above with nothing to run, and nothing would fail.
        foreach (string target in FuzzTargets.Names)
        {
            string dir = Path.Combine(FuzzRoot, "corpus", target);
            Assert.That(Directory.Exists(dir) && Directory.EnumerateFiles(dir).Any(), Is.True, $"no seeds in {dir}");
        }
    }
}
