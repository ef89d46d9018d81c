namespace Savate.Server.Streaming.Ingest;

/// <summary>The packets that carried the latest PAT and PMT.</summary>
internal sealed class TsJoinHeaders(byte[] programPackets, IReadOnlyList<string> codecs) : JoinHeaders
{
    public byte[] ProgramPackets { get; } = programPackets;

    public override IReadOnlyList<string> Codecs { get; } = codecs;

    public override byte[] BuildJoin(long time) => ProgramPackets;

    public override byte[] BuildUpdate(long time) => ProgramPackets;
}
