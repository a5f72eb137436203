using Xunit.Abstractions;

namespace Baton.Tests.Http.Conformance;

/// <summary>
/// llhttp's request and response cases (tests/vectors/llhttp, data only) run against Baton's strict framing:
/// accepted vs refused must agree, and so must message boundaries (count, method/url or status, body bytes).
/// Lenient cases must be refused unless the same bytes are valid without the flag.
/// </summary>
public class LlhttpConformanceTests(ITestOutputHelper output)
{
    public static TheoryData<string> RequestCases() => Ids(response: false);

    public static TheoryData<string> ResponseCases() => Ids(response: true);

    private static TheoryData<string> Ids(bool response)
    {
        var data = new TheoryData<string>();
        foreach (var c in VectorCorpus.Cases.Values)
            if (c.IsResponse == response) data.Add(c.Id);
        return data;
    }

    [Fact]
    public void Corpus_is_found_and_complete()
    {
        Assert.True(VectorCorpus.Cases.Count >= 200, $"only {VectorCorpus.Cases.Count} cases parsed");
        foreach (var id in Exclusions.Cases.Keys)
            Assert.True(VectorCorpus.Cases.ContainsKey(id), $"exclusion '{id}' names no case");
    }

    [Theory]
    [MemberData(nameof(RequestCases))]
    public Task Request(string id) => Check(VectorCorpus.Cases[id]);

    [Theory]
    [MemberData(nameof(ResponseCases))]
    public Task Response(string id) => Check(VectorCorpus.Cases[id]);

    private async Task Check(VectorCase c)
    {
        output.WriteLine($"{c.Id} [{c.Type}] input: \"{VectorMessage.Escape(System.Text.Encoding.Latin1.GetString(c.Raw))}\"");
        if (Exclusions.Cases.TryGetValue(c.Id, out var reason))
        {
            output.WriteLine($"EXCLUDED: {reason}");
            return;
        }
        var (expectError, expected, upgradeStop, compare) = Expectation(c);
        // A message llhttp had only begun (no complete head) is one Baton is still waiting for: nothing to compare.
        while (expected.Count > 0 && !expected[^1].HeadersComplete && !expected[^1].Complete) expected = expected[..^1];
        var got = c.IsResponse
            ? Framing.Responses(c.Raw, c.SkipBody ? "HEAD" : "GET", c.IsFinish, upgradeStop, expected.Count)
            : Framing.Requests(c.Raw, upgradeStop, expected.Count, c.IsFinish);
        foreach (var n in got.Notes) output.WriteLine($"note: {n}");
        output.WriteLine($"expected: {(expectError ? "refused" : "accepted")}; " + (compare ? string.Join(" | ", expected.Select(m => m.Describe(c.IsResponse))) : "(lenient case: a strict parser refuses somewhere)"));
        output.WriteLine($"baton:    {(got.Refused ? $"refused ({got.Reason})" : "accepted")}; " + string.Join(" | ", got.Messages.Select(m => m.Describe(c.IsResponse))));

        Assert.True(expectError == got.Refused, expectError ? "a strict parser must refuse this input" : $"Baton refused a valid input: {got.Reason}");
        if (!c.IsResponse)
        {
            // The router's socket path (HttpInput + body streams) must frame exactly like the pure framer.
            var replay = await HttpInputReplay.Run(c.Raw, upgradeStop ? expected.Count : int.MaxValue, c.IsFinish);
            output.WriteLine($"input:    {(replay.Refused ? $"refused ({replay.Reason})" : "accepted")}; " + string.Join(" | ", replay.Messages.Select(m => m.Describe(false))));
            Assert.True(replay.Refused == got.Refused, $"HttpInput {(replay.Refused ? "refused" : "accepted")} where RequestFramer {(got.Refused ? "refused" : "accepted")}");
            var a = got.Messages.Where(m => m.Complete).ToList();
            var b = replay.Messages.Where(m => m.Complete).ToList();
            Assert.True(a.Count == b.Count, $"HttpInput completed {b.Count} messages, RequestFramer {a.Count}");
            for (int i = 0; i < a.Count; i++) AssertSame(c, a[i], b[i], i);
        }
        if (expectError && !compare) return;
        if (expectError)
        {
            // Messages completed before the refusal must agree.
            var done = expected.Where(m => m.Complete).ToList();
            var gotDone = got.Messages.Where(m => m.Complete).ToList();
            Assert.True(done.Count == gotDone.Count, $"{done.Count} messages complete before the error expected, Baton completed {gotDone.Count}");
            for (int i = 0; i < done.Count; i++) AssertSame(c, done[i], gotDone[i], i);
            return;
        }
        Assert.True(expected.Count == got.Messages.Count, $"expected {expected.Count} messages, Baton found {got.Messages.Count}");
        for (int i = 0; i < expected.Count; i++)
        {
            bool last = i == expected.Count - 1;
            var e = expected[i];
            var g = got.Messages[i];
            AssertSame(c, e, g, i);
            // A read-until-close body completes only at the end of the stream (finish cases).
            if (!(last && c.IsFinish))
                Assert.True(e.Complete == g.Complete, $"message {i + 1}: complete expected {e.Complete}, Baton {g.Complete}");
            Assert.True(e.HeadersComplete == g.HeadersComplete, $"message {i + 1}: head complete expected {e.HeadersComplete}, Baton {g.HeadersComplete}");
        }
    }

    private static void AssertSame(VectorCase c, VectorMessage e, VectorMessage g, int i)
    {
        if (c.IsResponse) Assert.True(e.StatusCode == g.StatusCode, $"message {i + 1}: status {e.StatusCode} expected, Baton {g.StatusCode}");
        else
        {
            Assert.Equal(VectorMessage.Latin1(e.Method), VectorMessage.Latin1(g.Method));
            Assert.Equal(VectorMessage.Latin1(e.Url), VectorMessage.Latin1(g.Url));
        }
        Assert.Equal(VectorMessage.Escape(VectorMessage.Latin1(e.Body)), VectorMessage.Escape(VectorMessage.Latin1(g.Body)));
    }

    /// <summary>
    /// What a strict parser must do: the log's outcome for strict cases; for lenient cases the outcome of a strict
    /// case with the same bytes if the corpus has one, else refusal.
    /// </summary>
    private static (bool error, List<VectorMessage> messages, bool upgradeStop, bool compare) Expectation(VectorCase c)
    {
        if (!c.IsLenient) return (c.ExpectError, c.Expected, c.UpgradeStop, true);
        var strict = VectorCorpus.Cases.Values.FirstOrDefault(o => !o.IsLenient && o.IsResponse == c.IsResponse && o.Raw.AsSpan().SequenceEqual(c.Raw));
        if (strict != null) return (strict.ExpectError, strict.Expected, strict.UpgradeStop, true);
        return (true, [], false, false);
    }
}
