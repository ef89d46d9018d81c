namespace Savate.Server.Streaming.Feeds;

/// <summary>What a mount plays.</summary>
internal enum FeedKind
{
    /// <summary>Nothing (no source yet, or listeners held through grace).</summary>
    None,

    /// <summary>The live source.</summary>
    Live,

    /// <summary>An entry of the fallback chain.</summary>
    Fallback,
}

/// <summary>What the mount must do after a decision.</summary>
internal enum FeedAction
{
    /// <summary>Go on as is.</summary>
    Keep,

    /// <summary>Switch to the live source (at its next keyframe).</summary>
    PlayLive,

    /// <summary>Switch to fallback entry <see cref="FeedDecision.FallbackIndex"/> (at its next keyframe).</summary>
    PlayFallback,

    /// <summary>Stop what plays and hold the listeners until <see cref="FeedDecision.GraceUntil"/>, then decide again.</summary>
    Hold,

    /// <summary>Grace is over with nothing to play: the stream ends, its listeners are closed.</summary>
    End,
}

/// <summary>A decision: the action, and its fallback entry or the end of the grace period.</summary>
internal readonly record struct FeedDecision(FeedAction Action, int FallbackIndex = -1, long GraceUntil = 0)
{
    public static FeedDecision Keep => new(FeedAction.Keep);
}

/// <summary>The selector's state: what plays, and until when listeners are held (a <see cref="TimeProvider"/> timestamp).</summary>
internal readonly record struct FeedState(FeedKind Playing, int FallbackIndex, long? GraceUntil)
{
    public static FeedState Initial => new(FeedKind.None, -1, null);
}

/// <summary>What the decision looks at, read by the mount under its lock.</summary>
/// <param name="LiveReady">The live source has its ingest (it can play).</param>
/// <param name="SourceConnected">A source holds the mount (it may still be telling its format): the stream does not end.</param>
/// <param name="Override">yaml <c>override</c>: the live source takes over from a fallback.</param>
/// <param name="Grace">yaml <c>grace</c>.</param>
/// <param name="FallbackCount">Entries in the fallback chain.</param>
/// <param name="IsFallbackAvailable">Whether entry i can play now (a file always; a mount while it has a live source).</param>
/// <param name="FallbackEnded">The fallback feed that was playing ended by itself.</param>
internal readonly record struct FeedInputs(
    bool LiveReady, bool SourceConnected, bool Override, TimeSpan Grace, int FallbackCount, Func<int, bool> IsFallbackAvailable, bool FallbackEnded = false);

/// <summary>
/// Feed selection, the decision part of a mount: live, grace, the fallback chain and override, as a pure function
/// of its inputs, its state and a clock (no timers, no I/O, no locks: the <see cref="Mount"/> calls it under its
/// lock and acts on the result, and schedules a re-evaluation at <see cref="FeedDecision.GraceUntil"/>).
/// <list type="bullet">
/// <item>Live is ready: it plays, unless a fallback plays, <c>override</c> is off and that fallback is still available.</item>
/// <item>The live source leaves: listeners are held for <c>grace</c> (a source back in time just continues).</item>
/// <item>Not in grace, no live: the first available fallback plays; none: a fallback that stopped being available
/// starts a grace period, and a grace period that ran out with nothing to play ends the stream.</item>
/// </list>
/// </summary>
internal sealed class FeedSelector(TimeProvider time)
{
    public FeedState State { get; set; } = FeedState.Initial;

    public FeedKind Playing => State.Playing;

    public int FallbackIndex => State.FallbackIndex;

    public bool InGrace => State.GraceUntil is not null;

    /// <summary>
    /// The live source is gone: listeners following it (or waiting for its first keyframe) are held for the grace
    /// period; a fallback that is playing goes on.
    /// </summary>
    public FeedDecision SourceLeft(TimeSpan grace)
    {
        if (State.Playing == FeedKind.Live || (State.Playing == FeedKind.None && State.GraceUntil is null))
        {
            return Hold(grace);
        }
        return FeedDecision.Keep;
    }

    /// <summary>Decides what plays now, updating the state.</summary>
    public FeedDecision Decide(in FeedInputs inputs)
    {
        var now = time.GetTimestamp();
        var graceExpired = false;
        if (State.GraceUntil is { } until && now >= until)
        {
            State = State with { GraceUntil = null };
            graceExpired = true;
        }

        if (inputs.LiveReady)
        {
            var keepFallback = State.Playing == FeedKind.Fallback && !inputs.Override && !inputs.FallbackEnded && Available(inputs, State.FallbackIndex);
            if (!keepFallback && State.Playing != FeedKind.Live)
            {
                State = new FeedState(FeedKind.Live, -1, null);
                return new FeedDecision(FeedAction.PlayLive);
            }
            return FeedDecision.Keep;
        }

        if (State.Playing == FeedKind.Live)
        {
            // The live source went away without SourceLeft (it never got its ingest going).
            return Hold(inputs.Grace);
        }

        if (State.GraceUntil is not null)
        {
            return FeedDecision.Keep;
        }

        var wanted = -1;
        for (var i = 0; i < inputs.FallbackCount; i++)
        {
            if (Available(inputs, i))
            {
                wanted = i;
                break;
            }
        }

        if (wanted >= 0)
        {
            if (State.Playing != FeedKind.Fallback || State.FallbackIndex != wanted || inputs.FallbackEnded)
            {
                State = new FeedState(FeedKind.Fallback, wanted, null);
                return new FeedDecision(FeedAction.PlayFallback, wanted);
            }
            return FeedDecision.Keep;
        }

        if (State.Playing == FeedKind.Fallback)
        {
            return Hold(inputs.Grace);
        }

        return graceExpired && !inputs.SourceConnected ? new FeedDecision(FeedAction.End) : FeedDecision.Keep;
    }

    /// <summary>The fallback entry playing moved to <paramref name="index"/> in a reloaded chain (-1: it was removed).</summary>
    public void FallbackMoved(int index)
    {
        if (State.Playing == FeedKind.Fallback)
        {
            State = State with { FallbackIndex = index };
        }
    }

    private FeedDecision Hold(TimeSpan grace)
    {
        var until = time.GetTimestamp() + (long)(grace.TotalSeconds * time.TimestampFrequency);
        State = new FeedState(FeedKind.None, -1, until);
        return new FeedDecision(FeedAction.Hold, GraceUntil: until);
    }

    private static bool Available(in FeedInputs inputs, int index) => index >= 0 && index < inputs.FallbackCount && inputs.IsFallbackAvailable(index);
}
