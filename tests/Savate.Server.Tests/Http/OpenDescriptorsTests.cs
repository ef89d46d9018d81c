using System.Net.Sockets;
using Savate.Server.Http;
using Xunit;

namespace Savate.Server.Tests.Http;

/// <summary>Counting this process's open descriptors (Http/OpenDescriptors.cs): every way agrees and sees sockets open.</summary>
public sealed class OpenDescriptorsTests
{
    // Other tests' threads open and close descriptors meanwhile: the counts are compared within this much.
    private const long Slack = 40;

    [Fact]
    public void Count_EveryMethod_AgreesAndSeesTwoHundredSocketsMore()
    {
        var before = Counts();
        var sockets = Enumerable.Range(0, 200).Select(_ => new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp)).ToList();
        try
        {
            var during = Counts();

            foreach (var (method, count) in during)
            {
                Assert.InRange(count - before[method], 200 - Slack, 200 + Slack);
                Assert.InRange(count, during["listing"] - Slack, during["listing"] + Slack);
            }
        }
        finally
        {
            sockets.ForEach(s => s.Dispose());
        }
    }

    [Fact]
    public void FromDirectorySize_OnThisKernel_GivesTheCountWithoutAListing()
    {
        // Linux 6.2 and later: the directory's size is the count. (Older kernels fall back to readdir, tested above.)
        if (Environment.OSVersion.Version < new Version(6, 2))
        {
            Assert.Null(OpenDescriptors.FromDirectorySize());
            return;
        }
        Assert.NotNull(OpenDescriptors.FromDirectorySize());
        Assert.InRange(OpenDescriptors.Count(), OpenDescriptors.CountByListing() - Slack, OpenDescriptors.CountByListing() + Slack);
    }

    private static Dictionary<string, long> Counts()
    {
        var counts = new Dictionary<string, long>
        {
            ["listing"] = OpenDescriptors.CountByListing(),
            ["readdir"] = OpenDescriptors.CountByReaddir() ?? throw new InvalidOperationException("readdir could not list /proc/self/fd"),
            ["count"] = OpenDescriptors.Count(),
        };
        if (OpenDescriptors.FromDirectorySize() is { } size)
        {
            counts["size"] = size;
        }
        return counts;
    }
}
