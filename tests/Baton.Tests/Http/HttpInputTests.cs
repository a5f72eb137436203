using System.Net.Sockets;
using System.Text;
using Baton.Http;
using Baton.Tests.Support;

namespace Baton.Tests.Http;

/// <summary>HttpInput and request bodies over a real loopback TCP connection.</summary>
public class HttpInputTests
{
    private static readonly TimeSpan NoIdle = Timeout.InfiniteTimeSpan;

    private static CancellationToken Guard() => new CancellationTokenSource(LoopbackPair.HangGuard).Token;

    private static byte[] Ascii(string s) => Encoding.ASCII.GetBytes(s);

    private static async Task<RequestHead> ReadHead(HttpInput input)
    {
        var r = await input.ReadHeadAsync(RequestHeadParser.DefaultHeadLimit, NoIdle, Guard());
        Assert.True(r.Status == HeadReadStatus.Head, $"expected a head, got {r.Status} {r.ErrorStatus} {r.ErrorReason}");
        return r.Head!;
    }

    private static async Task<string> ReadBody(HttpInput input, RequestHead head, int bufferSize = 4096)
    {
        using var body = input.OpenBody(head);
        var ms = new MemoryStream();
        var buffer = new byte[bufferSize];
        int n;
        while ((n = await body.ReadAsync(buffer, Guard())) > 0) ms.Write(buffer, 0, n);
        return Encoding.ASCII.GetString(ms.ToArray());
    }

    [Fact]
    public async Task Content_length_body_is_read_whole_even_when_sent_in_pieces()
    {
        using var pair = LoopbackPair.Create();
        using var input = new HttpInput(pair.Server);
        pair.ClientSends(Ascii("POST /upload HTTP/1.1\r\nHost: a\r\nContent-Length: 11\r\n\r\nhel"));

        var head = await ReadHead(input);
        Assert.Equal("POST", head.Method);
        Assert.Equal(11, head.ContentLength);

        var bodyTask = ReadBody(input, head, bufferSize: 4);
        pair.ClientSends(Ascii("lo wo"));
        pair.ClientSends(Ascii("rld"));
        Assert.Equal("hello world", await bodyTask);
        Assert.Equal(0, input.Unread.Length);
    }

    [Fact]
    public async Task Content_length_body_does_not_read_past_its_end()
    {
        using var pair = LoopbackPair.Create();
        using var input = new HttpInput(pair.Server);
        const string next = "GET /next HTTP/1.1\r\nHost: a\r\n\r\n";
        var all = Ascii("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhello" + next);
        pair.ClientSends(all);
        LoopbackPair.WaitForQueued(pair.Server, all.Length);

        var head = await ReadHead(input);
        Assert.Equal("hello", await ReadBody(input, head));
        Assert.Equal(next, Encoding.ASCII.GetString(input.Unread));
        Assert.Equal("/next", (await ReadHead(input)).Path);
    }

    [Fact]
    public async Task Content_length_body_cut_short_by_the_client_is_an_IOException()
    {
        using var pair = LoopbackPair.Create();
        using var input = new HttpInput(pair.Server);
        pair.ClientSends(Ascii("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 10\r\n\r\nabc"));
        pair.Client.Shutdown(SocketShutdown.Send);

        var head = await ReadHead(input);
        await Assert.ThrowsAsync<IOException>(() => ReadBody(input, head));
    }

    [Fact]
    public async Task Chunked_body_with_extensions_and_trailers_is_decoded_and_the_next_request_follows()
    {
        using var pair = LoopbackPair.Create();
        using var input = new HttpInput(pair.Server);
        pair.ClientSends(Ascii(
            "POST /c HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n" +
            "5;name=value\r\nhello\r\n" +
            "6 ; a=b;c=\"q\"\r\n wor"));

        var head = await ReadHead(input);
        Assert.True(head.Chunked);
        var bodyTask = ReadBody(input, head, bufferSize: 3);
        pair.ClientSends(Ascii("ld\r\n"));
        pair.ClientSends(Ascii("A\r\n, chunked!\r\n0;last\r\nX-Trailer: 1\r\nX-Other: 2\r\n\r\n"));
        pair.ClientSends(Ascii("GET /after HTTP/1.1\r\nHost: a\r\n\r\n"));

        Assert.Equal("hello world, chunked!", await bodyTask);
        var next = await ReadHead(input);
        Assert.Equal("GET", next.Method);
        Assert.Equal("/after", next.Path);
        Assert.Null(next["X-Trailer"]);
    }

