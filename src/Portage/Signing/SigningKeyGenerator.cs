using Org.BouncyCastle.Bcpg;
using Org.BouncyCastle.Bcpg.OpenPgp;
using Org.BouncyCastle.Bcpg.Sig;
using Org.BouncyCastle.Crypto.Generators;
using Org.BouncyCastle.Crypto.Parameters;
using Org.BouncyCastle.Security;

namespace Gentoo.Portage.Signing;

/// <summary>A key the operator made: the secret key, and the certificate that revokes it should it leak.</summary>
public sealed record GeneratedSigningKey(string SecretKeyArmored, string RevocationArmored);

/// <summary>
/// Makes and keeps an unprotected OpenPGP signing key for a binhost whose owner did not bring one, as
/// `gpg --quick-generate-key UID ed25519 sign 2y` with an empty passphrase would: version 4, Ed25519, certify and sign,
/// self-certified with SHA-256 (gpg 2.3 and later ignore SHA-1 self-signatures). It expires, so a key that leaks
/// without anyone noticing stops being trusted by itself; the operator extends it long before that, and clients pick
/// up the extension whenever they fetch the key again (client-setup.sh).
/// </summary>
public static class SigningKeyGenerator
{
    /// <summary>How long a made or extended key stays valid.</summary>
    public static readonly TimeSpan Lifetime = TimeSpan.FromDays(730);

    /// <summary>A key with less than this left is extended: a client that fetched the key before has that long to fetch it again.</summary>
    public static readonly TimeSpan ExtendWhenLeft = TimeSpan.FromDays(365);

    private const string RevocationComment = "This is a revocation certificate";

    public static GeneratedSigningKey Generate(string userId, DateTimeOffset created)
    {
        var random = new SecureRandom();
        var generator = new Ed25519KeyPairGenerator();
        generator.Init(new Ed25519KeyGenerationParameters(random));
        // OpenPGP keeps whole seconds; a key pair made at a fractional time would not match its own fingerprint later.
        var creation = DateTimeOffset.FromUnixTimeSeconds(created.ToUnixTimeSeconds()).UtcDateTime;
        var pair = new PgpKeyPair(PublicKeyAlgorithmTag.EdDsa_Legacy, generator.GenerateKeyPair(), creation);
        var rings = new PgpKeyRingGenerator(PgpSignature.PositiveCertification, pair, userId, SymmetricKeyAlgorithmTag.Null, HashAlgorithmTag.Sha256,
            Array.Empty<char>(), useSha1: false, SelfSignature(pair.PublicKey, creation, creation + Lifetime), null, random);
        var secret = rings.GenerateSecretKeyRing();
        return new GeneratedSigningKey(Armor(secret), Revocation(secret, created));
    }

    /// <summary>
    /// The key with its expiry pushed to <see cref="Lifetime"/> from <paramref name="now"/> when less than
    /// <see cref="ExtendWhenLeft"/> is left (an expired key included), by a new self-signature on its user ID; null when
    /// it has long enough. Same key, same fingerprint: clients that trust it go on trusting it.
    /// </summary>
    public static string? ExtendIfDue(byte[] secretKey, DateTimeOffset now)
    {
        var ring = ReadRing(secretKey);
        var primary = ring.GetPublicKey();
        var expires = KeyValidity.Of(primary, primary).Expires;
        if (expires is null || expires - now > ExtendWhenLeft)
        {
            return null;
        }

        var secret = ring.GetSecretKey();
        var userId = primary.GetUserIds().OfType<string>().FirstOrDefault() ?? throw new SigningKeyException("the key has no user ID to carry its new expiry");
        var at = DateTimeOffset.FromUnixTimeSeconds(now.ToUnixTimeSeconds()).UtcDateTime;
        var signer = new PgpSignatureGenerator(primary.Algorithm, HashAlgorithmTag.Sha256);
        signer.InitSign(PgpSignature.PositiveCertification, secret.ExtractPrivateKey([]));
        signer.SetHashedSubpackets(SelfSignature(primary, at, at + Lifetime));
        var certification = signer.GenerateCertification(userId, primary);
        var extended = PgpPublicKey.AddCertification(primary, userId, certification);
        return Armor(PgpSecretKeyRing.InsertSecretKey(ring, PgpSecretKey.ReplacePublicKey(secret, extended)));
    }

    /// <summary>A revocation certificate for the key (reason: no reason given), as gpg keeps one in openpgp-revocs.d.</summary>
    public static string Revocation(byte[] secretKey, DateTimeOffset now) => Revocation(ReadRing(secretKey), now);

    private static string Revocation(PgpSecretKeyRing ring, DateTimeOffset now)
    {
        var primary = ring.GetPublicKey();
        var subpackets = new PgpSignatureSubpacketGenerator();
        subpackets.SetSignatureCreationTime(false, DateTimeOffset.FromUnixTimeSeconds(now.ToUnixTimeSeconds()).UtcDateTime);
        subpackets.SetIssuerFingerprint(false, primary);
        subpackets.SetRevocationReason(false, RevocationReasonTag.NoReason, "revoked with the certificate gentoo-builder made beside the key");
        var signer = new PgpSignatureGenerator(primary.Algorithm, HashAlgorithmTag.Sha256);
        signer.InitSign(PgpSignature.KeyRevocation, ring.GetSecretKey().ExtractPrivateKey([]));
        signer.SetHashedSubpackets(subpackets.Generate());
        // The library labels a lone signature packet a SIGNATURE block, which gpg --import will not read; gpg writes
        // revocation certificates as PUBLIC KEY BLOCKs (the label is outside the armor's checksum).
        return OpenPgpOutput.Armor(signer.GenerateCertification(primary).GetEncoded(), RevocationComment)
            .Replace("PGP SIGNATURE-----", "PGP PUBLIC KEY BLOCK-----", StringComparison.Ordinal);
    }

    private static PgpSignatureSubpacketVector SelfSignature(PgpPublicKey key, DateTime created, DateTime expires)
    {
        var subpackets = new PgpSignatureSubpacketGenerator();
        subpackets.SetSignatureCreationTime(false, created);
        subpackets.SetKeyExpirationTime(false, (long)(expires - key.CreationTime).TotalSeconds);
        subpackets.SetKeyFlags(false, KeyFlags.CertifyOther | KeyFlags.SignData);
        subpackets.SetPreferredHashAlgorithms(false, [(int)HashAlgorithmTag.Sha512, (int)HashAlgorithmTag.Sha256]);
        subpackets.SetPreferredSymmetricAlgorithms(false, [(int)SymmetricKeyAlgorithmTag.Aes256, (int)SymmetricKeyAlgorithmTag.Aes128]);
        subpackets.SetPreferredCompressionAlgorithms(false, [(int)CompressionAlgorithmTag.Zip, (int)CompressionAlgorithmTag.Uncompressed]);
        subpackets.SetFeature(false, Features.FEATURE_MODIFICATION_DETECTION);
        subpackets.SetIssuerFingerprint(false, key);
        return subpackets.Generate();
    }

    private static PgpSecretKeyRing ReadRing(byte[] secretKey) => OpenPgpInput.Read(secretKey) is [PgpSecretKeyRing ring]
        ? ring
        : throw new SigningKeyException("not the secret key the operator made (one armored secret key)");

    private static string Armor(PgpSecretKeyRing ring) => OpenPgpOutput.Armor(ring.GetEncoded());
}
