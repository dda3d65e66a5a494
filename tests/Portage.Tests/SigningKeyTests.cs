using System.Text;
using Gentoo.Portage.Signing;
using Org.BouncyCastle.Bcpg;
using Org.BouncyCastle.Bcpg.OpenPgp;
using Org.BouncyCastle.Bcpg.Sig;
using Org.BouncyCastle.Crypto.Generators;
using Org.BouncyCastle.Crypto.Parameters;
using Org.BouncyCastle.Security;

namespace Gentoo.Portage.Tests;

public sealed class SigningKeyTests
{
    private static readonly DateTimeOffset Now = new(2026, 12, 1, 0, 0, 0, TimeSpan.Zero);

    private static byte[] Fixture(string name) => File.ReadAllBytes(Fixtures.PathOf("signing", name));

    private static string Fingerprint => File.ReadAllText(Fixtures.PathOf("signing", "ed25519.fingerprint")).Trim();

    /// <summary>A key ring's packets as the library writes them back, so two exports compare packet for packet.</summary>
    private static string PublicPackets(string armored)
    {
        using var input = PgpUtilities.GetDecoderStream(new MemoryStream(Encoding.ASCII.GetBytes(armored)));
        return Convert.ToHexString(new PgpPublicKeyRing(input).GetEncoded());
    }

    [Fact]
    public void An_unprotected_gpg_key_gives_gpgs_fingerprint_and_the_same_public_key_gpg_exports()
    {
        var key = SigningKey.Parse(Fixture("ed25519-unprotected.asc"), Now);

        key.Fingerprint.ShouldBe(Fingerprint);
        key.UserIds.ShouldBe(["Test Binhost <binhost@example.invalid>"]);
        key.Expires.ShouldBeNull();
        key.PublicKeyArmored.ShouldStartWith("-----BEGIN PGP PUBLIC KEY BLOCK-----");
        PublicPackets(key.PublicKeyArmored).ShouldBe(PublicPackets(Encoding.ASCII.GetString(Fixture("ed25519-public.asc"))));
        SigningKey.PublicFingerprint(Encoding.ASCII.GetBytes(key.PublicKeyArmored)).ShouldBe(Fingerprint);
    }

    [Fact]
    public void A_key_whose_primary_secret_is_a_stub_signs_with_its_subkey()
    {
        SigningKey.Parse(Fixture("ed25519-primary-stub.asc"), Now).Fingerprint.ShouldBe(Fingerprint);
    }

    [Theory]
    [InlineData("rsa-protected.asc", "protected by a passphrase")]
    [InlineData("ed25519-public.asc", "public key only")]
    [InlineData("ed25519-expired.asc", "expired on 2020-01-31: extend it with gpg --quick-set-expire")]
    [InlineData("ed25519-revoked.asc", "was revoked on 2026-12-02")]
    [InlineData("ed25519-certify-only.asc", "has no signing (sub)key: add one with gpg --quick-add-key")]
    [InlineData("ed25519-subkey-expired.asc", "has no signing (sub)key that can sign now")]
    public void Keys_that_cannot_sign_unattended_now_are_refused_saying_why(string fixture, string why)
    {
        Should.Throw<SigningKeyException>(() => SigningKey.Parse(Fixture(fixture), Now)).Message.ShouldContain(why);
    }

    [Fact]
    public void A_key_is_refused_from_the_moment_it_expires_and_not_before()
    {
        var expired = Fixture("ed25519-expired.asc");
        var expiry = new DateTimeOffset(2020, 1, 31, 0, 0, 0, TimeSpan.Zero);

        SigningKey.Parse(expired, expiry.AddDays(-1)).Expires!.Value.Date.ShouldBe(expiry.Date);
        Should.Throw<SigningKeyException>(() => SigningKey.Parse(expired, expiry.AddDays(1)));
        Should.Throw<SigningKeyException>(() => SigningKey.Parse(Fixture("ed25519-subkey-expired.asc"), expiry.AddDays(1))).Message.ShouldContain("expired on 2020-01-31");
    }

    [Fact]
    public void Text_that_is_not_a_key_is_refused_naming_the_export_command()
    {
        Should.Throw<SigningKeyException>(() => SigningKey.Parse("hello"u8.ToArray(), Now)).Message.ShouldContain("--export-secret-keys");
        Should.Throw<SigningKeyException>(() => SigningKey.Parse([], Now)).Message.ShouldContain("not an OpenPGP key");
        var damaged = Encoding.ASCII.GetString(Fixture("ed25519-unprotected.asc")).Replace("\n\n", "\n\n!!", StringComparison.Ordinal);
        Should.Throw<SigningKeyException>(() => SigningKey.Parse(Encoding.ASCII.GetBytes(damaged), Now)).Message.ShouldContain("damaged");
    }

    [Fact]
    public void An_armor_whose_checksum_does_not_match_is_refused()
    {
        var text = Encoding.ASCII.GetString(Fixture("ed25519-unprotected.asc"));
        var checksum = text.IndexOf("\n=", StringComparison.Ordinal) + 2;
        var wrong = text[..checksum] + (text[checksum] == 'A' ? 'B' : 'A') + text[(checksum + 1)..];

        Should.Throw<SigningKeyException>(() => SigningKey.Parse(Encoding.ASCII.GetBytes(wrong), Now)).Message.ShouldContain("checksum");
    }