    [Fact]
    public async Task Chunked_body_with_an_invalid_size_line_is_refused()
    {
        using var pair = LoopbackPair.Create();
        using var input = new HttpInput(pair.Server);
        pair.ClientSends(Ascii("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nhello\r\n0\r\n\r\n"));
        var head = await ReadHead(input);
        await Assert.ThrowsAsync<Baton.Http.BadRequestBodyException>(() => ReadBody(input, head));
    }

    [Fact]
    public async Task Request_without_a_body_has_an_empty_body()
    {
        using var pair = LoopbackPair.Create();
        using var input = new HttpInput(pair.Server);
        pair.ClientSends(Ascii("GET / HTTP/1.1\r\nHost: a\r\n\r\n"));
        var head = await ReadHead(input);
        Assert.Equal("", await ReadBody(input, head));
    }

    [Fact]
    public async Task Pipelined_second_request_stays_in_unread_byte_for_byte()
    {
        using var pair = LoopbackPair.Create();
        using var input = new HttpInput(pair.Server);
        const string first = "GET /first HTTP/1.1\r\nHost: a\r\n\r\n";
        const string second = "GET /second HTTP/1.1\r\nHost: a\r\nX-Pad: 0123456789\r\n\r\n";
        var all = Ascii(first + second);
        pair.ClientSends(all);
        LoopbackPair.WaitForQueued(pair.Server, all.Length);

        var head = await ReadHead(input);
        Assert.Equal("/first", head.Path);
        Assert.Equal(second, Encoding.ASCII.GetString(input.Unread));

        var head2 = await ReadHead(input);
        Assert.Equal("/second", head2.Path);
        Assert.Equal(0, input.Unread.Length);
    }

    [Fact]
    public async Task PutBack_returns_the_parsed_head_to_unread_in_front_of_what_follows()
    {
        using var pair = LoopbackPair.Create();
        using var input = new HttpInput(pair.Server);
        const string first = "GET /moved HTTP/1.1\r\nHost: a\r\n\r\n";
        const string second = "GET /pipelined HTTP/1.1\r\nHost: a\r\n\r\n";
        var all = Ascii(first + second);
        pair.ClientSends(all);
        LoopbackPair.WaitForQueued(pair.Server, all.Length);

        var head = await ReadHead(input);
        input.PutBack(head.Length);
        Assert.Equal(first + second, Encoding.ASCII.GetString(input.Unread));

        // The head can be read again, as a new owner of the bytes would.
        Assert.Equal("/moved", (await ReadHead(input)).Path);
        Assert.Equal("/pipelined", (await ReadHead(input)).Path);
    }

    [Fact]
    public async Task PutBack_of_more_than_was_consumed_is_refused()
    {
        using var pair = LoopbackPair.Create();
        using var input = new HttpInput(pair.Server);
        pair.ClientSends(Ascii("GET / HTTP/1.1\r\nHost: a\r\n\r\n"));
        var head = await ReadHead(input);
        Assert.Throws<ArgumentOutOfRangeException>(() => input.PutBack(head.Length + 1));
        // Nothing moved.
        Assert.Equal(0, input.Unread.Length);
    }

    [Fact]
    public async Task Initial_bytes_are_parsed_before_the_socket_is_read()
    {
        using var pair = LoopbackPair.Create();
        using var input = new HttpInput(pair.Server, Ascii("GET /already HTTP/1.1\r\nHost: a\r\n\r\n"));
        Assert.Equal("/already", (await ReadHead(input)).Path);
        pair.ClientSends(Ascii("GET /later HTTP/1.1\r\nHost: a\r\n\r\n"));
        Assert.Equal("/later", (await ReadHead(input)).Path);
    }

    [Fact]
    public async Task Head_split_across_many_writes_is_assembled()
    {
        using var pair = LoopbackPair.Create();
        using var input = new HttpInput(pair.Server);
        var task = input.ReadHeadAsync(RequestHeadParser.DefaultHeadLimit, NoIdle, Guard()).AsTask();
        foreach (var piece in new[] { "GE", "T /sp", "lit HTTP/1.1\r", "\nHost: a\r\n", "\r", "\n" })
            pair.ClientSends(Ascii(piece));
        var r = await task;
        Assert.Equal(HeadReadStatus.Head, r.Status);
        Assert.Equal("/split", r.Head!.Path);
    }

