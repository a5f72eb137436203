using System.Diagnostics.Metrics;
using System.Runtime.CompilerServices;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Baton.Lab;
using Baton.Metrics;
using Baton.Router;

namespace Baton.Tests.Operations;

/// <summary>
/// The Grafana dashboard shipped in deploy/grafana asks only for series Baton publishes: each
/// metric name in its queries is the Prometheus name of an instrument on the <c>Baton</c> or
/// <c>System.Runtime</c> meter (OpenTelemetry's naming: dots to underscores, the unit as a suffix,
/// <c>_total</c> on counters). A renamed instrument breaks the dashboard silently; here it fails.
/// </summary>
public sealed partial class DashboardTests
{
    private static readonly string Dashboard = Path.Combine(Loopback.RepositoryRoot(), "deploy", "grafana", "baton.json");

    [Fact]
    public void Every_query_names_a_published_instrument()
    {
        var published = PublishedNames();
        var queries = Queries().ToList();
        Assert.NotEmpty(queries);
        foreach (var (title, expr) in queries)
        {
            var names = MetricName().Matches(expr).Select(m => m.Value).ToList();
            Assert.True(names.Count > 0, $"panel '{title}': no metric in '{expr}'");
            foreach (var name in names)
                Assert.True(published.Contains(name), $"panel '{title}' asks for {name}, which nothing publishes");
        }
    }

    [Fact]
    public void Every_Baton_instrument_is_on_the_dashboard()
    {
        var asked = Queries().SelectMany(q => MetricName().Matches(q.Expr).Select(m => m.Value)).ToHashSet();
        foreach (var (instrument, names) in Instruments().Where(i => i.Instrument.Meter.Name == BatonMetrics.MeterName))
            Assert.True(names.Any(asked.Contains), $"{instrument.Name} is on no panel");
    }

    private static IEnumerable<(string Title, string Expr)> Queries()
    {
        var d = JsonNode.Parse(File.ReadAllText(Dashboard))!;
        foreach (var p in d["panels"]!.AsArray())
            foreach (var t in p!["targets"]?.AsArray() ?? [])
                yield return ((string)p["title"]!, (string)t!["expr"]!);
    }

    private static HashSet<string> PublishedNames() => Instruments().SelectMany(i => i.Names).ToHashSet();

    // Every instrument of the two meters, with the Prometheus names its series get.
    private static List<(Instrument Instrument, string[] Names)> Instruments()
    {
        var found = new List<Instrument>();
        using var listener = new MeterListener();
        listener.InstrumentPublished = (i, _) =>
        {
            if (i.Meter.Name is BatonMetrics.MeterName or "System.Runtime") lock (found) found.Add(i);
        };
        RuntimeHelpers.RunClassConstructor(typeof(BatonMetrics).TypeHandle);
        using var gauges = new RouterGauges(() => null);
        listener.Start();
        Assert.Contains(found, i => i.Meter.Name == "System.Runtime");
        return [.. found.Select(i => (i, PrometheusNames(i)))];
    }

    private static string[] PrometheusNames(Instrument i)
    {
        string name = i.Name.Replace('.', '_') + i.Unit switch
        {
            "us" => "_microseconds",
            "s" => "_seconds",
            "By" => "_bytes",
            _ => "", // none, or an annotation such as {thread}
        };
        var type = i.GetType().GetGenericTypeDefinition();
        if (type == typeof(Counter<>) || type == typeof(ObservableCounter<>)) return [name + "_total"];
        if (type == typeof(Histogram<>)) return [name + "_bucket", name + "_count", name + "_sum"];
        return [name];
    }

    [GeneratedRegex(@"\b(baton|dotnet)_[a-z_]+")]
    private static partial Regex MetricName();
}
