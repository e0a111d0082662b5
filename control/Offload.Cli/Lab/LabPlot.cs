using ScottPlot;

namespace Offload.Cli.Lab;

/// <summary>The demo's picture: requests served per second per backend and per gateway, with the events marked.</summary>
internal static class LabPlot
{
    public static void Write(string path, IReadOnlyList<LabRequest> requests, IReadOnlyList<LabEvent> events, int backends, Func<LabRequest, int?> gatewayOf, int gateways)
    {
        if (requests.Count == 0)
            return;
        int seconds = (int)Math.Ceiling(requests.Max(r => r.EndMs) / 1000) + 1;
        var xs = Enumerable.Range(0, seconds).Select(s => (double)s).ToArray();
        var plot = new Plot();
        for (int j = 1; j <= backends; j++)
        {
            var name = LabPlan.BackendName(j);
            var ys = new double[seconds];
            foreach (var r in requests.Where(r => r.Ok && r.Backend == name))
                ys[(int)(r.EndMs / 1000)]++;
            var line = plot.Add.Scatter(xs, ys);
            line.LegendText = $"backend {name}";
            line.MarkerSize = 0;
        }
        for (int k = 1; k <= gateways; k++)
        {
            var ys = new double[seconds];
            foreach (var r in requests.Where(r => r.Ok && gatewayOf(r) == k))
                ys[(int)(r.EndMs / 1000)]++;
            var line = plot.Add.Scatter(xs, ys);
            line.LegendText = $"gateway g{k}";
            line.MarkerSize = 0;
            line.LinePattern = LinePattern.Dashed;
        }
        var failed = new double[seconds];
        foreach (var r in requests.Where(r => !r.Ok))
            failed[(int)(r.EndMs / 1000)]++;
        var fails = plot.Add.Scatter(xs, failed);
        fails.LegendText = "failed";
        fails.MarkerSize = 0;
        fails.Color = Colors.Black;
        foreach (var e in events)
        {
            var mark = plot.Add.VerticalLine(e.AtMs / 1000);
            mark.LabelText = $"{e.Kind} {e.Target}";
            mark.Color = Colors.Gray;
        }
        plot.Title("Offload lab: requests served per second");
        plot.XLabel("seconds since the demo began");
        plot.YLabel("requests per second");
        plot.ShowLegend();
        plot.SavePng(path, 1400, 700);
    }
}
