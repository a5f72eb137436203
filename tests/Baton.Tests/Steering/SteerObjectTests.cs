using Baton.Lab;
using Baton.Steering.Bpf;

namespace Baton.Tests.Steering;

/// <summary>The committed, embedded eBPF object is what its source compiles to.</summary>
public sealed class SteerObjectTests
{
    [Fact]
    public void Embedded_object_is_the_build_of_steer_bpf_c()
    {
        string dir = Path.Combine(Loopback.RepositoryRoot(), "src", "Baton.Core", "Steering", "Bpf");
        string built = Path.Combine(Path.GetTempPath(), $"btbpf-steer-{Guid.NewGuid():N}.o");
        try
        {
            Netns.Exec(Path.Combine(dir, "build.sh"), built);
            var fresh = File.ReadAllBytes(built);
            Assert.True(fresh.AsSpan().SequenceEqual(File.ReadAllBytes(Path.Combine(dir, "steer.bpf.o"))),
                "steer.bpf.o is not the build of steer.bpf.c: run src/Baton.Core/Steering/Bpf/build.sh and commit both");
            Assert.True(fresh.AsSpan().SequenceEqual(SteerProgram.EmbeddedObject()), "the embedded object differs from steer.bpf.o: rebuild Baton.Core");
        }
        finally { File.Delete(built); }
    }
}
