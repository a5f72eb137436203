using System.Net.Sockets;
using Baton.Interop;

namespace Baton.Modes.Handoff.Protocol;

/// <summary>
/// Takes a control link's messages on a thread of its own (a <see cref="PollLoop"/>): it waits in
/// poll(2) on the link's socket and then reads, so that a message wakes one thread. Awaiting the
/// link's receive alone wakes .NET's epoll thread and then a pool thread, the second wake-up often
/// tens of µs later on a busy 2-core host (docs/design.md, "Where a control round trip goes"). The
/// handler runs on this thread and must not block for long: every later message of the link waits
/// for it. The agent uses it; the router's links stay on the async loop, where a thread of their
/// own cost router CPU in an A/B (docs/design.md).
/// </summary>
internal static class LinkReceiveThread
{
    /// <summary>
    /// Receives until the peer closes the link (then completes), the link fails or
    /// <paramref name="ct"/> is cancelled (then faults with that exception, at once: the loop's
    /// eventfd wakes it, where it used to notice only at its next 250 ms poll slice).
    /// </summary>
    internal static Task RunAsync(ControlLink link, Socket socket, string name, Action<ControlMessage> handle, CancellationToken ct)
    {
        var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        int fd = (int)socket.Handle; // for poll(2) only: the link closes its socket after this loop ends
        CancellationTokenRegistration cancel = default;
        var loop = new PollLoop(name,
            set =>
            {
                ct.ThrowIfCancellationRequested();
                // A frame already buffered (or part of one) is read without waiting on the socket.
                if (link.HasBufferedInput) return 0;
                set.Add(fd);
                return -1;
            },
            set =>
            {
                ct.ThrowIfCancellationRequested();
                if (!link.HasBufferedInput && !set.Ready(0)) return; // woken, nothing to read
                // Completes at once: the data is there. Only a frame still arriving in parts waits.
                if (Wait(link.ReceiveAsync(ct)) is not { } m)
                {
                    set.Stop();
                    return;
                }
                handle(m);
            },
            error =>
            {
                cancel.Dispose();
                if (error is null) done.TrySetResult();
                else done.TrySetException(error);
            });
        cancel = ct.Register(static l => ((PollLoop)l!).Wake(), loop);
        if (done.Task.IsCompleted) cancel.Dispose(); // the loop ended before the registration was made
        return done.Task;
    }

    /// <summary>The result of <paramref name="pending"/>, blocking this thread when it is not there yet.</summary>
    private static T Wait<T>(ValueTask<T> pending) =>
        pending.IsCompletedSuccessfully ? pending.Result : pending.AsTask().GetAwaiter().GetResult();
}
