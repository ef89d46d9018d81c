using System.Net;
using Microsoft.Extensions.Logging.Abstractions;
using Savate.Server.Configuration;
using Savate.Server.Http;
using Savate.Server.Tests.Fakes;
using Xunit;

namespace Savate.Server.Tests.Http;

/// <summary>The caps on connections that have not finished their request head (Http/ConnectionGate.cs), on a fake clock.</summary>
public sealed class ConnectionGateTests
{
    private static readonly IPAddress s_flooder = IPAddress.Parse("127.0.0.1");
    private static readonly IPAddress s_other = IPAddress.Parse("127.0.0.2");
    private readonly ManualTimeProvider _time = new();

    private long _open = 20;

    private ConnectionGate Gate(int maxPending = 100, int perAddress = 10, long? descriptorLimit = null) =>
        new(new ServerConfig { MaxPendingConnections = maxPending, MaxPendingPerAddress = perAddress, RequestHeadTimeout = TimeSpan.FromSeconds(10) },
            _time, NullLogger.Instance, descriptorLimit, () => _open);

    [Fact]
    public void TryAdmit_OverPerAddressCap_RefusesThatAddressOnly()
    {
        var gate = Gate(perAddress: 3);
        var first = Enumerable.Range(0, 3).Select(i => gate.TryAdmit(s_flooder, null)).ToList();
        _time.Advance(TimeSpan.FromSeconds(1));

        Assert.All(first, Assert.NotNull);
        Assert.Null(gate.TryAdmit(s_flooder, null));
        Assert.NotNull(gate.TryAdmit(s_other, null));
        Assert.Equal(4, gate.PendingCount);
        Assert.All(first, p => Assert.Equal(PendingEnd.None, p!.End));
    }

    [Fact]
    public void TryAdmit_OverPerAddressCapWithinABurst_Admitted()
    {
        var gate = Gate(perAddress: 3);
        var burst = Enumerable.Range(0, 6).Select(i => gate.TryAdmit(s_flooder, null)).ToList();
        _time.Advance(TimeSpan.FromSeconds(1));

        Assert.All(burst, Assert.NotNull);
        Assert.Null(gate.TryAdmit(s_flooder, null));
    }

    [Fact]
    public void Dispose_HeadFinished_FreesItsPlace()
    {
        var gate = Gate(perAddress: 1);
        var pending = gate.TryAdmit(s_flooder, null)!;
        _time.Advance(TimeSpan.FromSeconds(1));
        Assert.Null(gate.TryAdmit(s_flooder, null));

        pending.Dispose();

        Assert.Equal(0, gate.PendingCount);
        Assert.NotNull(gate.TryAdmit(s_flooder, null));
    }

    [Fact]
    public void TryAdmit_OverTotalCap_ShedsTheOldest()
    {
        var gate = Gate(maxPending: 3, perAddress: 3);
        var oldest = gate.TryAdmit(s_flooder, null)!;
        var second = gate.TryAdmit(s_flooder, null)!;
        gate.TryAdmit(s_other, null);

        var newcomer = gate.TryAdmit(s_other, null);

        Assert.NotNull(newcomer);
        Assert.Equal(PendingEnd.Shed, oldest.End);
        Assert.True(oldest.Token.IsCancellationRequested);
        Assert.Equal(PendingEnd.None, second.End);
        Assert.Equal(3, gate.PendingCount);
        oldest.Dispose();
        Assert.Equal(3, gate.PendingCount);
    }

    [Fact]
    public void TryAdmit_NearDescriptorLimit_ShedsOldestRefusesFlooderAdmitsNewcomer()
    {
        var gate = Gate(descriptorLimit: 256);
        Assert.Equal(208, gate.DescriptorThreshold);
        var held = Enumerable.Range(0, 5).Select(i => gate.TryAdmit(s_flooder, null)!).ToList();

        // The flooder's next connection comes near the limit: refused, and its oldest is shed.
        _open = 210;
        _time.Advance(TimeSpan.FromSeconds(1));
        Assert.Null(gate.TryAdmit(s_flooder, null));
        Assert.Equal(PendingEnd.Shed, held[0].End);
        // Another address, with nothing pending, still gets in (and makes room in turn).
        var newcomer = gate.TryAdmit(s_other, null);
        Assert.NotNull(newcomer);
        Assert.Equal(PendingEnd.Shed, held[1].End);
        Assert.Equal(PendingEnd.None, held[2].End);
    }

    [Fact]
    public void TryAdmit_NearDescriptorLimitNothingToShed_RefusesEvenANewcomer()
    {
        var gate = Gate(descriptorLimit: 256);
        _open = 250;

        Assert.Null(gate.TryAdmit(s_other, null));
        Assert.Equal(0, gate.PendingCount);
    }

    [Fact]
    public void TryAdmit_BurstBetweenCounts_AdmittedConnectionsCounted()
    {
        var gate = Gate(maxPending: 1000, perAddress: 1000, descriptorLimit: 256);
        _open = 200;

        // No recount within 50 ms: the 9th admitted brings the estimate to the threshold (208).
        var admitted = Enumerable.Range(0, 20).Select(_ => gate.TryAdmit(s_flooder, null)).ToList();

        Assert.All(admitted.Take(8), Assert.NotNull);
        Assert.Null(admitted[8]);
        Assert.True(gate.PendingCount <= 8, $"{gate.PendingCount} pending");
    }

    [Fact]
    public void OnOutOfDescriptors_ShedsAnEighthAtLeastOne()
    {
        var gate = Gate(maxPending: 100, perAddress: 100);
        var held = Enumerable.Range(0, 16).Select(i => gate.TryAdmit(s_flooder, null)!).ToList();

        gate.OnOutOfDescriptors();

        Assert.Equal([PendingEnd.Shed, PendingEnd.Shed], held.Take(2).Select(p => p.End));
        Assert.Equal(PendingEnd.None, held[2].End);
        Assert.Equal(14, gate.PendingCount);
    }

    [Fact]
    public void Token_AfterRequestHeadTimeout_TimedOut()
    {
        var gate = Gate();
        var pending = gate.TryAdmit(s_flooder, null)!;

        _time.Advance(TimeSpan.FromSeconds(9.9));
        Assert.Equal(PendingEnd.None, pending.End);
        _time.Advance(TimeSpan.FromSeconds(0.2));

        Assert.True(pending.Token.IsCancellationRequested);
        Assert.Equal(PendingEnd.TimedOut, pending.End);
    }

    [Fact]
    public void Track_UnknownSocket_StandaloneDeadlineNotCounted()
    {
        var gate = Gate();
        using var pending = gate.Track(null);

        Assert.Equal(0, gate.PendingCount);
        _time.Advance(TimeSpan.FromSeconds(11));
        Assert.Equal(PendingEnd.TimedOut, pending.End);
    }

    [Fact]
    public void ReadDescriptorLimit_OnLinux_ThisProcessLimit()
    {
        var limit = ConnectionGate.ReadDescriptorLimit();
        if (OperatingSystem.IsLinux())
        {
            Assert.NotNull(limit);
            Assert.True(limit > 0);
        }
        else
        {
            Assert.Null(limit);
        }
    }
}
