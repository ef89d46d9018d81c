using System.IO.Pipelines;
using Microsoft.Extensions.Logging.Abstractions;
using Savate.Server.Configuration;
using Savate.Server.Http;
using Savate.Server.Streaming;

namespace Savate.Fuzz.Targets;

/// <summary>
/// Savate's own reading of a source body (chunked bodies are Kestrel's to decode; a raw source's body, with no
/// length, is read by Savate itself): an admitted source on a mount of format auto, its body arriving a few
/// bytes per read through a pipe, run by <see cref="SourceRunner"/>: format sniffing, the FLV or TS ingest,
/// slices into the ring. Nothing may escape, the session must end as completed or refused for bad data, and
/// once the mount is gone every pooled buffer must be back.
/// </summary>
internal static class SourceBodyTarget
{
    private static readonly SavateConfig s_config = new()
    {
        Server = new ServerConfig { FlushInterval = TimeSpan.Zero },
        Mounts = [new MountConfig { Path = "/fuzz" }],
    };

    public static void Run(byte[] input) => RunAsync(input).GetAwaiter().GetResult();

    private static async Task RunAsync(byte[] input)
    {
        var registry = new MountRegistry(s_config, TimeProvider.System, NullLoggerFactory.Instance);
        try
        {
            var access = new Savate.Server.Auth.AccessControl(TimeProvider.System, NullLogger<Savate.Server.Auth.AccessControl>.Instance);
            var admission = await SourceAdmission.AdmitAsync(registry, access, new Savate.Server.Auth.AccessRequest { Remote = "fuzz", Path = "/fuzz", UserAgent = "fuzz" },
                null, expectsContinue: false, CancellationToken.None);
            if (!admission.IsAccepted)
            {
                throw new FuzzInvariantException($"source refused before any byte: {admission.StatusCode} {admission.Message}");
            }
            // Inline schedulers: each write is read (and ingested) before the next one, so reads split the body
            // exactly where the writes do, the same way on every replay.
            var pipe = new Pipe(new PipeOptions(readerScheduler: PipeScheduler.Inline, writerScheduler: PipeScheduler.Inline, pauseWriterThreshold: 0, useSynchronizationContext: false));
            var transport = new FuzzTransport(pipe.Reader);
            var run = SourceRunner.RunAsync(admission, transport, NullLogger.Instance);
            var writeSize = Segments.SplitSize(input) * 16;
            for (var offset = 0; offset < input.Length && !run.IsCompleted; offset += writeSize)
            {
                await pipe.Writer.WriteAsync(input.AsMemory(offset, Math.Min(writeSize, input.Length - offset)));
            }
            await pipe.Writer.CompleteAsync();
            await run.WaitAsync(TimeSpan.FromSeconds(30));
            if (transport.Outcome is null)
            {
                throw new FuzzInvariantException("source session ended without an answer (neither 200 nor a refusal)");
            }
            if (registry.Find("/fuzz")?.Source is not null)
            {
                throw new FuzzInvariantException("source session ended but still holds its mount");
            }
        }
        finally
        {
            registry.Dispose();
        }
        if (registry.Pool.Outstanding != 0)
        {
            throw new FuzzInvariantException($"{registry.Pool.Outstanding} pooled buffers not returned after the mount closed");
        }
    }

    private sealed class FuzzTransport(PipeReader body) : ISourceTransport
    {
        public string? Outcome { get; private set; }

        public PipeReader Body => body;

        public CancellationToken Aborted => CancellationToken.None;

        public ValueTask ContinueAsync() => ValueTask.CompletedTask;

        public ValueTask AcceptAsync()
        {
            Outcome = "200";
            return ValueTask.CompletedTask;
        }

        public ValueTask RefuseAsync(int statusCode, string message)
        {
            Outcome ??= statusCode.ToString(System.Globalization.CultureInfo.InvariantCulture);
            return ValueTask.CompletedTask;
        }

        public void Abort() => Outcome += " aborted";
    }
}
