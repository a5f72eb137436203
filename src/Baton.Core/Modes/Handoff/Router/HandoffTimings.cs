using System.Diagnostics;

namespace Baton.Modes.Handoff.Router;

/// <summary>
/// Router-side time of one hand-off and its return, step by step, in Stopwatch ticks.
/// Hand-off: block, dump, control round trip (Handoff → Ready), steer forward, Go, close.
/// Return: block + Freeze (on ReturnRequest), Freeze → Returned round trip, restore, clear, activate.
/// A connection passed from one agent straight to the next has no router socket: its arrival has
/// no block, dump or close, and its departure (block, Freeze → Returned) no restore, clear or
/// activate; <c>path</c> says which (handoff or pass in, return or pass out).
/// </summary>
public sealed class HandoffTimings
{
    /// <summary>Column names, in the order of <see cref="ToCsv"/>.</summary>
    public const string CsvHeader = "block_us,dump_us,control_rtt_us,steer_us,go_us,handoff_total_us,ret_block_us,ret_rtt_us,restore_us,ret_clear_us,activate_us,return_total_us,path";

    internal long Block, Dump, ControlRtt, Steer, Go; // Dump includes the close of the dumped copy (TcpRepair.DumpAndClose)
    internal long ReturnBlock, ReturnRtt, Restore, ReturnClear, Activate;
    internal long FreezeSentAt;
    internal bool PassedIn, PassedOut;

    /// <summary>Router time from block to its copy closed, after Go.</summary>
    public TimeSpan Handoff => Stopwatch.GetElapsedTime(0, Block + Dump + ControlRtt + Steer + Go);

    /// <summary>Router time of the return, from ReturnRequest received to the socket live.</summary>
    public TimeSpan Return => Stopwatch.GetElapsedTime(0, ReturnBlock + ReturnRtt + Restore + ReturnClear + Activate);

    /// <summary>One CSV line in microseconds.</summary>
    public string ToCsv()
    {
        static string Us(long ticks) => (ticks * 1_000_000.0 / Stopwatch.Frequency).ToString("F1", System.Globalization.CultureInfo.InvariantCulture);
        return string.Join(',', Us(Block), Us(Dump), Us(ControlRtt), Us(Steer), Us(Go),
            Us(Block + Dump + ControlRtt + Steer + Go),
            Us(ReturnBlock), Us(ReturnRtt), Us(Restore), Us(ReturnClear), Us(Activate),
            Us(ReturnBlock + ReturnRtt + Restore + ReturnClear + Activate),
            (PassedIn ? "pass>" : "handoff>") + (PassedOut ? "pass" : "return"));
    }
}
