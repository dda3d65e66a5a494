using System.Security.Cryptography;
using System.Text;

namespace Gentoo.Portage.Signing;

/// <summary>A key that cannot sign binary packages, with what is wrong and what would do.</summary>
public sealed class SigningKeyException(string message) : Exception(message);

/// <summary>
/// An OpenPGP secret key that gpg can sign binary packages with (FEATURES=binpkg-signing) without a person
/// present: version 4, with at least one unprotected secret key of a signing algorithm. Knows its fingerprint
/// (BINPKG_GPG_SIGNING_KEY, and what clients trust) and its public half (what the binhost hands out).
/// </summary>
public sealed record SigningKey(string Fingerprint, string PublicKeyArmored, IReadOnlyList<string> UserIds)
{
    public const string ExportHint = "gpg --armor --export-secret-keys FINGERPRINT";

    private static readonly int[] SigningAlgorithms = [1, 3, 17, 19, 22, 27, 28];

    /// <summary>Reads an armored (or binary) secret key; a <see cref="SigningKeyException"/> says why one cannot sign.</summary>
    public static SigningKey Parse(byte[] data)
    {
        var (packets, blockType) = OpenPgpPackets.Decode(data);
        if (packets is null || packets.Count == 0)
        {
            throw new SigningKeyException(blockType is null
                ? $"not an OpenPGP key: expected the ASCII-armored output of {ExportHint}"
                : $"the PGP {blockType} block is damaged (its base64 or packets do not decode): export it again with {ExportHint}");
        }

        var primary = packets[0];
        if (primary.Tag == OpenPgpPacket.PublicKey)
        {
            throw new SigningKeyException($"this is a public key only; builds need the secret key: {ExportHint}");
        }

        if (primary.Tag != OpenPgpPacket.SecretKey)
        {
            throw new SigningKeyException($"not an OpenPGP key: the first packet has tag {primary.Tag}, a secret key has tag 5 ({ExportHint})");
        }

        var keys = packets.Where(p => p.Tag is OpenPgpPacket.SecretKey or OpenPgpPacket.SecretSubkey).Select(p => (Packet: p, Key: KeyMaterial.Read(p.Body))).ToList();
        if (keys.Any(k => k.Key is null))
        {
            throw new SigningKeyException("a key packet is not a version 4 key gpg can use; export a version 4 key (gpg 2.2 and 2.4 make them by default)");
        }

        var signing = keys.Where(k => SigningAlgorithms.Contains(k.Key!.Algorithm)).ToList();
        if (signing.Count == 0)
        {
            throw new SigningKeyException("the key has no signing (sub)key: add one with gpg --quick-add-key FINGERPRINT default sign");
        }

        if (!signing.Any(k => k.Key!.Secret == SecretState.Unprotected))
        {
            throw new SigningKeyException(signing.All(k => k.Key!.Secret == SecretState.Absent)
                ? "the secret key material is not in this export (a stub, e.g. a key on a smartcard): build pods need the key itself"
                : "the secret key is protected by a passphrase, and build pods sign with nobody to type it: export an unprotected copy "
                  + "(gpg --pinentry-mode loopback --passphrase '' --passwd FINGERPRINT in a throw-away GNUPGHOME, then " + ExportHint + ")");
        }

        var publicPackets = packets
            .Where(p => p.Tag is OpenPgpPacket.SecretKey or OpenPgpPacket.SecretSubkey or OpenPgpPacket.UserId or OpenPgpPacket.Signature or 17)
            .Select(p => p.Tag switch
            {
                OpenPgpPacket.SecretKey => new OpenPgpPacket(OpenPgpPacket.PublicKey, KeyMaterial.Read(p.Body)!.PublicBody),
                OpenPgpPacket.SecretSubkey => new OpenPgpPacket(OpenPgpPacket.PublicSubkey, KeyMaterial.Read(p.Body)!.PublicBody),
                _ => p,
            });
        var userIds = packets.Where(p => p.Tag == OpenPgpPacket.UserId).Select(p => Encoding.UTF8.GetString(p.Body)).ToList();
        return new SigningKey(FingerprintOf(keys[0].Key!.PublicBody), OpenPgpPackets.Armor("PUBLIC KEY BLOCK", OpenPgpPackets.Write(publicPackets)), userIds);
    }

