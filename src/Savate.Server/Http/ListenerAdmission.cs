using Savate.Server.Streaming;

namespace Savate.Server.Http;

/// <summary>
/// Who may listen: the one decision shared by the connection-level path (<see cref="RawListener"/>) and
/// Kestrel's (<see cref="ListenerHandler"/>). Every refusal is a 503 with a reason.
/// </summary>
internal static class ListenerAdmission
{
    /// <summary>
    /// Registers a listener on the mount, or returns null and why not. A slave's relay pull
    /// (<paramref name="relay"/>) is counted but never refused for max-listeners.
    /// </summary>
    public static Listener? TryAdmit(MountRegistry registry, Mount mount, IListenerSink sink, string remote, string? userAgent, out string refusal, bool relay = false)
    {
        refusal = string.Empty;
        if (mount.Availability == MountAvailability.NoSource)
        {
            refusal = $"{mount.Path} has no source right now";
            registry.Refusals.On(Metrics.RefusalReason.NoSource);
            return null;
        }
        if (!registry.TryAcquireListenerSlot(ignoreLimit: relay))
        {
            refusal = "Server full (max-listeners)";
            registry.Refusals.On(Metrics.RefusalReason.MaxListeners);
            return null;
        }
        var listener = new Listener(mount, sink, remote, userAgent);
        if (!mount.TryAddListener(listener, ignoreLimit: relay))
        {
            registry.ReleaseListenerSlot();
            refusal = $"{mount.Path} is full (max-listeners)";
            registry.Refusals.On(Metrics.RefusalReason.MountFull);
            return null;
        }
        return listener;
    }

    /// <summary>Undoes <see cref="TryAdmit"/> once the listener is done.</summary>
    public static void Leave(MountRegistry registry, Mount mount, Listener listener)
    {
        mount.RemoveListener(listener);
        registry.OnListenerLeft(mount);
        registry.ReleaseListenerSlot();
        Admin.ListenerMover.RetireIfIdle(mount);
        registry.AccessLog?.LogListener(mount.CarrierFor ?? mount, listener);
    }
}
