using System.Globalization;
using System.Runtime.InteropServices;
using Baton.LocalBench;

// Local-mode benchmark: a real router process and real `baton worker` processes on 127.0.0.1 (the
// loopback lab, no root), keep-alive client connections, one pass and one return per request. The
// router writes every cycle's timings (`baton router --timings`), on the clock it shares with the
// workers; next to them the client's latency and the router's CPU per request, against requests the
// router serves itself.
// Usage: dotnet Baton.LocalBench.dll [--cycles 5000] [--connections 1] [--warmup 1000] [--router N] [--blocks 10] [--out FILE] [--keep-timings FILE] [--commit REV]

CultureInfo.DefaultThreadCurrentCulture = CultureInfo.InvariantCulture;
CultureInfo.CurrentCulture = CultureInfo.InvariantCulture;

Options opts;
try
{
    opts = Options.Parse(args);
}
catch (ArgumentException e)
{
    Console.Error.WriteLine($"local bench: {e.Message}");
    Console.Error.WriteLine(Options.Usage);
    return 64;
}

// Ctrl-C or SIGTERM: stop driving requests and fall through the lab's teardown (it stops the processes it started).
using var sigint = PosixSignalRegistration.Create(PosixSignal.SIGINT, ctx => { ctx.Cancel = true; LocalBench.Stop.Cancel(); });
using var sigterm = PosixSignalRegistration.Create(PosixSignal.SIGTERM, ctx => { ctx.Cancel = true; LocalBench.Stop.Cancel(); });
try
{
    return await LocalBench.RunAsync(opts);
}
catch (OperationCanceledException) when (LocalBench.Stop.IsCancellationRequested)
{
    Console.Error.WriteLine("local bench interrupted; router and workers stopped");
    return 130;
}
catch (Exception e) when (e is InvalidOperationException or IOException or System.Net.Sockets.SocketException or TimeoutException or OperationCanceledException)
{
    Console.Error.WriteLine($"local bench failed: {e.Message}");
    return 1;
}
