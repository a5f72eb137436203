using System.Text;
using System.Text.Json;

namespace Baton.Tests.Http.Conformance;

/// <summary>One message as llhttp's log describes it (or as Baton frames it).</summary>
internal sealed class VectorMessage
{
    public MemoryStream Method { get; } = new();
    public MemoryStream Url { get; } = new();
    public int StatusCode { get; set; }
    public MemoryStream Body { get; } = new();
    public bool HeadersComplete { get; set; }
    public bool Complete { get; set; }

    public string Describe(bool response) =>
        (response ? $"{StatusCode}" : $"{Latin1(Method)} {Latin1(Url)}")
        + $" head={HeadersComplete} complete={Complete} body=\"{Escape(Latin1(Body))}\"";

    public static string Latin1(MemoryStream s) => Encoding.Latin1.GetString(s.ToArray());

    public static string Escape(string s)
    {
        var sb = new StringBuilder();
        foreach (char c in s)
            sb.Append(c switch { '\r' => "\\r", '\n' => "\\n", '\t' => "\\t", < ' ' or > '~' => $"\\x{(int)c:x2}", _ => c.ToString() });
        return sb.ToString();
    }
}

/// <summary>One case of the corpus: a markdown section with meta line, http block and log block.</summary>
internal sealed class VectorCase
{
    public required string Id { get; init; }
    public required string File { get; init; }
    public required string Title { get; init; }
    public required string Type { get; init; }
    public required byte[] Raw { get; init; }
    public required List<VectorMessage> Expected { get; init; }
    /// <summary>The log ends in an error other than llhttp's upgrade pause: a strict parser must refuse.</summary>
    public required bool ExpectError { get; init; }
    /// <summary>llhttp stopped at an upgrade (CONNECT/Upgrade/PRI): bytes after the last message are another protocol.</summary>
    public required bool UpgradeStop { get; init; }
    public required bool SkipBody { get; init; }

    public bool IsResponse => Type.StartsWith("response", StringComparison.Ordinal);
    public bool IsLenient => Type.Contains("lenient", StringComparison.Ordinal) || Path.GetFileName(File).StartsWith("lenient", StringComparison.Ordinal);
    public bool IsFinish => Type.EndsWith("-finish", StringComparison.Ordinal);

    public override string ToString() => Id;
}

/// <summary>Reads llhttp's markdown test cases (data only) from <c>tests/vectors/llhttp</c> in the repository.</summary>
internal static class VectorCorpus
{
    private static readonly Lazy<IReadOnlyDictionary<string, VectorCase>> All = new(Load);

    public static IReadOnlyDictionary<string, VectorCase> Cases => All.Value;

