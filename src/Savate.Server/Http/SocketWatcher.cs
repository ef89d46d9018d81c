using System.Diagnostics;
using System.Net.Sockets;
using System.Runtime.InteropServices;
using System.Threading.Tasks.Sources;

namespace Savate.Server.Http;

/// <summary>
/// One epoll set and one thread that tell when the front door's sockets have something to read: a new connection's
/// request head (the triage waits for it), and a listener's FIN or reset (a departed listener is noticed while it
/// waits for data). The runtime's own way, an async receive, keeps per socket a receive event-args object, a socket
/// context registered with the runtime's engine, a receive operation and its callback, and a state machine for the
/// watch: about 760 bytes a listener for its whole life (docs/benchmarks.md, round 7). A watch here is a slot in a
/// table (one reference) and the descriptor in the epoll set; the descriptor leaves the set when the socket closes.
/// Each watch is one-shot (EPOLLONESHOT): its target hears once, then re-arms it or removes it. Targets run on the
/// watcher's thread and must be quick. x86-64 Linux (the packed <c>epoll_event</c> is that ABI's); elsewhere, or with
/// <c>SAVATE_SOCKET_WATCHER=0</c>, the callers use async receives as before.
/// </summary>
internal sealed unsafe partial class SocketWatcher
{
    /// <summary>What a watch calls, on the watcher's thread, once its socket is readable, closed by its peer or failed.</summary>
    internal interface ITarget
    {
        void OnReady(long watch);
    }

    public static bool IsSupported { get; } = OperatingSystem.IsLinux() && RuntimeInformation.ProcessArchitecture == Architecture.X64
        && Environment.GetEnvironmentVariable("SAVATE_SOCKET_WATCHER") != "0";

    private static readonly Lazy<SocketWatcher> s_shared = new(() => new SocketWatcher());

    /// <summary>The process's watcher, started on first use.</summary>
    public static SocketWatcher Shared => s_shared.Value;

    private const uint EpollIn = 0x001;
    private const uint EpollRdHup = 0x2000;
    private const uint EpollOneShot = 1u << 30;
    private const int EpollCloexec = 0x80000;
    private const int CtlAdd = 1;
    private const int CtlMod = 3;
    private const int ENoEnt = 2;
    private const int EIntr = 4;
    private const int EExist = 17;
    private const int MaxEvents = 256;

    // x86-64's struct epoll_event is packed: 12 bytes.
    [StructLayout(LayoutKind.Sequential, Pack = 4)]
    private struct EpollEvent
    {
        public uint Events;
        public ulong Data;
    }

    [LibraryImport("libc", EntryPoint = "epoll_create1", SetLastError = true)]
    private static partial int EpollCreate1(int flags);

    [LibraryImport("libc", EntryPoint = "epoll_ctl", SetLastError = true)]
    private static partial int EpollCtl(int epoll, int operation, SafeSocketHandle socket, EpollEvent* ev);

    [LibraryImport("libc", EntryPoint = "epoll_wait", SetLastError = true)]
    private static partial int EpollWait(int epoll, EpollEvent* events, int max, int timeout);

    private readonly int _epoll;
    private readonly Lock _lock = new();
    // A watch is its slot and the slot's generation (so a readiness for a removed watch finds nothing).
    private ITarget?[] _targets = new ITarget?[1024];
    private uint[] _generations = new uint[1024];
    private readonly Stack<int> _free = new();
    private int _slots;
    private int _watching;

    private SocketWatcher()
    {
        _epoll = EpollCreate1(EpollCloexec);
        if (_epoll < 0)
        {
            throw new SocketException(Marshal.GetLastPInvokeError());
        }
        new Thread(Run) { IsBackground = true, Name = "savate-watch" }.Start();
    }

    /// <summary>Watches currently held (a test's and a heap check's figure).</summary>
    public int Watching => Volatile.Read(ref _watching);

    /// <summary>
    /// Arms a one-shot watch for <paramref name="target"/>. Returns the watch (for <see cref="Rearm"/> and
    /// <see cref="Remove"/>), or -1 when the socket is already closed. The target may hear before this returns.
    /// </summary>
    public long Watch(SafeSocketHandle socket, ITarget target)
    {
        long watch;
        lock (_lock)
        {
            if (!_free.TryPop(out var slot))
            {
                if (_slots == _targets.Length)
                {
                    Array.Resize(ref _targets, _targets.Length * 2);
                    Array.Resize(ref _generations, _generations.Length * 2);
                }
                slot = _slots++;
            }
            _targets[slot] = target;
            _watching++;
            watch = ((long)_generations[slot] << 32) | (uint)slot;
        }
        if (!Arm(socket, watch, CtlAdd))
        {
            Remove(watch);
            return -1;
        }
        return watch;
    }

