using System.Diagnostics;
using System.Globalization;

namespace Baton.Modes.Local.Router;

/// <summary>
/// One local cycle, as Stopwatch timestamps on CLOCK_MONOTONIC, which the router and the worker
/// share on one host: so the worker's two stamps (it holds the socket; it sends it back) sit on the
/// same time line as the router's. Pass: the router starts the transfer → the Pass message is sent →
/// the router's copy is closed, and the worker holds the socket. Return: the worker sends it back →
/// the router's link thread has the message → the descriptor is adopted → the transfer resumes with
/// the socket live, and the router goes back to reading the next request.
/// </summary>
public sealed class LocalCycleTimings
{
    /// <summary>Column names, in the order of <see cref="ToCsv"/>.</summary>
    public const string CsvHeader = "pass_prepare_us,pass_send_us,pass_release_us,pass_router_us,pass_worker_us,pass_total_us,serve_us,ret_link_us,ret_adopt_us,ret_wake_us,ret_total_us,round_trip_us,cycle_us";

    internal long Started, Stamped, Sent, Released;
    internal long WorkerHas, WorkerSent;
    internal long Received, Adopted, Resumed;

    /// <summary>The router's stamp in the Pass message → the worker holds the socket (the worker's clock).</summary>
    public TimeSpan Pass => Stopwatch.GetElapsedTime(Stamped, WorkerHas);

    /// <summary>The worker's stamp in the Return message → the router holds the socket live again.</summary>
    public TimeSpan Return => Stopwatch.GetElapsedTime(WorkerSent, Resumed);

    /// <summary>
    /// One CSV line in microseconds. pass_router: start → Pass sent (the router's share of the pass);
    /// pass_total: start → the worker holds it; ret_total: the worker sends → live at the router;
    /// round_trip: pass_total + ret_total (the cycle without the transaction); cycle: start → live.
    /// </summary>
    public string ToCsv()
    {
        static string Us(long from, long to) =>
            ((to - from) * 1_000_000.0 / Stopwatch.Frequency).ToString("F1", CultureInfo.InvariantCulture);
        long roundTrip = (WorkerHas - Started) + (Resumed - WorkerSent);
        return string.Join(',',
            Us(Started, Stamped), Us(Stamped, Sent), Us(Sent, Released), Us(Started, Sent),
            Us(Stamped, WorkerHas), Us(Started, WorkerHas),
            Us(WorkerHas, WorkerSent),
            Us(WorkerSent, Received), Us(Received, Adopted), Us(Adopted, Resumed), Us(WorkerSent, Resumed),
            Us(0, roundTrip), Us(Started, Resumed));
    }
}
