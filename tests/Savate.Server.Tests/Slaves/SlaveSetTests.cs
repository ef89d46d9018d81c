using Microsoft.Extensions.Logging.Abstractions;
using Savate.Relay;
using Savate.Server.Relaying;
using Savate.TestSupport;
using Xunit;

namespace Savate.Server.Tests.Slaves;

public sealed class SlaveSetTests
{
    private static SlaveAnnouncement Slave(string url, int listeners, int max, params (string Mount, int Listeners, int? Max)[] mounts) =>
        new(new Uri(url), listeners, max, TimeSpan.FromSeconds(10), mounts.ToDictionary(m => m.Mount, m => (m.Listeners, m.Max)));

    [Fact]
    public void Pick_ChoosesTheLeastLoadedSlaveThatRelaysTheMount()
    {
        var slaves = new SlaveSet(new ManualTimeProvider(), NullLogger.Instance);
        slaves.Announce(Slave("http://a:8000", 50, 100, ("/live.flv", 50, null)));
        slaves.Announce(Slave("http://b:8000", 100, 1000, ("/live.flv", 100, null)));
        slaves.Announce(Slave("http://c:8000", 0, 1000, ("/other.flv", 0, null)));

        Assert.Equal("http://b:8000", slaves.Pick("/live.flv"));
        Assert.Equal("http://c:8000", slaves.Pick("/other.flv"));
        Assert.Null(slaves.Pick("/nowhere.flv"));
    }

    [Fact]
    public void Pick_FullSlaveOrFullMount_IsSkipped()
    {
        var slaves = new SlaveSet(new ManualTimeProvider(), NullLogger.Instance);
        slaves.Announce(Slave("http://a:8000", 10, 10, ("/live.flv", 10, null)));
        slaves.Announce(Slave("http://b:8000", 0, 100, ("/live.flv", 5, 5)));

        Assert.Null(slaves.Pick("/live.flv"));
    }

    [Fact]
    public void Pick_CountsItsRedirectsUntilTheNextPoll()
    {
        var slaves = new SlaveSet(new ManualTimeProvider(), NullLogger.Instance);
        slaves.Announce(Slave("http://a:8000", 0, 2, ("/live.flv", 0, null)));

        Assert.Equal("http://a:8000", slaves.Pick("/live.flv"));
        Assert.Equal("http://a:8000", slaves.Pick("/live.flv"));
        Assert.Null(slaves.Pick("/live.flv"));
        slaves.Announce(Slave("http://a:8000", 1, 2, ("/live.flv", 1, null)));
        Assert.Equal("http://a:8000", slaves.Pick("/live.flv"));
    }

    [Fact]
    public void Pick_SlaveSilentForThreePollIntervals_IsForgotten()
    {
        var time = new ManualTimeProvider();
        var slaves = new SlaveSet(time, NullLogger.Instance);
        slaves.Announce(Slave("http://a:8000", 0, 100, ("/live.flv", 0, null)));

        time.Advance(TimeSpan.FromSeconds(29));
        Assert.Equal("http://a:8000", slaves.Pick("/live.flv"));
        time.Advance(TimeSpan.FromSeconds(1));
        Assert.Null(slaves.Pick("/live.flv"));
        Assert.Empty(slaves.Snapshot());
    }

    [Fact]
    public void Announcement_RoundTripsThroughHeaders()
    {
        var sent = Slave("http://slave-1.example:8000/", 3, 100, ("/live.flv", 2, 50), ("/a=b.ts", 1, null));
        var headers = sent.ToHeaders().ToDictionary(h => h.Key, h => h.Value, StringComparer.OrdinalIgnoreCase);

        var read = SlaveAnnouncement.Parse(name => headers.GetValueOrDefault(name));

        Assert.NotNull(read);
        Assert.Equal("http://slave-1.example:8000", headers[SlaveAnnouncement.PublicUrlHeader]);
        Assert.Equal(3, read.Listeners);
        Assert.Equal(100, read.MaxListeners);
        Assert.Equal(TimeSpan.FromSeconds(10), read.PollInterval);
        Assert.Equal((2, (int?)50), read.Mounts["/live.flv"]);
        Assert.Equal((1, (int?)null), read.Mounts["/a=b.ts"]);
    }

    [Theory]
    [InlineData("ftp://slave:21", "1", "10")]
    [InlineData("http://slave:8000/?x=1", "1", "10")]
    [InlineData("http://slave:8000", "many", "10")]
    [InlineData("http://slave:8000", "1", "-5")]
    public void Announcement_Malformed_IsIgnored(string url, string listeners, string max)
    {
        var headers = new Dictionary<string, string>
        {
            [SlaveAnnouncement.PublicUrlHeader] = url,
            [SlaveAnnouncement.ListenersHeader] = listeners,
            [SlaveAnnouncement.MaxListenersHeader] = max,
        };

        Assert.Null(SlaveAnnouncement.Parse(name => headers.GetValueOrDefault(name)));
    }
}
