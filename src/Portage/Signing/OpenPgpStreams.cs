using System.Text;
using Org.BouncyCastle.Bcpg;
using Org.BouncyCastle.Bcpg.OpenPgp;

namespace Gentoo.Portage.Signing;

/// <summary>Reading what a person pastes into a Secret: an armored (or binary) export, its armor checked whole.</summary>
internal static class OpenPgpInput
{
    /// <summary>The key rings in <paramref name="data"/>; empty when it is not OpenPGP at all.</summary>
    public static IReadOnlyList<object> Read(byte[] data)
    {
        var armored = data.AsSpan().IndexOf("-----BEGIN PGP "u8) >= 0;
        if (!armored && (data.Length == 0 || (data[0] & 0x80) == 0))
        {
            return [];
        }

        try
        {
            using var input = armored ? new ArmoredInputStream(new MemoryStream(data, writable: false)) : (Stream)new MemoryStream(data, writable: false);
            var factory = new PgpObjectFactory(input);
            var objects = new List<object>();
            while (factory.NextPgpObject() is { } found)
            {
                objects.Add(found);
            }

            // The armor's checksum is checked when its end is read: read to the end even after the last packet.
            input.CopyTo(Stream.Null);
            return objects;
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            throw new SigningKeyException(e.Message.Contains("crc", StringComparison.OrdinalIgnoreCase)
                ? "the armor's checksum (the line starting with '=' before END) does not match the key above it: it was changed or cut in copying; "
                  + $"export it again with {SigningKey.ExportHint}"
                : $"the {(armored ? "armored block" : "binary export")} is damaged ({e.Message.TrimEnd('.')}): export it again with {SigningKey.ExportHint}");
        }
    }
}

/// <summary>Writing packets as ASCII armor, with gpg's block type and no library banner.</summary>
internal static class OpenPgpOutput
{
    public static string Armor(byte[] packets, string? comment = null)
    {
        var text = new MemoryStream();
        using (var armor = ArmoredOutputStream.Build().SetVersion(null).SetComment(comment).Build(text))
        {
            armor.Write(packets);
        }

        return Encoding.ASCII.GetString(text.ToArray());
    }
}
