using Savate.Server.Streaming.Feeds;
using Xunit;

namespace Savate.Server.Tests.Streaming;

/// <summary>Every transition of feed selection (live, grace, fallback chain, override) on a manual clock.</summary>
public sealed class FeedSelectorTests
{
    private static readonly TimeSpan Grace = TimeSpan.FromSeconds(2);
    private readonly ManualTimeProvider _time = new();
    private readonly FeedSelector _selector;
    private readonly bool[] _available = new bool[3];
    private bool _live;
    private bool _connected;
    private bool _override = true;

    public FeedSelectorTests() => _selector = new FeedSelector(_time);

    private FeedDecision Decide(bool fallbackEnded = false) =>
        _selector.Decide(new FeedInputs(_live, _connected || _live, _override, Grace, _available.Length, i => _available[i], fallbackEnded));

    private void GoLive()
    {
        _live = true;
        Assert.Equal(FeedAction.PlayLive, Decide().Action);
    }

    private FeedDecision SourceLeaves()
    {
        _live = false;
        _connected = false;
        return _selector.SourceLeft(Grace);
    }

    [Fact]
    public void Decide_NothingAvailable_KeepsPlayingNothing()
    {
        Assert.Equal(FeedDecision.Keep, Decide());
        Assert.Equal(FeedKind.None, _selector.Playing);
        Assert.False(_selector.InGrace);
    }

    [Fact]
    public void Decide_LiveReady_PlaysLive_ThenKeeps()
    {
        GoLive();
        Assert.Equal(FeedKind.Live, _selector.Playing);
        Assert.Equal(FeedDecision.Keep, Decide());
    }

    [Fact]
    public void SourceLeft_WhileLive_HoldsForGrace_EndsAfterIt()
    {
        GoLive();
        var hold = SourceLeaves();
        Assert.Equal(FeedAction.Hold, hold.Action);
        Assert.Equal(_time.GetTimestamp() + Grace.Ticks, hold.GraceUntil);
        Assert.True(_selector.InGrace);

        _time.Advance(Grace - TimeSpan.FromMilliseconds(1));
        Assert.Equal(FeedDecision.Keep, Decide());
        Assert.True(_selector.InGrace);

        _time.Advance(TimeSpan.FromMilliseconds(1));
        Assert.Equal(FeedAction.End, Decide().Action);
        Assert.False(_selector.InGrace);
        Assert.Equal(FeedDecision.Keep, Decide());
    }

    [Fact]
    public void SourceBackWithinGrace_PlaysLive_NoEnd()
    {
        GoLive();
        SourceLeaves();
        _time.Advance(TimeSpan.FromSeconds(1));
        GoLive();
        Assert.False(_selector.InGrace);
        _time.Advance(TimeSpan.FromSeconds(5));
        Assert.Equal(FeedDecision.Keep, Decide());
    }

    [Fact]
    public void GraceExpired_SourceConnectedButNotReady_DoesNotEnd()
    {
        GoLive();
        SourceLeaves();
        _connected = true;
        _time.Advance(Grace);
        Assert.Equal(FeedDecision.Keep, Decide());
        Assert.Equal(FeedKind.None, _selector.Playing);
    }

    [Fact]
    public void SourceLeft_WithFallback_NotUsedWithinGrace_UsedAfter()
    {
        _available[0] = true;
        GoLive();
        SourceLeaves();
        _time.Advance(TimeSpan.FromSeconds(1));
        Assert.Equal(FeedDecision.Keep, Decide());
        _time.Advance(TimeSpan.FromSeconds(1));
        Assert.Equal(new FeedDecision(FeedAction.PlayFallback, 0), Decide());
        Assert.Equal(FeedKind.Fallback, _selector.Playing);
    }

    [Fact]
    public void Decide_NoSourceAtStart_PlaysFirstAvailableFallback()
    {
        _available[1] = true;
        _available[2] = true;
        Assert.Equal(new FeedDecision(FeedAction.PlayFallback, 1), Decide());
        Assert.Equal(FeedDecision.Keep, Decide());

        // An earlier entry becomes available (its mount got a source): it is preferred.
        _available[0] = true;
        Assert.Equal(new FeedDecision(FeedAction.PlayFallback, 0), Decide());
    }