    [Fact]
    public void A_generated_key_is_an_unprotected_signing_key_that_expires_after_its_lifetime()
    {
        var created = DateTimeOffset.FromUnixTimeSeconds(1_800_000_000);
        var made = SigningKeyGenerator.Generate("gentoo-builder binhost <desktops@example.invalid>", created);

        var key = SigningKey.Parse(Encoding.ASCII.GetBytes(made.SecretKeyArmored), created);
        key.Fingerprint.Length.ShouldBe(40);
        key.UserIds.ShouldBe(["gentoo-builder binhost <desktops@example.invalid>"]);
        key.Expires.ShouldBe(created + SigningKeyGenerator.Lifetime);
        made.SecretKeyArmored.ShouldStartWith("-----BEGIN PGP PRIVATE KEY BLOCK-----");
        made.SecretKeyArmored.ShouldNotContain("Version:");
        made.RevocationArmored.ShouldContain("Comment: This is a revocation certificate");
        Should.Throw<SigningKeyException>(() => SigningKey.Parse(Encoding.ASCII.GetBytes(made.SecretKeyArmored), created + SigningKeyGenerator.Lifetime));
    }

    [Fact]
    public void A_generated_key_is_extended_once_less_than_a_year_is_left_keeping_its_fingerprint()
    {
        var created = DateTimeOffset.FromUnixTimeSeconds(1_800_000_000);
        var made = Encoding.ASCII.GetBytes(SigningKeyGenerator.Generate("gentoo-builder binhost ns/b", created).SecretKeyArmored);
        var fingerprint = SigningKey.Parse(made, created).Fingerprint;

        SigningKeyGenerator.ExtendIfDue(made, created.AddDays(300)).ShouldBeNull();
        foreach (var later in new[] { created.AddDays(400), created + SigningKeyGenerator.Lifetime + TimeSpan.FromDays(30) })
        {
            var extended = Encoding.ASCII.GetBytes(SigningKeyGenerator.ExtendIfDue(made, later)!);
            var key = SigningKey.Parse(extended, later);
            key.Fingerprint.ShouldBe(fingerprint);
            key.Expires.ShouldBe(DateTimeOffset.FromUnixTimeSeconds(later.ToUnixTimeSeconds()) + SigningKeyGenerator.Lifetime);
            SigningKeyGenerator.ExtendIfDue(extended, later).ShouldBeNull();
        }
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void A_signing_subkey_signs_only_when_it_has_signed_its_primary_back_as_gpg_requires(bool crossCertified)
    {
        var random = new SecureRandom();
        var created = Now.UtcDateTime.AddDays(-30);
        PgpKeyPair NewPair()
        {
            var generator = new Ed25519KeyPairGenerator();
            generator.Init(new Ed25519KeyGenerationParameters(random));
            return new PgpKeyPair(PublicKeyAlgorithmTag.EdDsa_Legacy, generator.GenerateKeyPair(), created);
        }

        PgpSignatureSubpacketVector Flags(int flags, PgpSignature? embedded = null)
        {
            var packets = new PgpSignatureSubpacketGenerator();
            packets.SetKeyFlags(false, flags);
            packets.SetSignatureCreationTime(false, created);
            if (embedded is not null)
            {
                packets.AddEmbeddedSignature(false, embedded);
            }

            return packets.Generate();
        }

        // A primary that only certifies, and a subkey for signing, as people who keep their primary offline make them.
        var primary = NewPair();
        var subkey = NewPair();
        var rings = new PgpKeyRingGenerator(PgpSignature.PositiveCertification, primary, "Builder <builder@example.org>", SymmetricKeyAlgorithmTag.Null,
            HashAlgorithmTag.Sha256, Array.Empty<char>(), false, Flags(KeyFlags.CertifyOther), null, random);
        PgpSignature? backSignature = null;
        if (crossCertified)
        {
            var signer = new PgpSignatureGenerator(PublicKeyAlgorithmTag.EdDsa_Legacy, HashAlgorithmTag.Sha256);
            signer.InitSign(PgpSignature.PrimaryKeyBinding, subkey.PrivateKey);
            var hashed = new PgpSignatureSubpacketGenerator();
            hashed.SetSignatureCreationTime(false, created);
            signer.SetHashedSubpackets(hashed.Generate());
            backSignature = signer.GenerateCertification(primary.PublicKey, subkey.PublicKey);
        }

        rings.AddSubKey(subkey, Flags(KeyFlags.SignData, backSignature), null);
        var export = rings.GenerateSecretKeyRing().GetEncoded();

        if (crossCertified)
        {
            SigningKey.Parse(export, Now).Fingerprint.ShouldBe(Convert.ToHexString(primary.PublicKey.GetFingerprint()));
        }
        else
        {
            Should.Throw<SigningKeyException>(() => SigningKey.Parse(export, Now)).Message.ShouldBe(
                $"key {Convert.ToHexString(primary.PublicKey.GetFingerprint())} has a signing subkey {Convert.ToHexString(subkey.PublicKey.GetFingerprint())} that is not "
                + "cross-certified (no valid back-signature by the subkey), and gpg rejects what such a subkey signs: add the back-signature with gpg --edit-key "
                + $"{Convert.ToHexString(primary.PublicKey.GetFingerprint())} cross-certify (or remove the subkey), then export it again");
        }
    }
}
