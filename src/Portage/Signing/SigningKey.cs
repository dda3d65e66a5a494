using System.Globalization;
using Org.BouncyCastle.Bcpg;
using Org.BouncyCastle.Bcpg.OpenPgp;
using Org.BouncyCastle.Bcpg.Sig;

namespace Gentoo.Portage.Signing;

/// <summary>A key that cannot sign binary packages, with what is wrong and what would do.</summary>
public sealed class SigningKeyException(string message) : Exception(message);

/// <summary>
/// An OpenPGP secret key that gpg can sign binary packages with (FEATURES=binpkg-signing) without a person
/// present, today: version 4, neither revoked nor expired, with a signing (sub)key whose secret is in the export and
/// not protected by a passphrase. Knows its fingerprint (BINPKG_GPG_SIGNING_KEY, and what clients trust), its public
/// half (what the binhost hands out) and when it stops signing.
/// </summary>
public sealed record SigningKey(string Fingerprint, string PublicKeyArmored, IReadOnlyList<string> UserIds, DateTimeOffset? Expires)
{
    public const string ExportHint = "gpg --armor --export-secret-keys FINGERPRINT";

    /// <summary>Reads an armored (or binary) secret key; a <see cref="SigningKeyException"/> says why it cannot sign at <paramref name="now"/>.</summary>
    public static SigningKey Parse(byte[] data, DateTimeOffset now)
    {
        var ring = OpenPgpInput.Read(data) switch
        {
            [PgpSecretKeyRing only] => only,
            [PgpPublicKeyRing, ..] => throw new SigningKeyException($"this is a public key only; builds need the secret key: {ExportHint}"),
            [PgpSecretKeyRing, ..] rings => throw new SigningKeyException($"the export holds {rings.Count} keys; export the one that signs: {ExportHint}"),
            _ => throw new SigningKeyException($"not an OpenPGP key: expected the ASCII-armored output of {ExportHint}"),
        };

        var primary = ring.GetPublicKey();
        var fingerprint = KeyValidity.FingerprintOf(primary);
        if (ring.GetSecretKeys().Any(k => k.PublicKey.Version != 4))
        {
            throw new SigningKeyException($"key {fingerprint} is not a version 4 key, which gpg 2.2 and 2.4 (what build pods and clients run) need");
        }

        var primaryValidity = KeyValidity.Of(primary, primary);
        if (primaryValidity.Problem(now) is { } problem)
        {
            throw new SigningKeyException($"key {fingerprint} {problem}");
        }

        var signing = ring.GetSecretKeys().Select(k => (Key: k, Validity: KeyValidity.Of(primary, k.PublicKey))).Where(k => k.Validity.CanSign).ToList();
        // gpg (require-cross-certification, its default) rejects every signature of a signing subkey that has not signed
        // its primary back, and it may well pick that subkey to sign with: such a key is refused, not worked around.
        if (signing.Where(k => k.Validity.Problem(now) is null && !k.Validity.CrossCertified).Select(k => k.Key).FirstOrDefault() is { } uncertified)
        {
            var subkey = KeyValidity.FingerprintOf(uncertified.PublicKey);
            throw new SigningKeyException($"key {fingerprint} has a signing subkey {subkey} that is not cross-certified (no valid back-signature by the subkey), "
                + $"and gpg rejects what such a subkey signs: add the back-signature with gpg --edit-key {fingerprint} cross-certify (or remove the subkey), then export it again");
        }

        var usable = signing.Where(k => k.Validity.Problem(now) is null).ToList();
        if (usable.Count == 0)
        {
            var why = signing.Select(k => $"{KeyValidity.FingerprintOf(k.Key.PublicKey)} {k.Validity.Problem(now)}").ToList();
            throw new SigningKeyException(why.Count == 0
                ? $"key {fingerprint} has no signing (sub)key: add one with gpg --quick-add-key {fingerprint} ed25519 sign 2y"
                : $"key {fingerprint} has no signing (sub)key that can sign now ({string.Join("; ", why)}): add one with gpg --quick-add-key {fingerprint} ed25519 sign 2y");
        }

        // gpg signs with the newest valid signing subkey whose secret it has, and with the primary only when there is none.
        var chosen = usable.Where(k => !k.Key.IsPrivateKeyEmpty)
            .OrderBy(k => k.Key.IsMasterKey).ThenByDescending(k => k.Key.PublicKey.CreationTime).Select(k => ((PgpSecretKey, KeyValidity)?)k).FirstOrDefault();
        if (chosen is not var (key, validity))
        {
            throw new SigningKeyException("the secret key material is not in this export (a stub, e.g. a key on a smartcard): build pods need the key itself");
        }

        if (key.KeyEncryptionAlgorithm != SymmetricKeyAlgorithmTag.Null)
        {
            throw new SigningKeyException("the secret key is protected by a passphrase, and build pods sign with nobody to type it: export an unprotected copy "
                + "(gpg --pinentry-mode loopback --passphrase '' --passwd FINGERPRINT in a throw-away GNUPGHOME, then " + ExportHint + ")");
        }

        var expires = new[] { primaryValidity.Expires, validity.Expires }.Where(e => e is not null).DefaultIfEmpty().Min();
        var publicKeys = new MemoryStream();
        foreach (var publicKey in ring.GetPublicKeys())
        {
            publicKey.Encode(publicKeys, forTransfer: true);
        }

        return new SigningKey(fingerprint, OpenPgpOutput.Armor(publicKeys.ToArray()), [.. primary.GetUserIds().OfType<string>()], expires);
    }

