using System.Globalization;

namespace Baton.LocalBench;

/// <summary>Command line of the local-mode benchmark.</summary>
internal sealed record Options(int Cycles, int Connections, int Warmup, int RouterLocal, int Blocks, string? Out, string? KeepTimings, string? Commit, IReadOnlyList<string> Given)
{
    public const string Usage = "usage: Baton.LocalBench [--cycles N (5000)] [--connections N (1)] [--warmup N (1000)] [--router N (=cycles)] [--blocks N (10)] [--out FILE] [--keep-timings FILE] [--commit REV]";

    public static Options Parse(string[] args)
    {
        int cycles = 5000, connections = 1, warmup = 1000, blocks = 10;
        int? routerLocal = null;
        string? output = null, commit = null, keep = null;
        var given = new List<string>(); // what the report shows as the command: everything but --out and --commit
        for (int i = 0; i < args.Length; i++)
        {
            string Next() => i + 1 < args.Length ? args[++i] : throw new ArgumentException($"{args[i]} needs a value");
            int Int(int min)
            {
                string name = args[i];
                string value = Next();
                given.AddRange([name, value]);
                return int.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out int v) && v >= min
                    ? v : throw new ArgumentException($"{name} needs an integer ≥ {min}");
            }
            switch (args[i])
            {
                case "--cycles": cycles = Int(1); break;
                case "--connections": connections = Int(1); break;
                case "--warmup": warmup = Int(0); break;
                case "--router": routerLocal = Int(0); break;
                case "--blocks": blocks = Int(1); break;
                case "--out": output = Next(); break;
                case "--keep-timings": keep = Next(); break;
                case "--commit": commit = Next(); break;
                case "-h" or "--help": throw new ArgumentException("help");
                default: throw new ArgumentException($"unknown argument '{args[i]}'");
            }
        }
        return new Options(cycles, Math.Min(connections, cycles), warmup, routerLocal ?? cycles, Math.Min(blocks, cycles), output, keep, commit, given);
    }
}
