namespace Savate.Server.Streaming;

/// <summary>
/// The slices one walk of a <see cref="MountShare"/> hands out, each referenced once for the walk instead of once
/// per listener. A listener on the send loops borrows its batch from here: a send the kernel takes at once (nearly
/// all of them) then costs no atomic operation on the slices, where taking and dropping a reference per listener
/// made two contended atomic operations per slice per listener, both loops writing the same counters. A batch
/// that has to outlive the walk (a send left for the socket engine to finish) takes references of its own
/// (<see cref="Listener.RetainBatch"/>) before the walk goes on.
/// Owned by the share's send loop: no locking.
/// </summary>
internal sealed class SliceLease
{
    // Direct-mapped by sequence. A batch spans at most Listener.MaxBatchSlices consecutive sequences, fewer than
    // the slots, so taking a slice never drops one the listener being pumped still borrows.
    private const int Slots = 16;
    private readonly Slice?[] _slots = new Slice?[Slots];

    /// <summary>The batch a listener builds in this walk: its slices (borrowed from the slots) and their buffers.</summary>
    public readonly Slice?[] Held = new Slice?[Listener.MaxBatchSlices];

    /// <inheritdoc cref="Held"/>
    public readonly ReadOnlyMemory<byte>[] Batch = new ReadOnlyMemory<byte>[Listener.MaxBatchSlices + 1];

    public SliceLease() => System.Diagnostics.Debug.Assert(Listener.MaxBatchSlices < Slots);

    /// <summary>The slice at <paramref name="sequence"/>, referenced by the lease until <see cref="ReleaseAll"/>; false when the ring no longer has it.</summary>
    public bool TryGet(Ring ring, long sequence, out Slice slice)
    {
        ref var slot = ref _slots[(int)(sequence & (Slots - 1))];
        var held = slot;
        if (held is not null && held.Sequence == sequence)
        {
            slice = held;
            return true;
        }
        if (!ring.TryGet(sequence, out slice))
        {
            return false;
        }
        held?.Release();
        slot = slice;
        return true;
    }

    /// <summary>At the end of a walk: every reference goes back, so a quiet mount holds nothing through its share.</summary>
    public void ReleaseAll()
    {
        Array.Clear(Held);
        for (var i = 0; i < _slots.Length; i++)
        {
            if (_slots[i] is { } slice)
            {
                _slots[i] = null;
                slice.Release();
            }
        }
    }
}
