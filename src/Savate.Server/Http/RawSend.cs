using System.Net.Sockets;
using System.Runtime.InteropServices;

namespace Savate.Server.Http;

/// <summary>
/// One non-blocking gather send straight to the socket's descriptor: <c>sendmsg(fd, iov, MSG_DONTWAIT | MSG_NOSIGNAL)</c>
/// on 64-bit Linux, the send loops' hot path (<see cref="SocketListenerSink.Send"/>). <c>Socket.Send(IList&lt;ArraySegment&gt;)</c>
/// does the same syscall with, around it, a pinned <c>GCHandle</c> allocated and freed per buffer (a handle table both
/// send loops share), a list of segments built per send, and its checks: at 5,000 listeners that was about a third of
/// the user-space time per send (docs/benchmarks.md, round 5). Here the buffers are pinned by <c>fixed</c> (free unless
/// a collection happens during the call) and the iovecs live on the stack. The descriptor is held through the
/// <see cref="SafeHandle"/> for the call only (the P/Invoke adds and releases a reference), so a socket closed
/// meanwhile is never written to under a reused number.
/// </summary>
internal static unsafe partial class RawSend
{
    /// <summary>Most buffers one call takes (a batch is at most this: Listener.MaxBatchSlices slices and a head).</summary>
    public const int MaxBuffers = 9;

    private const int MsgPeek = 0x2;
    private const int MsgDontWait = 0x40;
    private const int MsgNoSignal = 0x4000;
    private const int EIntr = 4;
    private const int EAgain = 11;

    /// <summary>Linux, 64-bit: the struct layouts below are those of glibc and musl there.</summary>
    public static bool IsSupported { get; } = OperatingSystem.IsLinux() && Environment.Is64BitProcess
        && Environment.GetEnvironmentVariable("SAVATE_RAW_SEND") != "0";

    [StructLayout(LayoutKind.Sequential)]
    private struct IoVec
    {
        public byte* Base;
        public nuint Length;
    }

    [StructLayout(LayoutKind.Sequential)]
    private struct MsgHdr
    {
        public void* Name;
        public uint NameLength;
        public IoVec* Iov;
        public nuint IovLength;
        public void* Control;
        public nuint ControlLength;
        public int Flags;
    }

    [LibraryImport("libc", EntryPoint = "sendmsg", SetLastError = true)]
    private static partial nint SendMsg(SafeSocketHandle socket, MsgHdr* message, int flags);

    // One buffer (most batches at the default flush interval: one slice): send(2) spares the kernel copying in and
    // checking a msghdr and an iovec array.
    [LibraryImport("libc", EntryPoint = "send", SetLastError = true)]
    private static partial nint SendOne(SafeSocketHandle socket, byte* buffer, nuint length, int flags);