    /// <summary>Arms the watch again after its target heard (more to read later). False when the socket is closed.</summary>
    public bool Rearm(SafeSocketHandle socket, long watch) => Arm(socket, watch, CtlMod);

    /// <summary>Ends a watch (once or more: later calls do nothing). A readiness already on its way finds nothing.</summary>
    public void Remove(long watch)
    {
        if (watch < 0)
        {
            return;
        }
        var slot = (int)(uint)watch;
        lock (_lock)
        {
            if (_generations[slot] != (uint)(watch >> 32))
            {
                return;
            }
            _targets[slot] = null;
            _generations[slot]++;
            _free.Push(slot);
            _watching--;
        }
    }

    /// <summary>
    /// Completes when the socket has something to read, its peer closed or it failed (the caller looks); throws
    /// <see cref="OperationCanceledException"/> when <paramref name="cancellationToken"/> fires first, and
    /// <see cref="ObjectDisposedException"/> when the socket is closed. For the triage of a new connection.
    /// </summary>
    public ValueTask ReadableAsync(Socket socket, CancellationToken cancellationToken)
    {
        var wait = new ReadableWait(this, cancellationToken);
        var watch = Watch(socket.SafeHandle, wait);
        if (watch < 0)
        {
            throw new ObjectDisposedException(nameof(Socket));
        }
        wait.Registered(watch);
        return new ValueTask(wait, 0);
    }

    // An ADD finds the descriptor still in the set after an earlier one-shot (the triage's, then the listener's watch);
    // a MOD after the socket was closed finds it gone.
    private bool Arm(SafeSocketHandle socket, long watch, int operation)
    {
        var ev = new EpollEvent { Events = EpollIn | EpollRdHup | EpollOneShot, Data = (ulong)watch };
        try
        {
            if (EpollCtl(_epoll, operation, socket, &ev) == 0)
            {
                return true;
            }
            var errno = Marshal.GetLastPInvokeError();
            return operation == CtlAdd && errno == EExist && EpollCtl(_epoll, CtlMod, socket, &ev) == 0;
        }
        catch (ObjectDisposedException)
        {
            return false;
        }
    }

    private void Run()
    {
        var events = (EpollEvent*)NativeMemory.Alloc(MaxEvents, (nuint)sizeof(EpollEvent));
        while (true)
        {
            var count = EpollWait(_epoll, events, MaxEvents, -1);
            if (count < 0)
            {
                if (Marshal.GetLastPInvokeError() != EIntr)
                {
                    // Cannot happen with a valid set and buffer; do not spin if it does.
                    Trace.TraceError($"savate: epoll_wait failed ({Marshal.GetLastPInvokeError()})");
                    Thread.Sleep(100);
                }
                continue;
            }
            for (var i = 0; i < count; i++)
            {
                var watch = (long)events[i].Data;
                var slot = (int)(uint)watch;
                ITarget? target;
                lock (_lock)
                {
                    target = slot < _slots && _generations[slot] == (uint)(watch >> 32) ? _targets[slot] : null;
                }
                if (target is null)
                {
                    continue;
                }
                try
                {
                    target.OnReady(watch);
                }
                catch (Exception e)
                {
                    // A bug must cost one connection, not the watcher.
                    Remove(watch);
                    Trace.TraceError($"savate: socket watch failed: {e}");
                }
            }
        }
    }

    /// <summary>A triage's wait for its request head: completes once, on readiness or on cancellation.</summary>
    private sealed class ReadableWait(SocketWatcher watcher, CancellationToken cancellationToken) : ITarget, IValueTaskSource
    {
        private ManualResetValueTaskSourceCore<bool> _core = new() { RunContinuationsAsynchronously = true };
        private int _done;
        private CancellationTokenRegistration _registration;

        public void Registered(long watch)
        {
            _registration = cancellationToken.UnsafeRegister(static (s, _) =>
            {
                var (wait, watch) = ((ReadableWait, long))s!;
                wait.Finish(watch, cancelled: true);
            }, (this, watch));
        }

        public void OnReady(long watch) => Finish(watch, cancelled: false);

        private void Finish(long watch, bool cancelled)
        {
            if (Interlocked.Exchange(ref _done, 1) != 0)
            {
                return;
            }
            watcher.Remove(watch);
            if (cancelled)
            {
                _core.SetException(new OperationCanceledException(cancellationToken));
                return;
            }
            _registration.Unregister();
            _core.SetResult(true);
        }

        public void GetResult(short token) => _core.GetResult(token);

        public ValueTaskSourceStatus GetStatus(short token) => _core.GetStatus(token);

        public void OnCompleted(Action<object?> continuation, object? state, short token, ValueTaskSourceOnCompletedFlags flags) =>
            _core.OnCompleted(continuation, state, token, flags);
    }
}
