using Savate.Server.Streaming;
using Savate.Server.Tests.Fakes;
using Xunit;

namespace Savate.Server.Tests.Streaming;

public sealed class PartialInputBudgetTests
{
    private static SourceSession Session(Mount mount, string remote) => new(mount, remote);

    [Fact]
    public void Update_WithinBudget_DropsNobodyAndCountsTheTotal()
    {
        using var mount = TestMounts.Create();
        var budget = new PartialInputBudget(() => 100);
        var a = Session(mount, "a");
        var b = Session(mount, "b");

        Assert.Null(budget.Update(a, 40));
        Assert.Null(budget.Update(b, 60));
        Assert.Null(budget.Update(a, 30));

        Assert.Equal(90, budget.Total);
    }

    [Fact]
    public void Update_OverBudget_ReturnsTheSourceHoldingTheMost_AndStopsCountingIt()
    {
        using var mount = TestMounts.Create();
        var budget = new PartialInputBudget(() => 100);
        var big = Session(mount, "big");
        var small = Session(mount, "small");
        Assert.Null(budget.Update(big, 80));

        var over = budget.Update(small, 30);

        Assert.NotNull(over);
        Assert.Same(big, over.Value.Session);
        Assert.Equal(80, over.Value.Held);
        Assert.Equal(110, over.Value.Total);
        Assert.Equal(30, budget.Total);
        // The dropped source's own last report changes nothing.
        budget.Remove(big);
        Assert.Equal(30, budget.Total);
    }

    [Fact]
    public void Remove_SourceLeaves_GivesItsBytesBack()
    {
        using var mount = TestMounts.Create();
        var budget = new PartialInputBudget(() => 100);
        var a = Session(mount, "a");
        Assert.Null(budget.Update(a, 70));

        budget.Remove(a);

        Assert.Equal(0, budget.Total);
    }

    [Theory]
    [InlineData("127.0.0.1:5000", "127.0.0.1")]
    [InlineData("[::1]:8000", "[::1]")]
    [InlineData("relay", "relay")]
    public void AddressOf_RemoteEndPoint_DropsThePort(string remote, string expected) =>
        Assert.Equal(expected, SourceGuard.AddressOf(remote));
}
