using System.Net.Sockets;
using System.Runtime.InteropServices;
using Baton.Http;
using Baton.Interop;
using Microsoft.Extensions.Logging;

namespace Baton.Modes.Relay;

/// <summary>
/// Moves a response body of known length, or one that ends with the close, from one socket to
/// another through a pipe with splice(2): the kernel hands the pages on and the bytes never enter
/// this process (<see cref="BodyPump"/> reads each into a buffer and sends it again). Waits for
/// readiness on the process's <see cref="ReadinessWatch"/>. Where splice cannot be used (an old
/// kernel, a socket type without it) the body is copied instead, and the log says so once.
/// The relay's exchange uses it, so a relaying router and a forwarding back-end share it.
/// </summary>
internal static class SplicePump
{
    /// <summary>
    /// Bodies below this are copied: one read and one send cost less than a pipe's set-up. Also a
    /// chunk's data: Kestrel's 65,520-byte chunks spliced through one pipe for the whole body cost the
    /// router more than copied (bench/compare.sh --origin sample --chunked, relay, 1 MiB, 2 rounds:
    /// router core 1,743–2,225 µs per request against 1,428–1,872 copied), as each splice waited for
    /// readiness on the poll thread where a copy's receive completes inline (a likely cause, not profiled).
    /// </summary>
    public const long Threshold = 64 * 1024;

    // BATON_SPLICE=0 turns it off, for bench/compare.sh's copy contenders (the same run, side by side).
    private static readonly bool Enabled = Environment.GetEnvironmentVariable("BATON_SPLICE") != "0";
    private static int _unavailable;

    /// <summary>Whether a body of <paramref name="length"/> bytes (-1: until the close) goes through the pipe.</summary>
    public static bool Suits(long length) => Enabled && Volatile.Read(ref _unavailable) == 0 && (length < 0 || length >= Threshold);

    /// <summary>
    /// Sends <paramref name="length"/> body bytes (-1: until <paramref name="source"/> ends) to
    /// <paramref name="destination"/>: first those <paramref name="sourceInput"/> already holds,
    /// then the rest straight from the socket.
    /// </summary>
    /// <param name="through">A pipe that serves several copies of one body (a chunked body's data), empty between them; null: one of the copy's own.</param>
    public static async Task<PumpResult> CopyAsync(HttpInput sourceInput, Socket source, long length, Socket destination, TimeSpan idleTimeout, ILogger log, CancellationToken abort,
        SplicePipe? through = null)
    {
        long total = 0;
        using var idle = CancellationTokenSource.CreateLinkedTokenSource(abort);
        if (!sourceInput.Unread.IsEmpty)
        {
            int prefix = (int)Math.Min(sourceInput.Unread.Length, length < 0 ? int.MaxValue : length);
            if (await BodyPump.SendAsync(destination, sourceInput.UnreadMemory[..prefix], 0, idle, idleTimeout, abort).ConfigureAwait(false) is { } failed) return failed;
            sourceInput.Consume(prefix);
            total = prefix;
        }

        // The activity timeout runs from the last bytes moved either way, as BodyPump's does.
        idle.CancelAfter(idleTimeout);
        // splice(2) waits on a socket as its descriptor says, whatever its flags: a blocking one
        // would hold a pool thread (a stalled client, for minutes). .NET's own async calls make
        // the sockets here non-blocking; one that is not is copied.
        if (!IsNonBlocking(source) || !IsNonBlocking(destination))
            return await CopyInsteadAsync(sourceInput, length, total, destination, idleTimeout, log, "a socket in blocking mode", abort, onlyThis: true).ConfigureAwait(false);
        var own = through is null ? new SplicePipe() : null;
        var pipe = through ?? own!;
        int pipeRead = pipe.Read, pipeWrite = pipe.Write;
        try
        {
            long inPipe = 0;
            bool ended = false, spliced = false;
            while (length >= 0 ? total < length : !(ended && inPipe == 0))
            {
                bool filled = false;
                if (!ended && inPipe < SplicePipe.Size && (length < 0 || total + inPipe < length))
                {
                    long want = SplicePipe.Size - inPipe;
                    if (length >= 0) want = Math.Min(want, length - total - inPipe);
                    var (n, errno) = Splice(source, pipeWrite, toPipe: true, want, more: false);
                    if (n > 0) { inPipe += n; filled = true; idle.CancelAfter(idleTimeout); }
                    else if (n == 0)
                    {
                        ended = true;
                        if (length >= 0) return new(PumpEnd.SourceFailed, total, $"connection closed with {length - total - inPipe} body bytes missing");
                    }
                    else if (errno is Libc.EINVAL or Libc.ENOSYS && !spliced && inPipe == 0)
                        return await CopyInsteadAsync(sourceInput, length, total, destination, idleTimeout, log, $"splice(2) from a {source.AddressFamily} socket refused: errno {errno}", abort).ConfigureAwait(false);
                    else if (errno != Libc.EAGAIN) return new(PumpEnd.SourceFailed, total, ErrorText("reading", errno));
                }
                if (inPipe > 0)
                {
                    bool more = length >= 0 ? total + inPipe < length : !ended;
                    var (m, errno) = Splice(destination, pipeRead, toPipe: false, inPipe, more);
                    if (m > 0)
                    {
                        inPipe -= m;
                        total += m;
                        spliced = true;
                        idle.CancelAfter(idleTimeout);
                        continue;
                    }
                    if (errno is Libc.EINVAL or Libc.ENOSYS && !spliced)
                        return new(PumpEnd.DestinationFailed, total, $"splice(2) to a {destination.AddressFamily} socket refused: errno {errno}");
                    if (errno != Libc.EAGAIN) return new(PumpEnd.DestinationFailed, total, ErrorText("sending", errno));
                    if (filled && inPipe < SplicePipe.Size) continue; // the source may fill the pipe further meanwhile
                    if (!await WaitAsync(ReadinessWatch.Shared.WritableAsync(destination, idle.Token)).ConfigureAwait(false))
                        return PumpResult.Stopped(total, abort, idleTimeout, receiverStalled: true);
                }
                else if (!filled && !ended)
                {
                    if (!await WaitAsync(ReadinessWatch.Shared.ReadableAsync(source, idle.Token)).ConfigureAwait(false))
                        return PumpResult.Stopped(total, abort, idleTimeout, receiverStalled: false);
                }
            }
            return new(PumpEnd.Completed, total, null);
        }
        catch (ObjectDisposedException e)
        {
            return new(PumpEnd.Stopped, total, e.Message);
        }
        finally
        {
            own?.Dispose();
        }
    }