    /// <summary>The fingerprint of an armored (or binary) public key, as <see cref="Parse"/> hands it out.</summary>
    public static string PublicFingerprint(byte[] data)
    {
        var (packets, _) = OpenPgpPackets.Decode(data);
        if (packets is not [{ Tag: OpenPgpPacket.PublicKey } primary, ..] || KeyMaterial.Read(primary.Body) is not { } key)
        {
            throw new SigningKeyException("not a version 4 OpenPGP public key (expected the output of gpg --armor --export FINGERPRINT)");
        }

        return FingerprintOf(key.PublicBody);
    }

    /// <summary>A version 4 fingerprint: SHA-1 over 0x99, the two-byte length and the public key body, in hex.</summary>
    internal static string FingerprintOf(byte[] publicBody)
    {
        byte[] framed = [0x99, (byte)(publicBody.Length >> 8), (byte)publicBody.Length, .. publicBody];
#pragma warning disable CA5350 // the version 4 fingerprint is defined as SHA-1; it identifies, it does not protect
        return Convert.ToHexString(SHA1.HashData(framed));
#pragma warning restore CA5350
    }

    /// <summary>The key ID: the low 64 bits of the fingerprint.</summary>
    internal static byte[] KeyId(string fingerprint) => Convert.FromHexString(fingerprint[^16..]);
}

internal enum SecretState
{
    Unprotected,
    Protected,
    Absent,
}

/// <summary>The parts of a version 4 key packet body: the public part (and its algorithm), and how its secret is kept.</summary>
internal sealed record KeyMaterial(int Algorithm, byte[] PublicBody, SecretState Secret)
{
    public static KeyMaterial? Read(byte[] body)
    {
        if (body.Length < 6 || body[0] != 4)
        {
            return null;
        }

        var algorithm = body[5];
        var at = 6;
        bool Mpis(int count)
        {
            for (var i = 0; i < count; i++)
            {
                if (at + 2 > body.Length)
                {
                    return false;
                }

                at += 2 + ((body[at] << 8 | body[at + 1]) + 7) / 8;
            }

            return at <= body.Length;
        }

        bool Oid()
        {
            if (at >= body.Length)
            {
                return false;
            }

            at += 1 + body[at];
            return at <= body.Length;
        }

        var ok = algorithm switch
        {
            1 or 2 or 3 => Mpis(2), // RSA: n, e
            16 or 20 => Mpis(3), // Elgamal: p, g, y
            17 => Mpis(4), // DSA: p, q, g, y
            19 or 22 => Oid() && Mpis(1), // ECDSA, EdDSA: curve, point
            18 => Oid() && Mpis(1) && Oid(), // ECDH: curve, point, KDF parameters (length-prefixed like an OID)
            25 => (at += 32) <= body.Length,
            26 => (at += 56) <= body.Length,
            27 => (at += 32) <= body.Length,
            28 => (at += 57) <= body.Length,
            _ => false,
        };
        if (!ok)
        {
            return null;
        }

        var publicBody = body[..at];
        if (at == body.Length)
        {
            return new KeyMaterial(algorithm, publicBody, SecretState.Absent);
        }

        var usage = body[at];
        var secret = usage switch
        {
            0 => SecretState.Unprotected,
            // GnuPG's extension: cipher, S2K type 101, hash, "GNU", mode 1 (no secret) or 2 (on a smartcard).
            254 or 255 when at + 8 <= body.Length && body[at + 2] == 101 && body.AsSpan(at + 4, 3).SequenceEqual("GNU"u8) => SecretState.Absent,
            _ => SecretState.Protected,
        };
        return new KeyMaterial(algorithm, publicBody, secret);
    }
}
