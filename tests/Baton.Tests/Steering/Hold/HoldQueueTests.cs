using System.Diagnostics;
using System.Net;
using Baton.Steering.Hold;

namespace Baton.Tests.Steering.Hold;

public sealed class HoldQueueTests
{
    private static readonly IPEndPoint A = new(IPAddress.Parse("10.77.45.10"), 40001), B = new(IPAddress.Parse("10.77.45.10"), 40002);

    private static HoldQueue Queue(int perConnFrames = 4, int perConnBytes = 1000, int totalFrames = 6, long totalBytes = 10_000) =>
        new(new HoldLimits(perConnFrames, perConnBytes, totalFrames, totalBytes, TimeSpan.FromSeconds(1)));

    private static byte[] Frame(byte tag, int length = 10)
    {
        var f = new byte[length];
        f[0] = tag;
        return f;
    }

    [Fact]
    public void Frames_come_back_in_arrival_order_per_connection()
    {
        var q = Queue();
        q.Open(A, 0);
        q.Open(B, 0);
        Assert.Equal(HoldResult.Held, q.Add(A, Frame(1)));
        Assert.Equal(HoldResult.Held, q.Add(B, Frame(9)));
        Assert.Equal(HoldResult.Held, q.Add(A, Frame(2)));
        Assert.Equal(HoldResult.Held, q.Add(A, Frame(3)));
        Assert.Equal(4, q.Frames);
        Assert.Equal(40, q.Bytes);
        Assert.Equal([1, 2, 3], q.Take(A).Select(f => (int)f[0]));
        Assert.False(q.IsHeld(A));
        Assert.Equal([9], q.Take(B).Select(f => (int)f[0]));
        Assert.Equal(0, q.Frames);
        Assert.Equal(0, q.Bytes);
        Assert.Equal(0, q.Connections);
    }

    [Fact]
    public void Only_opened_connections_are_held_and_a_take_ends_the_hold()
    {
        var q = Queue();
        Assert.Equal(HoldResult.NotHeld, q.Add(A, Frame(1)));
        Assert.Empty(q.Take(A));
        q.Open(A, 0);
        q.Add(A, Frame(1));
        q.Open(A, 0); // again: what is held stays
        Assert.Single(q.Take(A));
        Assert.Equal(HoldResult.NotHeld, q.Add(A, Frame(2))); // landed: late frames are not kept
    }

    [Fact]
    public void Per_connection_frame_and_byte_bounds_drop_what_overflows_and_keep_the_rest()
    {
        var q = Queue(perConnFrames: 2, perConnBytes: 25);
        q.Open(A, 0);
        q.Open(B, 0);
        Assert.Equal(HoldResult.Held, q.Add(A, Frame(1)));
        Assert.Equal(HoldResult.Held, q.Add(A, Frame(2)));
        Assert.Equal(HoldResult.Overflow, q.Add(A, Frame(3))); // third frame
        Assert.Equal(HoldResult.Held, q.Add(B, Frame(4, 20)));
        Assert.Equal(HoldResult.Overflow, q.Add(B, Frame(5, 6))); // 26 bytes
        Assert.Equal(HoldResult.Held, q.Add(B, Frame(6, 5))); // 25: fits exactly
        Assert.Equal([1, 2], q.Take(A).Select(f => (int)f[0]));
        Assert.Equal([4, 6], q.Take(B).Select(f => (int)f[0]));
    }

    [Fact]
    public void Total_bounds_apply_across_connections_and_free_up_on_take()
    {
        var q = Queue(perConnFrames: 10, perConnBytes: 10_000, totalFrames: 3, totalBytes: 35);
        q.Open(A, 0);
        q.Open(B, 0);
        q.Add(A, Frame(1));
        q.Add(A, Frame(2));
        Assert.Equal(HoldResult.Held, q.Add(B, Frame(3)));
        Assert.Equal(HoldResult.Overflow, q.Add(B, Frame(4))); // 4 frames in total
        q.Take(A);
        Assert.Equal(HoldResult.Held, q.Add(B, Frame(5, 25))); // 35 bytes in total
        Assert.Equal(HoldResult.Overflow, q.Add(B, Frame(6, 1)));
        Assert.Equal([3, 5], q.Take(B).Select(f => (int)f[0]));
    }

    [Fact]
    public void Dropping_a_connection_discards_only_its_frames()
    {
        var q = Queue();
        q.Open(A, 0);
        q.Open(B, 0);
        q.Add(A, Frame(1));
        q.Add(A, Frame(2));
        q.Add(B, Frame(3));
        Assert.Equal(2, q.Drop(A));
        Assert.False(q.IsHeld(A));
        Assert.Equal(1, q.Frames);
        Assert.Equal([3], q.Take(B).Select(f => (int)f[0]));
    }

    [Fact]
    public void Frames_older_than_the_max_age_expire_and_the_connection_stays_held()
    {
        var q = Queue();
        long second = Stopwatch.Frequency;
        q.Open(A, 0);
        q.Open(B, second);
        q.Add(A, Frame(1));
        q.Add(B, Frame(2));
        Assert.Equal(0, q.Expire(second)); // A: exactly 1 s, not more
        Assert.Equal(1, q.Expire(second + second / 2)); // A only
        Assert.True(q.IsHeld(A));
        Assert.Equal(HoldResult.Held, q.Add(A, Frame(3)));
        Assert.Equal([3], q.Take(A).Select(f => (int)f[0]));
        Assert.Equal([2], q.Take(B).Select(f => (int)f[0]));
    }
}