    /// <summary>The fingerprint of an armored (or binary) public key, as <see cref="Parse"/> hands it out.</summary>
    public static string PublicFingerprint(byte[] data) => OpenPgpInput.Read(data) is [PgpPublicKeyRing ring, ..] && ring.GetPublicKey().Version == 4
        ? KeyValidity.FingerprintOf(ring.GetPublicKey())
        : throw new SigningKeyException("not a version 4 OpenPGP public key (expected the output of gpg --armor --export FINGERPRINT)");
}

/// <summary>What a key's own signatures say about it: revoked when, expires when, whether it may sign.</summary>
internal sealed record KeyValidity(DateTimeOffset? Revoked, string? RevocationReason, DateTimeOffset? Expires, bool CanSign, bool Bound, bool CrossCertified)
{
    private static readonly PublicKeyAlgorithmTag[] SigningAlgorithms =
    [
        PublicKeyAlgorithmTag.RsaGeneral, PublicKeyAlgorithmTag.RsaSign, PublicKeyAlgorithmTag.Dsa, PublicKeyAlgorithmTag.ECDsa,
        PublicKeyAlgorithmTag.EdDsa_Legacy, PublicKeyAlgorithmTag.Ed25519, PublicKeyAlgorithmTag.Ed448,
    ];

    public static string FingerprintOf(PgpPublicKey key) => Convert.ToHexString(key.GetFingerprint());

