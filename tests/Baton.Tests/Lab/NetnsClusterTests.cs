
namespace Baton.Tests.Lab;

public sealed class NetnsClusterTests
{
    [Theory]
    [InlineData(1, "1")]
    [InlineData(2, "3")]
    [InlineData(31, "7fffffff")]
    [InlineData(32, "ffffffff")]
    [InlineData(40, "ff,ffffffff")]
    [InlineData(64, "ffffffff,ffffffff")]
    public void CpuMask_is_the_sysfs_bitmap_of_every_cpu(int cpus, string mask) =>
        Assert.Equal(mask, Baton.Steering.Rps.CpuMask(cpus));
}