    /// <summary>
    /// Sends the first <see cref="MaxBuffers"/> of <paramref name="buffers"/> at once. Returns the bytes the kernel
    /// took (0 and <see cref="SocketError.WouldBlock"/> when it took none); <paramref name="error"/> says why it stopped.
    /// A disposed socket is <see cref="SocketError.OperationAborted"/>.
    /// </summary>
    public static int Send(SafeSocketHandle socket, ReadOnlySpan<ReadOnlyMemory<byte>> buffers, out SocketError error)
    {
        // Unrolled so that one fixed statement pins them all; an absent buffer is empty (a null pointer, length 0).
        var n = Math.Min(buffers.Length, MaxBuffers);
        var s0 = n > 0 ? buffers[0].Span : default;
        var s1 = n > 1 ? buffers[1].Span : default;
        var s2 = n > 2 ? buffers[2].Span : default;
        var s3 = n > 3 ? buffers[3].Span : default;
        var s4 = n > 4 ? buffers[4].Span : default;
        var s5 = n > 5 ? buffers[5].Span : default;
        var s6 = n > 6 ? buffers[6].Span : default;
        var s7 = n > 7 ? buffers[7].Span : default;
        var s8 = n > 8 ? buffers[8].Span : default;
        fixed (byte* p0 = s0, p1 = s1, p2 = s2, p3 = s3, p4 = s4, p5 = s5, p6 = s6, p7 = s7, p8 = s8)
        {
            var iov = stackalloc IoVec[MaxBuffers];
            var count = 0;
            Add(iov, ref count, p0, s0.Length);
            Add(iov, ref count, p1, s1.Length);
            Add(iov, ref count, p2, s2.Length);
            Add(iov, ref count, p3, s3.Length);
            Add(iov, ref count, p4, s4.Length);
            Add(iov, ref count, p5, s5.Length);
            Add(iov, ref count, p6, s6.Length);
            Add(iov, ref count, p7, s7.Length);
            Add(iov, ref count, p8, s8.Length);
            if (count == 0)
            {
                error = SocketError.Success;
                return 0;
            }
            var message = new MsgHdr { Iov = iov, IovLength = (nuint)count };
            while (true)
            {
                nint sent;
                try
                {
                    sent = count == 1
                        ? SendOne(socket, iov[0].Base, iov[0].Length, MsgDontWait | MsgNoSignal)
                        : SendMsg(socket, &message, MsgDontWait | MsgNoSignal);
                }
                catch (ObjectDisposedException)
                {
                    error = SocketError.OperationAborted;
                    return 0;
                }
                if (Finish(sent, out var bytes, out error))
                {
                    return bytes;
                }
            }
        }
    }

    [LibraryImport("libc", EntryPoint = "recv", SetLastError = true)]
    private static partial nint Recv(SafeSocketHandle socket, byte* buffer, nuint length, int flags);

    /// <summary>
    /// One non-blocking receive (<c>recv(fd, buffer, MSG_DONTWAIT)</c>, with MSG_PEEK when asked), whatever the
    /// descriptor's mode: the front door's peek at a request head and the socket watcher's drain of what a listener
    /// sends (<see cref="SocketWatcher"/>). A blocking Socket's own receive goes through the runtime's socket context,
    /// which the socket would then keep. Returns the bytes read, 0 at the peer's
    /// FIN; <see cref="SocketError.WouldBlock"/> when there is nothing to read.
    /// </summary>
    public static int Receive(SafeSocketHandle socket, Span<byte> buffer, out SocketError error, bool peek = false)
    {
        var flags = MsgDontWait | (peek ? MsgPeek : 0);
        fixed (byte* pointer = buffer)
        {
            while (true)
            {
                nint read;
                try
                {
                    read = Recv(socket, pointer, (nuint)buffer.Length, flags);
                }
                catch (ObjectDisposedException)
                {
                    error = SocketError.OperationAborted;
                    return 0;
                }
                if (Finish(read, out var bytes, out error))
                {
                    return bytes;
                }
            }
        }
    }

    // One call's result, for sends and receives alike: the bytes, or why none; false when a signal interrupted it (call again).
    private static bool Finish(nint result, out int bytes, out SocketError error)
    {
        bytes = 0;
        if (result >= 0)
        {
            bytes = (int)result;
            error = SocketError.Success;
            return true;
        }
        var errno = Marshal.GetLastPInvokeError();
        error = errno == EAgain ? SocketError.WouldBlock : ToSocketError(errno);
        return errno != EIntr;
    }

    private static void Add(IoVec* iov, ref int count, byte* pointer, int length)
    {
        if (length > 0)
        {
            iov[count].Base = pointer;
            iov[count].Length = (nuint)length;
            count++;
        }
    }

    // The errors a send on a connected stream socket meets; anything else is just a failure.
    private static SocketError ToSocketError(int errno) => errno switch
    {
        32 => SocketError.Shutdown, // EPIPE
        104 => SocketError.ConnectionReset, // ECONNRESET
        9 => SocketError.OperationAborted, // EBADF
        110 => SocketError.TimedOut, // ETIMEDOUT
        _ => SocketError.SocketError,
    };
}