    public static string LocateVectors()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir != null; dir = dir.Parent)
        {
            if (!Directory.Exists(Path.Combine(dir.FullName, "src", "Baton.Core"))) continue; // the repo root
            string candidate = Path.Combine(dir.FullName, "tests", "vectors", "llhttp");
            return Directory.Exists(candidate)
                ? candidate
                : throw new DirectoryNotFoundException($"conformance vectors not found at {candidate} (see tests/vectors/README.md)");
        }
        throw new DirectoryNotFoundException($"cannot find the repo root (a folder with src/Baton.Core) above {AppContext.BaseDirectory}");
    }

    private static IReadOnlyDictionary<string, VectorCase> Load()
    {
        string root = LocateVectors();
        var cases = new Dictionary<string, VectorCase>(StringComparer.Ordinal);
        foreach (var kind in new[] { "request", "response" })
        {
            var files = Directory.GetFiles(Path.Combine(root, kind), "*.md").OrderBy(f => f, StringComparer.Ordinal).ToArray();
            if (files.Length == 0) throw new InvalidDataException($"no .md vector files in {Path.Combine(root, kind)}");
            foreach (var file in files)
                foreach (var c in ParseFile(file, $"{kind}/{Path.GetFileName(file)}"))
                {
                    string id = c.Id;
                    for (int n = 2; cases.ContainsKey(id); n++) id = $"{c.Id} #{n}";
                    cases[id] = id == c.Id ? c : new VectorCase
                    {
                        Id = id,
                        File = c.File,
                        Title = c.Title,
                        Type = c.Type,
                        Raw = c.Raw,
                        Expected = c.Expected,
                        ExpectError = c.ExpectError,
                        UpgradeStop = c.UpgradeStop,
                        SkipBody = c.SkipBody,
                    };
                }
        }
        return cases;
    }

    private static IEnumerable<VectorCase> ParseFile(string path, string file)
    {
        var lines = System.IO.File.ReadAllLines(path);
        string title = "";
        for (int i = 0; i < lines.Length; i++)
        {
            string line = lines[i];
            if (line.StartsWith('#')) { title = line.TrimStart('#').Trim(); continue; }
            if (!line.StartsWith("<!-- meta=", StringComparison.Ordinal)) continue;
            string json = line["<!-- meta=".Length..line.LastIndexOf("-->", StringComparison.Ordinal)].Trim();
            using var meta = JsonDocument.Parse(json);
            string type = meta.RootElement.GetProperty("type").GetString()!;
            bool skipBody = meta.RootElement.TryGetProperty("skipBody", out var sb) && sb.GetBoolean();
            int h = Array.FindIndex(lines, i + 1, l => l == "```http");
            int hEnd = Array.FindIndex(lines, h + 1, l => l == "```");
            int g = Array.FindIndex(lines, hEnd + 1, l => l == "```log");
            int gEnd = Array.FindIndex(lines, g + 1, l => l == "```");
            if (h < 0 || hEnd < 0 || g < 0 || gEnd < 0) throw new InvalidDataException($"{file}: case '{title}' lacks an http or log block");
            byte[] raw = DecodeHttp(lines[(h + 1)..hEnd]);
            var (expected, error, upgrade) = ParseLog(lines[(g + 1)..gEnd], raw, $"{file}: {title}");
            yield return new VectorCase
            {
                Id = $"{file}: {title}",
                File = file,
                Title = title,
                Type = type,
                Raw = raw,
                Expected = expected,
                ExpectError = error,
                UpgradeStop = upgrade,
                SkipBody = skipBody,
            };
            i = gEnd;
        }
    }

    /// <summary>
    /// The block's line breaks stand for CRLF (none after the last line); a line ending in a lone backslash
    /// continues without a break (on the last line it is a literal backslash); escapes \r \n \t \f and octal \NNN stand for those bytes;
    /// any other backslash is literal (the corpus' chunk-extension quoting keeps \" and \\ as two bytes, per its spans).
    /// </summary>
    internal static byte[] DecodeHttp(string[] lines)
    {
        var text = new StringBuilder();
        for (int i = 0; i < lines.Length; i++)
        {
            string l = lines[i];
            int slashes = 0;
            while (slashes < l.Length && l[l.Length - 1 - slashes] == '\\') slashes++;
            if (slashes % 2 == 1 && i < lines.Length - 1) text.Append(l, 0, l.Length - 1);
            else
            {
                text.Append(l);
                if (i < lines.Length - 1) text.Append("\n"); // marker for CRLF, replaced below
            }
        }
        var s = text.ToString();
        var bytes = new List<byte>();
        for (int i = 0; i < s.Length; i++)
        {
            char c = s[i];
            if (c == '\n') { bytes.Add((byte)'\r'); bytes.Add((byte)'\n'); continue; }
            if (c != '\\' || i + 1 >= s.Length) { bytes.Add((byte)c); continue; }
            char d = s[i + 1];
            switch (d)
            {
                case 'r': bytes.Add((byte)'\r'); i++; break;
                case 'n': bytes.Add((byte)'\n'); i++; break;
                case 't': bytes.Add((byte)'\t'); i++; break;
                case 'f': bytes.Add((byte)'\f'); i++; break;
                case >= '0' and <= '7':
                    int v = 0, k = i + 1;
                    while (k < s.Length && k < i + 4 && s[k] is >= '0' and <= '7') { v = v * 8 + (s[k] - '0'); k++; }
                    bytes.Add((byte)v);
                    i = k - 1;
                    break;
                default: bytes.Add((byte)c); break;
            }
        }
        return bytes.ToArray();
    }

    private static (List<VectorMessage>, bool error, bool upgrade) ParseLog(string[] log, byte[] raw, string where)
    {
        var messages = new List<VectorMessage>();
        VectorMessage? cur = null;
        bool error = false, upgrade = false;
        foreach (var line in log)
        {
            if (!line.StartsWith("off=", StringComparison.Ordinal)) continue;
            int sp = line.IndexOf(' ');
            string rest = line[(sp + 1)..];
            if (rest.StartsWith("message begin", StringComparison.Ordinal)) { cur = new VectorMessage(); messages.Add(cur); continue; }
            if (rest.StartsWith("error code=", StringComparison.Ordinal))
            {
                int code = int.Parse(rest["error code=".Length..rest.IndexOf(' ', "error code=".Length)]);
                if (code is 22 or 23) upgrade = true; // HPE_PAUSED_UPGRADE / HPE_PAUSED_H2_UPGRADE: not an error
                else error = true;
                break;
            }
            if (rest.StartsWith("finish=", StringComparison.Ordinal))
            {
                // llhttp_finish() at the end of the input: 2 (HPE_INVALID_EOF_STATE) means the stream ended inside a message.
                if (rest == "finish=2") error = true;
                continue;
            }
            if (cur == null) continue;
            if (rest.StartsWith("headers complete", StringComparison.Ordinal))
            {
                cur.HeadersComplete = true;
                int st = rest.IndexOf("status=", StringComparison.Ordinal);
                if (st >= 0) cur.StatusCode = int.Parse(rest[(st + 7)..rest.IndexOf(' ', st)]);
            }
            else if (rest.StartsWith("message complete", StringComparison.Ordinal)) cur.Complete = true;
            else if (rest.StartsWith("len=", StringComparison.Ordinal))
            {
                int off = int.Parse(line[4..sp]);
                int len = int.Parse(rest[4..rest.IndexOf(' ')]);
                var target = rest.Contains("span[method]", StringComparison.Ordinal) ? cur.Method
                    : rest.Contains("span[url]", StringComparison.Ordinal) ? cur.Url
                    : rest.Contains("span[body]", StringComparison.Ordinal) ? cur.Body : null;
                if (target == null) continue;
                if (off + len > raw.Length) throw new InvalidDataException($"{where}: span {line} lies beyond the decoded input ({raw.Length} bytes)");
                target.Write(raw, off, len);
            }
        }
        return (messages, error, upgrade);
    }
}