    [Fact]
    public async Task Head_larger_than_the_first_buffer_is_read()
    {
        using var pair = LoopbackPair.Create();
        using var input = new HttpInput(pair.Server);
        string pad = new('p', 10_000);
        pair.ClientSends(Ascii($"GET /big HTTP/1.1\r\nHost: a\r\nX-Pad: {pad}\r\n\r\n"));
        var head = await ReadHead(input);
        Assert.Equal(pad, head["X-Pad"]);
    }

    [Fact]
    public async Task Client_closing_between_requests_is_closed()
    {
        using var pair = LoopbackPair.Create();
        using var input = new HttpInput(pair.Server);
        pair.Client.Shutdown(SocketShutdown.Send);
        var r = await input.ReadHeadAsync(RequestHeadParser.DefaultHeadLimit, NoIdle, Guard());
        Assert.Equal(HeadReadStatus.Closed, r.Status);
    }

    [Fact]
    public async Task Client_closing_inside_a_head_is_invalid_400()
    {
        using var pair = LoopbackPair.Create();
        using var input = new HttpInput(pair.Server);
        pair.ClientSends(Ascii("GET / HTTP/1.1\r\nHo"));
        pair.Client.Shutdown(SocketShutdown.Send);
        var r = await input.ReadHeadAsync(RequestHeadParser.DefaultHeadLimit, NoIdle, Guard());
        Assert.Equal(HeadReadStatus.Invalid, r.Status);
        Assert.Equal(400, r.ErrorStatus);
    }

    [Fact]
    public async Task Invalid_head_reports_the_parser_status()
    {
        using var pair = LoopbackPair.Create();
        using var input = new HttpInput(pair.Server);
        pair.ClientSends(Ascii("GET / HTTP/1.1\r\nAccept: */*\r\n\r\n"));
        var r = await input.ReadHeadAsync(RequestHeadParser.DefaultHeadLimit, NoIdle, Guard());
        Assert.Equal(HeadReadStatus.Invalid, r.Status);
        Assert.Equal(400, r.ErrorStatus);
    }

    [Fact]
    public async Task Head_over_the_limit_on_the_wire_is_431()
    {
        using var pair = LoopbackPair.Create();
        using var input = new HttpInput(pair.Server);
        pair.ClientSends(Ascii("GET / HTTP/1.1\r\nHost: a\r\nX-Pad: " + new string('p', 3000)));
        var r = await input.ReadHeadAsync(1024, NoIdle, Guard());
        Assert.Equal(HeadReadStatus.Invalid, r.Status);
        Assert.Equal(431, r.ErrorStatus);
    }

    [Fact]
    public async Task Silence_past_the_idle_timeout_is_idle_timeout()
    {
        using var pair = LoopbackPair.Create();
        using var input = new HttpInput(pair.Server);
        var r = await input.ReadHeadAsync(RequestHeadParser.DefaultHeadLimit, TimeSpan.FromMilliseconds(50), Guard());
        Assert.Equal(HeadReadStatus.IdleTimeout, r.Status);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task A_body_read_takes_as_much_as_the_caller_asks_not_a_buffer_at_a_time(bool chunked)
    {
        // 60 KB of body queued at once: a 64 KiB read takes what the input has buffered (with a
        // chunk's size line, the rest of that fill), then the rest in one more (a relay or a forwarder
        // sends each read in one send), not 4 KiB at a time through the input's own buffer (15 reads).
        const int size = 60_000;
        using var pair = LoopbackPair.Create();
        using var input = new HttpInput(pair.Server);
        string framing = chunked ? "Transfer-Encoding: chunked" : $"Content-Length: {size}";
        pair.ClientSends(Ascii($"POST /up HTTP/1.1\r\nHost: a\r\n{framing}\r\n\r\n"));
        var r = await input.ReadHeadAsync(RequestHeadParser.DefaultHeadLimit, NoIdle, Guard());
        Assert.Equal(HeadReadStatus.Head, r.Status);
        var body = new byte[size];
        Random.Shared.NextBytes(body);
        var wire = chunked ? [.. Ascii($"{size:x}\r\n"), .. body, .. Ascii("\r\n0\r\n\r\n")] : body;
        pair.ClientSends(wire);
        LoopbackPair.WaitForQueued(pair.Server, wire.Length);
        using var stream = input.OpenBody(r.Head!);
        var buffer = new byte[64 * 1024];
        var read = new MemoryStream();
        int reads = 0, n;
        while ((n = await stream.ReadAsync(buffer, Guard())) > 0)
        {
            read.Write(buffer, 0, n);
            reads++;
        }
        Assert.True(body.AsSpan().SequenceEqual(read.ToArray()));
        Assert.Equal(chunked ? 2 : 1, reads);
    }
}
