using System.Buffers.Binary;
using System.Net.Sockets;
using Baton.Application;
using Baton.Http;
using Baton.Tests.Support;

namespace Baton.Tests.Application;

/// <summary>The built-in application as the wire sees it: how many data segments a response takes.</summary>
public sealed class BuiltInApplicationTests
{
    [Theory]
    [InlineData("GET /bytes/5 HTTP/1.1\r\nHost: h\r\n\r\n", 5)]
    [InlineData("GET /bytes/16384 HTTP/1.1\r\nHost: h\r\n\r\n", 16384)]
    [InlineData("POST /echo HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\n\r\nhello", 5)]
    [InlineData("GET /hello HTTP/1.1\r\nHost: h\r\n\r\n", -1)]
    public async Task A_small_response_leaves_in_one_send_head_and_body_together(string request, int bodyLength)
    {
        // On loopback one send of up to 64 KiB is one segment (the MSS is ~64 KiB): two sends, the
        // head and then the body, were two segments, and a client reading once saw the head alone.
        using var pair = LoopbackPair.Create();
        using var input = new HttpInput(pair.Server);
        pair.ClientSends(System.Text.Encoding.ASCII.GetBytes(request));
        var head = (await input.ReadHeadAsync(RequestHeadParser.DefaultHeadLimit, Timeout.InfiniteTimeSpan, CancellationToken.None)).Head!;
        var tx = new BatonTransaction(head, input, input.OpenBody(head), pair.Server, "be1", TimeSpan.Zero, _ => Task.CompletedTask);
        uint before = DataSegmentsOut(pair.Server);
        await new BuiltInApplication().ServeAsync(tx, CancellationToken.None).WaitAsync(LoopbackPair.HangGuard);
        Assert.Equal(1u, DataSegmentsOut(pair.Server) - before);
        var reply = new byte[70_000];
        int n = pair.Client.Receive(reply);
        string text = System.Text.Encoding.ASCII.GetString(reply, 0, n);
        Assert.StartsWith("HTTP/1.1 200 OK", text);
        if (bodyLength >= 0) Assert.Equal(bodyLength, n - (text.IndexOf("\r\n\r\n", StringComparison.Ordinal) + 4));
    }

    // struct tcp_info's tcpi_data_segs_out (Linux 4.6+): segments sent that carried data, ACKs not counted.
    private static uint DataSegmentsOut(Socket socket)
    {
        Span<byte> info = stackalloc byte[232];
        int length = socket.GetRawSocketOption(6 /* IPPROTO_TCP */, 11 /* TCP_INFO */, info);
        Assert.True(length >= 160, $"TCP_INFO gave {length} bytes");
        return BinaryPrimitives.ReadUInt32LittleEndian(info[156..]);
    }
}
