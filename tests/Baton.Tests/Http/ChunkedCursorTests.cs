using System.Buffers;
using System.Text;
using Baton.Http;

namespace Baton.Tests.Http;

/// <summary>
/// <see cref="ChunkedCursor"/> meets a body in pieces, as a pump reads it off a socket: every split
/// must give what one whole scan gives (<see cref="ChunkedFraming.Scan"/>, which FramerTests hold to
/// the RFC's rules), and a piece that can never become valid is refused as soon as it is seen.
/// </summary>
public sealed class ChunkedCursorTests
{
    private const string Body = "3;a=b\r\nabc\r\n10\r\n0123456789abcdef\r\n1;q=\"x y\"\r\nZ\r\n0\r\nX-Trailer: t\r\nX-Other: u\r\n\r\n";

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    [InlineData(7)]
    [InlineData(1000)]
    public void A_body_in_pieces_ends_where_one_scan_ends(int piece)
    {
        var wire = Encoding.ASCII.GetBytes(Body + "GET /next HTTP/1.1\r\n");
        Assert.Equal(FrameStatus.Complete, ChunkedFraming.Scan(wire, out int length, out _));

        var cursor = new ChunkedCursor();
        var data = new ArrayBufferWriter<byte>();
        int taken = 0, received = 0;
        while (!cursor.Done)
        {
            Assert.True(received < wire.Length, "the body never ended");
            received = Math.Min(wire.Length, received + piece);
            taken += cursor.Advance(wire.AsSpan(taken, received - taken), out string? error, data);
            Assert.Null(error);
        }
        Assert.Equal(length, taken);
        Assert.Equal("abc0123456789abcdefZ", Encoding.ASCII.GetString(data.WrittenSpan));
    }

    [Fact]
    public void Data_sent_on_another_way_is_counted_off_and_the_framing_after_it_still_checked()
    {
        var cursor = new ChunkedCursor();
        Assert.Equal(9, cursor.Advance("30000\r\nab"u8, out var error));
        Assert.Null(error);
        Assert.Equal(0x30000 - 2, cursor.DataLeft);
        cursor.SkipData(0x30000 - 2);
        Assert.Equal(0, cursor.DataLeft);
        Assert.Throws<ArgumentOutOfRangeException>(() => cursor.SkipData(1));
        cursor.Advance("xy"u8, out error);
        Assert.Equal("chunk data not followed by CRLF", error);
    }

    [Theory]
    [InlineData("5\r\nhelloXY", "chunk data not followed by CRLF")]
    [InlineData("5\r\nhello\rX", "chunk data not followed by CRLF")]
    [InlineData("zz\r\n", "invalid character in chunk size")]
    [InlineData("x", "invalid chunk size line")]
    [InlineData("5\nhello", "bare CR or LF in chunk size line")]
    [InlineData("0\r\nBad Field\r\n", "header field without a name")]
    public void A_piece_that_can_never_be_valid_is_refused_at_once(string piece, string expected)
    {
        var cursor = new ChunkedCursor();
        cursor.Advance(Encoding.ASCII.GetBytes(piece), out string? error);
        Assert.NotNull(error);
        Assert.Contains(expected, error);
    }
}
