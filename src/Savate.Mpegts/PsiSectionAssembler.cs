namespace Savate.Mpegts;

/// <summary>
/// Reassembles the PSI sections of one PID (ISO 13818-1 2.4.4): pointer_field, sections spanning
/// packets, several sections per packet, 0xFF stuffing. Keeps the raw packets that carried the
/// section being assembled, so a relay can replay them to a late joiner. Buffers are allocated
/// once and reused.
/// </summary>
internal sealed class PsiSectionAssembler
{
    /// <summary>A PAT/PMT section is at most 1024 bytes (section_length ≤ 1021).</summary>
    public const int MaxSectionSize = 1024;

    // A 1024-byte section starting at the end of one packet spans at most 7 packets.
    private const int MaxPackets = 8;
    private const int PacketSize = TsPacketHeader.PacketSize;

    private readonly byte[] _section = new byte[MaxSectionSize];
    private readonly byte[] _packets = new byte[MaxPackets * PacketSize];
    private readonly byte[] _accepted = new byte[MaxSectionSize];
    private int _acceptedLength = -1;
    private int _length;
    private int _expected;
    private int _packetCount;
    private bool _active;
    private int _lastContinuityCounter = -1;

    /// <summary>Forgets the section in progress and the last accepted one.</summary>
    public void Reset()
    {
        _active = false;
        _acceptedLength = -1;
        _lastContinuityCounter = -1;
    }

    /// <summary>True when <paramref name="section"/> is byte for byte the last accepted section.</summary>
    public bool IsSameAsAccepted(ReadOnlySpan<byte> section) =>
        _acceptedLength == section.Length && section.SequenceEqual(_accepted.AsSpan(0, _acceptedLength));

    public void Accept(ReadOnlySpan<byte> section)
    {
        section.CopyTo(_accepted);
        _acceptedLength = section.Length;
    }

    /// <summary>Feeds one packet of this PID; returns true when a section it completed changed the program.</summary>
    public bool Push(ReadOnlySpan<byte> packet, in TsPacketHeader header, TsDemuxer owner, PsiTable table)
    {
        if (!header.HasPayload || header.TransportError || header.PayloadOffset >= PacketSize)
        {
            return false;
        }

        var cc = header.ContinuityCounter;
        var previousCc = _lastContinuityCounter;
        _lastContinuityCounter = cc;
        var payload = packet[header.PayloadOffset..PacketSize];
        var changed = false;

        if (!header.PayloadUnitStart)
        {
            if (!_active)
            {
                return false;
            }

            if (cc == previousCc)
            {
                // A duplicate packet (allowed once by the spec) carries nothing new.
                return false;
            }

            if (previousCc >= 0 && cc != ((previousCc + 1) & 0x0F))
            {
                // A lost packet: the section cannot be completed.
                _active = false;
                return false;
            }

            AddPacket(packet);
            Append(payload, owner, table, ref changed);
            return changed;
        }

        var pointer = payload[0];
        payload = payload[1..];
        if (pointer > payload.Length)
        {
            _active = false;
            return false;
        }

        if (_active && pointer > 0 && (previousCc < 0 || cc == ((previousCc + 1) & 0x0F)))
        {
            // The bytes before the pointer end the section started in an earlier packet.
            AddPacket(packet);
            Append(payload[..pointer], owner, table, ref changed);
        }

        _active = false;
        payload = payload[pointer..];
        while (!payload.IsEmpty && payload[0] != 0xFF)
        {
            _active = true;
            _length = 0;
            _expected = -1;
            _packetCount = 0;
            AddPacket(packet);
            var consumed = Append(payload, owner, table, ref changed);
            if (_active)
            {
                break;
            }

            payload = payload[consumed..];
        }

        return changed;
    }

    private void AddPacket(ReadOnlySpan<byte> packet)
    {
        if (_packetCount == MaxPackets)
        {
            _active = false;
            return;
        }

        packet[..PacketSize].CopyTo(_packets.AsSpan(_packetCount * PacketSize));
        _packetCount++;
    }

    /// <summary>Appends section bytes; completes the section when it has all of them. Returns the bytes used.</summary>
    private int Append(ReadOnlySpan<byte> data, TsDemuxer owner, PsiTable table, ref bool changed)
    {
        var used = 0;
        if (_active && _expected < 0)
        {
            var take = Math.Min(3 - _length, data.Length);
            data[..take].CopyTo(_section.AsSpan(_length));
            _length += take;
            used = take;
            if (_length == 3)
            {
                var sectionLength = ((_section[1] & 0x0F) << 8) | _section[2];

                // The shortest long-form section: 5 header bytes after the length, no payload, the CRC.
                if (sectionLength > MaxSectionSize - 3 || sectionLength < 9)
                {
                    _active = false;
                    return data.Length;
                }

                _expected = 3 + sectionLength;
            }
        }

        if (_active && _expected > 0)
        {
            var take = Math.Min(_expected - _length, data.Length - used);
            data.Slice(used, take).CopyTo(_section.AsSpan(_length));
            _length += take;
            used += take;
            if (_length == _expected)
            {
                _active = false;
                changed |= owner.OnSection(table, this, _section.AsSpan(0, _length), _packets.AsSpan(0, _packetCount * PacketSize));
            }
        }

        return used;
    }
}

internal enum PsiTable
{
    Pat,
    Pmt,
}
