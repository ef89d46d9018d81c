using System.Buffers;
using System.IO.Pipelines;
using System.Text;
using Savate.Server.Http;
using Xunit;

namespace Savate.Server.Tests.Http;

/// <summary>A Content-Length body read from the connection itself (Http/SizedBodyReader.cs).</summary>
public sealed class SizedBodyReaderTests
{
    [Fact]
    public async Task Read_BodyThenMore_ShowsTheBodyOnlyAndCompletesWithTheConnectionOpen()
    {
        var pipe = new Pipe();
        var body = new SizedBodyReader(pipe.Reader, 5);
        await pipe.Writer.WriteAsync(Encoding.ASCII.GetBytes("abcdeGET / HTTP/1.1"));

        var result = await body.ReadAsync();

        Assert.True(result.IsCompleted);
        Assert.Equal("abcde", Encoding.ASCII.GetString(result.Buffer.ToArray()));
        body.AdvanceTo(result.Buffer.End);
        Assert.Equal(0, body.Left);
        var after = await body.ReadAsync();
        Assert.True(after.IsCompleted);
        Assert.True(after.Buffer.IsEmpty);
        body.AdvanceTo(after.Buffer.End);
    }

    [Fact]
    public async Task Read_InPieces_PartlyConsumed_CountsWhatIsLeft()
    {
        var pipe = new Pipe();
        var body = new SizedBodyReader(pipe.Reader, 10);
        await pipe.Writer.WriteAsync(Encoding.ASCII.GetBytes("0123"));

        var first = await body.ReadAsync();
        Assert.False(first.IsCompleted);
        body.AdvanceTo(first.Buffer.GetPosition(2), first.Buffer.End);
        Assert.Equal(8, body.Left);
        await pipe.Writer.WriteAsync(Encoding.ASCII.GetBytes("456789XYZ"));
        var second = await body.ReadAsync();

        Assert.True(second.IsCompleted);
        Assert.Equal("23456789", Encoding.ASCII.GetString(second.Buffer.ToArray()));
    }

    [Fact]
    public async Task Read_BodyAndCloseTogether_EveryByteShown()
    {
        // What Kestrel's own reader refuses ("Unexpected end of request content"): the last bytes came with the FIN.
        var pipe = new Pipe();
        var body = new SizedBodyReader(pipe.Reader, 6);
        await pipe.Writer.WriteAsync(Encoding.ASCII.GetBytes("abcdef"));
        await pipe.Writer.CompleteAsync();

        var result = await body.ReadAsync();

        Assert.True(result.IsCompleted);
        Assert.Equal("abcdef", Encoding.ASCII.GetString(result.Buffer.ToArray()));
    }

    [Fact]
    public async Task Read_ConnectionEndsEarly_CompletesShort()
    {
        var pipe = new Pipe();
        var body = new SizedBodyReader(pipe.Reader, 100);
        await pipe.Writer.WriteAsync(Encoding.ASCII.GetBytes("abc"));
        await pipe.Writer.CompleteAsync();

        var result = await body.ReadAsync();
        body.AdvanceTo(result.Buffer.End);

        Assert.True(result.IsCompleted);
        Assert.Equal(97, body.Left);
    }
}
