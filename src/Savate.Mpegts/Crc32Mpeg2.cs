namespace Savate.Mpegts;

/// <summary>CRC-32/MPEG-2 (poly 0x04C11DB7, init 0xFFFFFFFF, no reflection, no final xor), as PSI sections use.</summary>
public static class Crc32Mpeg2
{
    private const uint Polynomial = 0x04C11DB7;

    // PSI sections are at most 1 KB and rare (a few per second), so a byte-wise table is plenty.
    private static readonly uint[] _table = CreateTable();

    public static uint Compute(ReadOnlySpan<byte> data)
    {
        var table = _table;
        var crc = 0xFFFFFFFFu;
        foreach (var b in data)
        {
            crc = (crc << 8) ^ table[(byte)((crc >> 24) ^ b)];
        }

        return crc;
    }

    private static uint[] CreateTable()
    {
        var table = new uint[256];
        for (uint i = 0; i < 256; i++)
        {
            var crc = i << 24;
            for (var bit = 0; bit < 8; bit++)
            {
                crc = (crc & 0x80000000) != 0 ? (crc << 1) ^ Polynomial : crc << 1;
            }

            table[i] = crc;
        }

        return table;
    }
}
