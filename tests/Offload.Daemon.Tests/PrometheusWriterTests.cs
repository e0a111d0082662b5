namespace Offload.Daemon.Tests;

/// <summary>The text format's rules that promtool checks, held by the writer itself whatever order a caller adds samples in.</summary>
public class PrometheusWriterTests
{
    [Test]
    public void Samples_are_written_family_by_family_behind_their_help_and_type()
    {
        var m = new PrometheusWriter("gw \"a\"");
        m.Help("a_total", "counter", "as");
        m.Help("b", "gauge", "bs");
        m.Sample("a_total", 1, ("k", "x"));
        m.Sample("b", 2);
        m.Sample("a_total", 3, ("k", "y"));
        Assert.That(m.ToString(), Is.EqualTo(
            "# HELP a_total as\n# TYPE a_total counter\n" +
            "a_total{gateway=\"gw \\\"a\\\"\",k=\"x\"} 1\na_total{gateway=\"gw \\\"a\\\"\",k=\"y\"} 3\n" +
            "# HELP b bs\n# TYPE b gauge\nb{gateway=\"gw \\\"a\\\"\"} 2\n"));
    }

    [Test]
    public void A_family_without_help_or_declared_twice_is_refused()
    {
        var m = new PrometheusWriter("gw");
        Assert.That(() => m.Sample("nope", 1), Throws.InvalidOperationException.With.Message.Contains("nope has no HELP and TYPE"));
        m.Help("x", "gauge", "x");
        Assert.That(() => m.Help("x", "gauge", "x"), Throws.InvalidOperationException);
    }
}
