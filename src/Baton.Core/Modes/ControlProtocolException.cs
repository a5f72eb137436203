namespace Baton.Modes;

/// <summary>
/// A link between Baton's processes (router and agent, router and worker) is not, or no longer,
/// to be trusted: a bad tag, sequence or version, a malformed frame, or a message out of turn.
/// </summary>
public sealed class ControlProtocolException(string message) : Exception(message);
