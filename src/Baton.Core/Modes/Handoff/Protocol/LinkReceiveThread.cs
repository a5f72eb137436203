using System.Net.Sockets;

namespace Baton.Modes.Handoff.Protocol;

/// <summary>
/// Takes a control link's messages on a thread of its own: it waits with poll(2) on the link's
/// socket and then reads, so that a message wakes one thread. Awaiting the link's receive alone
/// wakes .NET's epoll thread and then a pool thread, the second wake-up often tens of µs later on
/// a busy 2-core host (docs/design.md, "Where a control round trip goes"). The handler runs on this
/// thread and must not block for long: every later message of the link waits for it. The agent
/// uses it; the router's links stay on the async loop, where a thread of their own cost router CPU
/// in an A/B (docs/design.md).
/// </summary>
internal static class LinkReceiveThread
{
    // How often a wait for the next message looks at the cancellation token.
    private static readonly TimeSpan PollSlice = TimeSpan.FromMilliseconds(250);

    /// <summary>
    /// Receives until the peer closes the link (then completes), the link fails or
    /// <paramref name="ct"/> is cancelled (then faults with that exception).
    /// </summary>
    internal static Task RunAsync(ControlLink link, Socket socket, string name, Action<ControlMessage> handle, CancellationToken ct)
    {
        var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var thread = new Thread(() =>
        {
            try
            {
                while (true)
                {
                    // A frame already buffered (or part of one) is read without waiting on the socket.
                    if (!link.HasBufferedInput)
                        while (!socket.Poll(PollSlice, SelectMode.SelectRead)) ct.ThrowIfCancellationRequested();
                    // Completes at once: the data is there. Only a frame still arriving in parts waits.
                    if (Wait(link.ReceiveAsync(ct)) is not { } m) break;
                    handle(m);
                }
                done.TrySetResult();
            }
            catch (Exception e)
            {
                done.TrySetException(e);
            }
        })
        { IsBackground = true, Name = name };
        thread.Start();
        return done.Task;
    }

    /// <summary>The result of <paramref name="pending"/>, blocking this thread when it is not there yet.</summary>
    private static T Wait<T>(ValueTask<T> pending) =>
        pending.IsCompletedSuccessfully ? pending.Result : pending.AsTask().GetAwaiter().GetResult();
}