    /// <summary>
    /// Reads the self-signatures gpg reads: revocations by the primary key, and the newest binding (a subkey) or
    /// certification of a user ID or direct-key signature (the primary) for the expiry and the key flags. Signatures
    /// that do not verify are ignored, as gpg ignores them.
    /// </summary>
    public static KeyValidity Of(PgpPublicKey primary, PgpPublicKey key)
    {
        var isPrimary = key.KeyId == primary.KeyId;
        var ownSignatures = key.GetSignatures().Where(s => s.KeyId == primary.KeyId).ToList();
        var revocation = ownSignatures
            .Where(s => s.SignatureType == (isPrimary ? PgpSignature.KeyRevocation : PgpSignature.SubkeyRevocation) && Verifies(s, primary, sig => isPrimary ? sig.VerifyCertification(key) : sig.VerifyCertification(primary, key)))
            .MinBy(s => s.CreationTime);
        var selfSignatures = isPrimary
            ? primary.GetUserIds().OfType<string>().SelectMany(id => (primary.GetSignaturesForId(id) ?? [])
                    .Where(s => s.KeyId == primary.KeyId && s.IsCertification() && Verifies(s, primary, sig => sig.VerifyCertification(id, primary))))
                .Concat(ownSignatures.Where(s => s.SignatureType == PgpSignature.DirectKey && Verifies(s, primary, sig => sig.VerifyCertification(primary))))
            : ownSignatures.Where(s => s.SignatureType == PgpSignature.SubkeyBinding && Verifies(s, primary, sig => sig.VerifyCertification(primary, key)));
        var newest = selfSignatures.MaxBy(s => s.CreationTime);
        var subpackets = newest?.GetHashedSubPackets();
        var lifetime = subpackets?.GetKeyExpirationTime() ?? 0;
        var flags = subpackets is not null && subpackets.HasSubpacket(SignatureSubpacketTag.KeyFlags) ? subpackets.GetKeyFlags() : (int?)null;
        var canSign = SigningAlgorithms.Contains(key.Algorithm) && (flags is null || (flags & KeyFlags.SignData) != 0);
        return new KeyValidity(
            revocation is null ? null : new DateTimeOffset(revocation.CreationTime, TimeSpan.Zero),
            revocation?.GetHashedSubPackets()?.GetRevocationReason()?.GetRevocationDescription() is { Length: > 0 } reason ? reason : null,
            lifetime == 0 ? null : new DateTimeOffset(key.CreationTime, TimeSpan.Zero).AddSeconds(lifetime),
            canSign,
            isPrimary || newest is not null,
            isPrimary || (newest is not null && CrossCertifies(newest, primary, key)));
    }

    /// <summary>
    /// Whether the subkey's binding carries a primary key binding signature (0x19) made by the subkey that verifies: as
    /// gpg reads it, the newest such embedded signature, hashed or not (it is there for convenience, not security).
    /// </summary>
    private static bool CrossCertifies(PgpSignature binding, PgpPublicKey primary, PgpPublicKey subkey)
    {
        var backSignature = new[] { binding.GetHashedSubPackets(), binding.GetUnhashedSubPackets() }
            .Where(packets => packets is not null)
            .SelectMany(packets => EmbeddedSignatures(packets))
            .Where(s => s.SignatureType == PgpSignature.PrimaryKeyBinding)
            .MaxBy(s => s.CreationTime);
        return backSignature is not null && Verifies(backSignature, subkey, sig => sig.VerifyCertification(primary, subkey));
    }

    private static IEnumerable<PgpSignature> EmbeddedSignatures(PgpSignatureSubpacketVector packets)
    {
        try
        {
            var list = packets.GetEmbeddedSignatures();
            return Enumerable.Range(0, list.Count).Select(i => list[i]).ToArray();
        }
        catch (Exception e) when (e is PgpException or IOException)
        {
            return []; // an embedded signature that does not parse certifies nothing
        }
    }

    /// <summary>Why the key does not sign at <paramref name="now"/>, or null when it does.</summary>
    public string? Problem(DateTimeOffset now) =>
        Revoked is { } revoked ? $"was revoked on {Day(revoked)}{(RevocationReason is { } reason ? $" ({reason})" : "")}: clients refuse what it signs; use a new key"
        : Expires is { } expires && expires <= now ? $"expired on {Day(expires)}: extend it with gpg --quick-set-expire FINGERPRINT 2y (and '*' for its subkeys), then export it again"
        : !Bound ? "is not bound to its primary key by a valid signature"
        : null;

    private static string Day(DateTimeOffset time) => time.UtcDateTime.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture);

    private static bool Verifies(PgpSignature signature, PgpPublicKey signer, Func<PgpSignature, bool> verify)
    {
        try
        {
            signature.InitVerify(signer);
            return verify(signature);
        }
        catch (PgpException)
        {
            return false; // an algorithm or hash this library cannot check: gpg would not count it either
        }
    }
}
