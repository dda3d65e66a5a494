using System.Buffers.Binary;
using System.Numerics;
using System.Text;

namespace Gentoo.Portage.Signing;

/// <summary>One OpenPGP packet (RFC 4880 section 4): its tag and body.</summary>
internal sealed record OpenPgpPacket(int Tag, byte[] Body)
{
    public const int Signature = 2;
    public const int SecretKey = 5;
    public const int PublicKey = 6;
    public const int SecretSubkey = 7;
    public const int UserId = 13;
    public const int PublicSubkey = 14;
}

/// <summary>Reading and writing OpenPGP packet streams and their ASCII armor.</summary>
internal static class OpenPgpPackets
{
    /// <summary>Splits a binary packet stream; null when the bytes are not one.</summary>
    public static List<OpenPgpPacket>? Read(byte[] data)
    {
        var packets = new List<OpenPgpPacket>();
        var at = 0;
        while (at < data.Length)
        {
            var header = data[at++];
            if ((header & 0x80) == 0)
            {
                return null;
            }

            int tag;
            long length;
            if ((header & 0x40) != 0)
            {
                tag = header & 0x3F;
                if (at >= data.Length)
                {
                    return null;
                }

                var first = data[at++];
                if (first < 192)
                {
                    length = first;
                }
                else if (first < 224)
                {
                    if (at >= data.Length)
                    {
                        return null;
                    }

                    length = ((first - 192) << 8) + data[at++] + 192;
                }
                else if (first == 255)
                {
                    if (at + 4 > data.Length)
                    {
                        return null;
                    }

                    length = BinaryPrimitives.ReadUInt32BigEndian(data.AsSpan(at));
                    at += 4;
                }
                else
                {
                    return null; // partial body lengths never occur in keys
                }
            }
            else
            {
                tag = (header >> 2) & 0x0F;
                var size = (header & 3) switch { 0 => 1, 1 => 2, 2 => 4, _ => 0 };
                if (size == 0 || at + size > data.Length)
                {
                    return null;
                }

                length = 0;
                for (var i = 0; i < size; i++)
                {
                    length = (length << 8) | data[at++];
                }
            }

            if (length > data.Length - at)
            {
                return null;
            }

            packets.Add(new OpenPgpPacket(tag, data.AsSpan(at, (int)length).ToArray()));
            at += (int)length;
        }

        return packets;
    }

    public static byte[] Write(IEnumerable<OpenPgpPacket> packets)
    {
        using var output = new MemoryStream();
        foreach (var packet in packets)
        {
            output.WriteByte((byte)(0xC0 | packet.Tag));
            var length = packet.Body.Length;
            if (length < 192)
            {
                output.WriteByte((byte)length);
            }
            else if (length < 8384)
            {
                output.WriteByte((byte)(((length - 192) >> 8) + 192));
                output.WriteByte((byte)((length - 192) & 0xFF));
            }
            else
            {
                output.WriteByte(0xFF);
                output.Write([(byte)(length >> 24), (byte)(length >> 16), (byte)(length >> 8), (byte)length]);
            }

            output.Write(packet.Body);
        }

        return output.ToArray();
    }

    /// <summary>
    /// The packets of an ASCII-armored block (any block type), or of binary data; null with the reason when it is
    /// neither.
    /// </summary>
    public static (List<OpenPgpPacket>? Packets, string? BlockType) Decode(byte[] data)
    {
        var text = Encoding.ASCII.GetString(data);
        var begin = text.IndexOf("-----BEGIN PGP ", StringComparison.Ordinal);
        if (begin < 0)
        {
            return data.Length > 0 && (data[0] & 0x80) != 0 ? (Read(data), null) : (null, null);
        }

        var lines = text[begin..].Split('\n').Select(l => l.TrimEnd('\r')).ToList();
        var blockType = lines[0]["-----BEGIN PGP ".Length..].TrimEnd('-');
        var body = lines.Skip(1).SkipWhile(l => l.Length > 0 && l.Contains(": ", StringComparison.Ordinal)).SkipWhile(l => l.Length == 0)
            .TakeWhile(l => !l.StartsWith("-----END", StringComparison.Ordinal) && !(l.StartsWith('=') && l.Length == 5));
        try
        {
            return (Read(Convert.FromBase64String(string.Concat(body))), blockType);
        }
        catch (FormatException)
        {
            return (null, blockType);
        }
    }

    public static string Armor(string blockType, byte[] data)
    {
        var text = new StringBuilder();
        text.Append("-----BEGIN PGP ").Append(blockType).Append("-----\n\n");
        var base64 = Convert.ToBase64String(data);
        for (var i = 0; i < base64.Length; i += 64)
        {
            text.Append(base64, i, Math.Min(64, base64.Length - i)).Append('\n');
        }

        var crc = Crc24(data);
        text.Append('=').Append(Convert.ToBase64String([(byte)(crc >> 16), (byte)(crc >> 8), (byte)crc])).Append('\n');
        text.Append("-----END PGP ").Append(blockType).Append("-----\n");
        return text.ToString();
    }

    private static int Crc24(byte[] data)
    {
        var crc = 0xB704CE;
        foreach (var b in data)
        {
            crc ^= b << 16;
            for (var i = 0; i < 8; i++)
            {
                crc <<= 1;
                if ((crc & 0x1000000) != 0)
                {
                    crc ^= 0x1864CFB;
                }
            }
        }

        return crc & 0xFFFFFF;
    }

    /// <summary>A multiprecision integer: its bit count, then its big-endian bytes without leading zeros.</summary>
    public static byte[] Mpi(BigInteger value)
    {
        var bytes = value.ToByteArray(isUnsigned: true, isBigEndian: true);
        var bits = (int)value.GetBitLength();
        return [(byte)(bits >> 8), (byte)bits, .. bytes];
    }

    public static byte[] Mpi(byte[] bigEndian) => Mpi(new BigInteger(bigEndian, isUnsigned: true, isBigEndian: true));
}
