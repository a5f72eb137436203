using Baton.Lab;

namespace Baton.ClusterTests;

/// <summary>
/// Protocol details a user met (issue 13): a chunked body whose chunk size overflows or is not hex
/// gets 400 and a close, not a silent close; an HTTP/1.0 client that asks to keep the connection is
/// told so, and one that does not sees the close. On a back-end (after a hand-off) and on the router.
/// </summary>
[Collection(ClusterCollection.Name)]
public sealed class ProtocolDetailTests(ClusterFixture fixture)
{
    private BatonLab Lab => fixture.Lab;

    [Theory]
    [InlineData("/be1/echo", "FFFFFFFFFFFFFFFFF1")]
    [InlineData("/be1/echo", "zz")]
    [InlineData("/router/echo", "FFFFFFFFFFFFFFFFF1")]
    [InlineData("/router/echo", "zz")]
    public async Task A_chunk_size_that_overflows_or_is_not_hex_gets_400_and_a_close(string path, string size)
    {
        using var s = await Lab.ConnectClientAsync();
        var http = new RawHttp(s);
        await http.SendAsync($"POST {path} HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n{size}\r\nabc\r\n0\r\n\r\n");
        var r = await http.ReadResponseAsync(TimeSpan.FromSeconds(10));
        Assert.Equal(400, r.Status);
        // A fixed line: the size the client sent is in the log, not echoed back.
        Assert.Equal("400 Bad Request: invalid request body framing\n", r.Text);
        Assert.Equal("close", r.Header("Connection"));
        Assert.True(await http.WaitForCloseAsync(TimeSpan.FromSeconds(10)), "no close after the 400");
    }

    [Theory]
    [InlineData("/be2/a")]
    [InlineData("/router/a")]
    public async Task An_http10_client_asking_for_keep_alive_is_told_and_kept(string path)
    {
        using var s = await Lab.ConnectClientAsync();
        var http = new RawHttp(s);
        for (int i = 0; i < 2; i++)
        {
            await http.SendAsync($"GET {path} HTTP/1.0\r\nHost: t\r\nConnection: Keep-Alive\r\n\r\n");
            var r = await http.ReadResponseAsync(TimeSpan.FromSeconds(10));
            Assert.Equal(200, r.Status);
            Assert.Equal("keep-alive", r.Header("Connection"), ignoreCase: true);
        }
    }

    [Theory]
    [InlineData("/be2/a")]
    [InlineData("/router/a")]
    public async Task An_http10_client_without_keep_alive_sees_the_close(string path)
    {
        using var s = await Lab.ConnectClientAsync();
        var http = new RawHttp(s);
        await http.SendAsync($"GET {path} HTTP/1.0\r\nHost: t\r\n\r\n");
        var r = await http.ReadResponseAsync(TimeSpan.FromSeconds(10));
        Assert.Equal(200, r.Status);
        Assert.True(await http.WaitForCloseAsync(TimeSpan.FromSeconds(10)), "an HTTP/1.0 response without keep-alive must end with a close");
    }
}
