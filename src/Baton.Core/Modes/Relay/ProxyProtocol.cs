using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;

namespace Baton.Modes.Relay;

/// <summary>
/// The PROXY protocol, version 2 (haproxy.org/download/2.6/doc/proxy-protocol.txt): a binary header
/// at the start of a connection naming the client and the address it reached, which nginx
/// (<c>listen ... proxy_protocol</c>) and HAProxy (<c>accept-proxy</c>) read natively.
/// </summary>
internal static class ProxyProtocol
{
    private static ReadOnlySpan<byte> Signature => [0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D, 0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A];

    private const byte Proxy = 0x21; // version 2, PROXY: the connection was relayed for a client
    private const byte Local = 0x20; // version 2, LOCAL: the sender's own connection (a health check)
    private const byte TcpOverIPv4 = 0x11, TcpOverIPv6 = 0x21, Unspecified = 0x00;

    /// <summary>The header for a connection relayed for <paramref name="client"/>, who reached <paramref name="reached"/>.</summary>
    public static byte[] For(IPEndPoint client, IPEndPoint reached)
    {
        var (src, dst) = (client.Address, reached.Address);
        if (src.IsIPv4MappedToIPv6) src = src.MapToIPv4();
        if (dst.IsIPv4MappedToIPv6) dst = dst.MapToIPv4();
        if (src.AddressFamily != dst.AddressFamily)
            (src, dst) = (src.MapToIPv6(), dst.MapToIPv6());
        bool v4 = src.AddressFamily == AddressFamily.InterNetwork;
        int addressLength = v4 ? 4 : 16;
        var header = new byte[16 + 2 * addressLength + 4];
        Signature.CopyTo(header);
        header[12] = Proxy;
        header[13] = v4 ? TcpOverIPv4 : TcpOverIPv6;
        BinaryPrimitives.WriteUInt16BigEndian(header.AsSpan(14), (ushort)(2 * addressLength + 4));
        src.TryWriteBytes(header.AsSpan(16, addressLength), out _);
        dst.TryWriteBytes(header.AsSpan(16 + addressLength, addressLength), out _);
        BinaryPrimitives.WriteUInt16BigEndian(header.AsSpan(16 + 2 * addressLength), (ushort)client.Port);
        BinaryPrimitives.WriteUInt16BigEndian(header.AsSpan(18 + 2 * addressLength), (ushort)reached.Port);
        return header;
    }

    /// <summary>The header of a connection the sender makes for itself (a probe): no addresses.</summary>
    public static byte[] ForLocal()
    {
        var header = new byte[16];
        Signature.CopyTo(header);
        header[12] = Local;
        header[13] = Unspecified;
        return header;
    }
}

/// <summary>
/// An origin that learns each connection's client from a PROXY protocol v2 header
/// (<c>--forward-proxy-protocol</c>). The header names one client, so a connection is that
/// client's alone and is never pooled for another; probes send the LOCAL form, which carries no
/// address, so the origin does not log them as broken headers.
/// </summary>
internal sealed class ProxyProtocolConnector(OriginConnector inner) : OriginConnector
{
    public override string Description => $"{inner.Description} (PROXY protocol v2)";

    public override string Authority => inner.Authority;

    public override bool SharedAcrossClients => false;

    public override async ValueTask<Socket> ConnectAsync(IPEndPoint client, EndPoint? local, CancellationToken ct)
    {
        var socket = await inner.ConnectAsync(client, local, ct).ConfigureAwait(false);
        try
        {
            var header = local is IPEndPoint reached ? ProxyProtocol.For(client, reached) : ProxyProtocol.ForLocal();
            await socket.SendAsync(header, SocketFlags.None, ct).ConfigureAwait(false);
            return socket;
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }

    public override ValueTask<string?> ProbeAsync(TimeSpan timeout, CancellationToken ct) =>
        ProbeByConnectingAsync(inner, ProxyProtocol.ForLocal(), Description, timeout, ct);
}