    private static async Task<bool> WaitAsync(Task wait)
    {
        try
        {
            await wait.ConfigureAwait(false);
            return true;
        }
        catch (OperationCanceledException)
        {
            return false;
        }
    }

    /// <summary>One splice between <paramref name="socket"/> and a pipe end; (bytes, 0) or (-1, errno).</summary>
    private static (long Bytes, int Errno) Splice(Socket socket, int pipe, bool toPipe, long length, bool more)
    {
        using var lease = new FdLease(socket.SafeHandle);
        uint flags = Libc.SPLICE_F_MOVE | Libc.SPLICE_F_NONBLOCK | (more ? Libc.SPLICE_F_MORE : 0);
        nint n = toPipe
            ? Libc.Splice(lease.Fd, 0, pipe, 0, (nuint)length, flags)
            : Libc.Splice(pipe, 0, lease.Fd, 0, (nuint)length, flags);
        return n >= 0 ? (n, 0) : (-1, Marshal.GetLastPInvokeError());
    }

    private static string ErrorText(string what, int errno) => $"{what} failed: {Marshal.GetPInvokeErrorMessage(errno)} (errno {errno})";

    private static bool IsNonBlocking(Socket socket)
    {
        using var lease = new FdLease(socket.SafeHandle);
        int flags = Libc.Fcntl(lease.Fd, Libc.F_GETFL, 0);
        return flags >= 0 && (flags & Libc.O_NONBLOCK) != 0;
    }

    // Nothing has entered the pipe: the rest of the body is still in the source socket, in order.
    // Splice stays off from then on (logged once), unless only this transfer cannot use it.
    private static async Task<PumpResult> CopyInsteadAsync(HttpInput sourceInput, long length, long sent, Socket destination, TimeSpan idleTimeout, ILogger log, string why, CancellationToken abort, bool onlyThis = false)
    {
        if (!onlyThis && Interlocked.Exchange(ref _unavailable, 1) == 0) RelayLog.SpliceUnavailable(log, why);
        Stream body = length >= 0 ? new ContentLengthBodyStream(sourceInput, length - sent) : new UntilCloseBodyStream(sourceInput);
        var r = await BodyPump.CopyAsync(body, destination, chunk: false, idleTimeout, abort).ConfigureAwait(false);
        return r with { Bytes = r.Bytes + sent };
    }
}

/// <summary>
/// The pipe a splice goes through: socket to pipe, pipe to socket (256 KiB; the kernel's default is
/// 64 KiB). A copy that ends completed leaves it empty, so one body's chunks share it.
/// </summary>
internal sealed class SplicePipe : IDisposable
{
    /// <summary>What the pipe holds between the two splices.</summary>
    public const int Size = 256 * 1024;
    private int _closed;

    public SplicePipe()
    {
        unsafe
        {
            int* fds = stackalloc int[2];
            Libc.Check(Libc.Pipe2(fds, Libc.O_NONBLOCK | Libc.O_CLOEXEC), "pipe2");
            (Read, Write) = (fds[0], fds[1]);
        }
        _ = Libc.Fcntl(Write, Libc.F_SETPIPE_SZ, Size); // a smaller pipe still works
    }

    public int Read { get; }

    public int Write { get; }

    public void Dispose()
    {
        if (Interlocked.Exchange(ref _closed, 1) != 0) return;
        Libc.Close(Read);
        Libc.Close(Write);
    }
}