    [Fact]
    public void FallbackUnavailable_NextAvailableIsUsed_NoneHoldsThenEnds()
    {
        _available[0] = true;
        _available[1] = true;
        Decide();
        _available[0] = false;
        Assert.Equal(new FeedDecision(FeedAction.PlayFallback, 1), Decide());

        _available[1] = false;
        var hold = Decide();
        Assert.Equal(FeedAction.Hold, hold.Action);
        Assert.Equal(FeedKind.None, _selector.Playing);
        _time.Advance(Grace);
        Assert.Equal(FeedAction.End, Decide().Action);
    }

    [Fact]
    public void FallbackBackWithinGrace_WaitsForTheGraceToEnd()
    {
        _available[0] = true;
        Decide();
        _available[0] = false;
        Assert.Equal(FeedAction.Hold, Decide().Action);
        _available[0] = true;
        Assert.Equal(FeedDecision.Keep, Decide());
        _time.Advance(Grace);
        Assert.Equal(new FeedDecision(FeedAction.PlayFallback, 0), Decide());
    }

    [Fact]
    public void FallbackEndedByItself_SameEntryStillAvailable_IsRestarted()
    {
        _available[0] = true;
        Decide();
        Assert.Equal(new FeedDecision(FeedAction.PlayFallback, 0), Decide(fallbackEnded: true));
    }

    [Fact]
    public void OverrideOn_LiveReturns_TakesOverFromFallback()
    {
        _available[0] = true;
        Decide();
        GoLive();
        Assert.Equal(FeedKind.Live, _selector.Playing);
    }

    [Fact]
    public void OverrideOff_LiveReturns_FallbackPlaysOnUntilItStops()
    {
        _override = false;
        _available[0] = true;
        Decide();
        _live = true;
        Assert.Equal(FeedDecision.Keep, Decide());
        Assert.Equal(FeedKind.Fallback, _selector.Playing);

        // The fallback becomes unavailable: live takes over.
        _available[0] = false;
        Assert.Equal(FeedAction.PlayLive, Decide().Action);
    }

    [Fact]
    public void OverrideOff_FallbackEnded_LiveTakesOver()
    {
        _override = false;
        _available[0] = true;
        Decide();
        _live = true;
        Assert.Equal(FeedAction.PlayLive, Decide(fallbackEnded: true).Action);
    }

    [Fact]
    public void OverrideTurnedOnByReload_LiveTakesOver()
    {
        _override = false;
        _available[0] = true;
        Decide();
        _live = true;
        Assert.Equal(FeedDecision.Keep, Decide());
        _override = true;
        Assert.Equal(FeedAction.PlayLive, Decide().Action);
    }

    [Fact]
    public void SourceLeft_WhileFallbackPlays_FallbackGoesOn()
    {
        _available[0] = true;
        Decide();
        _connected = true;
        Assert.Equal(FeedDecision.Keep, SourceLeaves());
        Assert.Equal(FeedKind.Fallback, _selector.Playing);
        Assert.False(_selector.InGrace);
    }

    [Fact]
    public void SourceLeft_BeforeItEverPlayed_HoldsForGrace()
    {
        _connected = true;
        Assert.Equal(FeedAction.Hold, SourceLeaves().Action);
        Assert.Equal(FeedDecision.Keep, SourceLeaves());
    }

    [Fact]
    public void PlayingEntryRemovedByReload_MovesToNextAvailable_OrHolds()
    {
        _available[0] = true;
        _available[1] = true;
        Decide();
        _selector.FallbackMoved(-1);
        _available[0] = false;
        Assert.Equal(new FeedDecision(FeedAction.PlayFallback, 1), Decide());

        _selector.FallbackMoved(-1);
        _available[1] = false;
        Assert.Equal(FeedAction.Hold, Decide().Action);
    }

    [Fact]
    public void ZeroGrace_EndsAtTheNextDecision()
    {
        var selector = new FeedSelector(_time);
        _live = true;
        selector.Decide(new FeedInputs(true, true, true, TimeSpan.Zero, 0, _ => false));
        var hold = selector.SourceLeft(TimeSpan.Zero);
        Assert.Equal(_time.GetTimestamp(), hold.GraceUntil);
        Assert.Equal(FeedAction.End, selector.Decide(new FeedInputs(false, false, true, TimeSpan.Zero, 0, _ => false)).Action);
    }
}
