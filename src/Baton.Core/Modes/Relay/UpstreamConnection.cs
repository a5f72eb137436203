using System.Net.Sockets;
using Baton.Http;

namespace Baton.Modes.Relay;

/// <summary>One keep-alive TCP connection to an origin, with its read buffer.</summary>
internal sealed class UpstreamConnection(Socket socket) : IDisposable
{
    public Socket Socket { get; } = socket;

    /// <summary>The origin's bytes; response heads are framed from it and bodies read through it.</summary>
    public HttpInput Input { get; } = new(socket);

    /// <summary>When it was last put back in the pool (TimeProvider timestamp).</summary>
    public long IdleSince { get; set; }

    /// <summary>Whether it came from the pool (it served a request before).</summary>
    public bool Reused { get; set; }

    /// <summary>
    /// An idle connection must have nothing to read: readable means the origin closed it (FIN or
    /// reset) or sent bytes no request asked for. Either way it cannot carry a request. A close
    /// that races with this check is caught later by the retry rules.
    /// </summary>
    public bool LooksIdleAndOpen()
    {
        try
        {
            return Input.Unread.IsEmpty && !Socket.Poll(0, SelectMode.SelectRead);
        }
        catch (Exception e) when (Faults.IsConnectionLost(e))
        {
            return false;
        }
    }

    public void Dispose()
    {
        Socket.Dispose();
        Input.Dispose();
    }
}
