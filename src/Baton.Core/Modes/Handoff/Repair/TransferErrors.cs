namespace Baton.Modes.Handoff.Repair;

/// <summary>
/// TCP_REPAIR was refused for lack of CAP_NET_ADMIN. The message is meant to be shown as is, as
/// one line, to the person who started Baton.
/// </summary>
public sealed class MissingPrivilegeException()
    : Exception("TCP hand-off needs CAP_NET_ADMIN in this network namespace (TCP_REPAIR was refused with EPERM): " +
                "run as root, or use the 'local' or 'relay' transfer mode, which need no privilege.");

/// <summary>The connection is in a state that cannot be moved (not ESTABLISHED, queues changing).</summary>
public sealed class ConnectionNotMovableException(string message) : Exception(message);
