namespace Offload.Daemon.Tests;

/// <summary>The text format's rules that promtool checks, held by the writer itself whatever order a caller adds samples in.</summary>
public class PrometheusWriterTests
{
    [Test]
    public void Samples_are_written_family_by_family_behind_their_help_and_type()
    {
        var w = new PrometheusWriter("gw \"a\"");
        Assert.That(w.Collect(m =>
        {
            m.Help("a_total", "counter", "as");
            m.Help("b", "gauge", "bs");
            m.Sample("a_total", 1, ("k", "x"));
            m.Sample("b", 2);
            m.Sample("a_total", 3, ("k", "y"));
        }), Is.EqualTo(
            "# HELP a_total as\n# TYPE a_total counter\n" +
            "a_total{k=\"x\",gateway=\"gw \\\"a\\\"\"} 1\na_total{k=\"y\",gateway=\"gw \\\"a\\\"\"} 3\n" +
            "# HELP b bs\n# TYPE b gauge\nb{gateway=\"gw \\\"a\\\"\"} 2\n"));
    }

    [Test]
    public void A_family_without_help_or_declared_twice_is_refused()
    {
        var w = new PrometheusWriter("gw");
        Assert.That(() => w.Collect(m => m.Sample("nope", 1)), Throws.InvalidOperationException.With.Message.Contains("nope has no HELP and TYPE"));
        Assert.That(() => w.Collect(m =>
        {
            m.Help("x", "gauge", "x");
            m.Help("x", "gauge", "x");
        }), Throws.InvalidOperationException);
    }

    [Test]
    public void A_label_set_not_written_again_leaves_and_a_counter_never_goes_back()
    {
        var w = new PrometheusWriter("gw");
        w.Collect(m =>
        {
            m.Help("f", "gauge", "per forwarder");
            m.Sample("f", 1, ("vmac", "a"));
            m.Sample("f", 1, ("vmac", "b"));
            m.Help("c_total", "counter", "c");
            m.Sample("c_total", 5);
        });
        string second = w.Collect(m =>
        {
            m.Help("f", "gauge", "per forwarder");
            m.Sample("f", 0, ("vmac", "b"));
            m.Help("c_total", "counter", "c");
            m.Sample("c_total", 7);
        });
        Assert.That(second, Does.Not.Contain("vmac=\"a\"").And.Contain("f{vmac=\"b\",gateway=\"gw\"} 0").And.Contain("c_total{gateway=\"gw\"} 7"));
        // Its source starts over (a reload rebuilt it): what it counted before stays counted.
        string third = w.Collect(m =>
        {
            m.Help("f", "gauge", "per forwarder");
            m.Help("c_total", "counter", "c");
            m.Sample("c_total", 2);
        });
        Assert.That(third, Does.Contain("c_total{gateway=\"gw\"} 9"));
    }
}
