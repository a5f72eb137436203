using System.Globalization;
using System.Text.RegularExpressions;

namespace Baton.Lab;

/// <summary>
/// One scrape in Prometheus' text exposition format, read as the tests need it: the value of a
/// series by metric name and a subset of its labels.
/// </summary>
public sealed partial class PrometheusText(string text)
{
    /// <summary>The scrape as served.</summary>
    public string Text => text;

    /// <summary>
    /// The sum of the samples of <paramref name="name"/> whose labels include every one of
    /// <paramref name="labels"/> (name=value), or 0 when there is none: a counter never
    /// incremented has no series yet.
    /// </summary>
    public double Sum(string name, params (string Name, string Value)[] labels)
    {
        double sum = 0;
        foreach (Match m in Sample().Matches(text))
        {
            if (m.Groups["name"].Value != name) continue;
            var have = Label().Matches(m.Groups["labels"].Value).ToDictionary(l => l.Groups[1].Value, l => l.Groups[2].Value);
            if (labels.All(l => have.TryGetValue(l.Name, out var v) && v == l.Value))
                sum += double.Parse(m.Groups["value"].Value, CultureInfo.InvariantCulture);
        }
        return sum;
    }

    /// <summary>Whether the scrape has a series named <paramref name="name"/> at all.</summary>
    public bool Has(string name) => Sample().Matches(text).Any(m => m.Groups["name"].Value == name);

    [GeneratedRegex(@"^(?<name>[a-zA-Z_:][a-zA-Z0-9_:]*)(\{(?<labels>[^}]*)\})? (?<value>\S+)", RegexOptions.Multiline)]
    private static partial Regex Sample();

    [GeneratedRegex(@"([a-zA-Z_][a-zA-Z0-9_]*)=""((?:[^""\\]|\\.)*)""")]
    private static partial Regex Label();
}
