using System.Text;
using Gentoo.Portage.Signing;

namespace Gentoo.Portage.Tests;

public sealed class SigningKeyTests
{
    private static byte[] Fixture(string name) => File.ReadAllBytes(Fixtures.PathOf("signing", name));

    private static string Fingerprint => File.ReadAllText(Fixtures.PathOf("signing", "ed25519.fingerprint")).Trim();

    [Fact]
    public void An_unprotected_gpg_key_gives_gpgs_fingerprint_and_the_same_public_key_gpg_exports()
    {
        var key = SigningKey.Parse(Fixture("ed25519-unprotected.asc"));

        key.Fingerprint.ShouldBe(Fingerprint);
        key.UserIds.ShouldBe(["Test Binhost <binhost@example.invalid>"]);
        var ours = OpenPgpPackets.Decode(Encoding.ASCII.GetBytes(key.PublicKeyArmored));
        var gpgs = OpenPgpPackets.Decode(Fixture("ed25519-public.asc"));
        ours.BlockType.ShouldBe("PUBLIC KEY BLOCK");
        ours.Packets!.Select(p => (p.Tag, Convert.ToHexString(p.Body))).ShouldBe(gpgs.Packets!.Select(p => (p.Tag, Convert.ToHexString(p.Body))));
    }

    [Fact]
    public void A_key_whose_primary_secret_is_a_stub_signs_with_its_subkey()
    {
        SigningKey.Parse(Fixture("ed25519-primary-stub.asc")).Fingerprint.ShouldBe(Fingerprint);
    }

    [Theory]
    [InlineData("rsa-protected.asc", "protected by a passphrase")]
    [InlineData("ed25519-public.asc", "public key only")]
    public void Keys_that_cannot_sign_unattended_are_refused_saying_why(string fixture, string why)
    {
        Should.Throw<SigningKeyException>(() => SigningKey.Parse(Fixture(fixture))).Message.ShouldContain(why);
    }

    [Fact]
    public void Text_that_is_not_a_key_is_refused_naming_the_export_command()
    {
        Should.Throw<SigningKeyException>(() => SigningKey.Parse("hello"u8.ToArray())).Message.ShouldContain("--export-secret-keys");
        var damaged = Encoding.ASCII.GetString(Fixture("ed25519-unprotected.asc")).Replace("\n\n", "\n\n!!", StringComparison.Ordinal);
        Should.Throw<SigningKeyException>(() => SigningKey.Parse(Encoding.ASCII.GetBytes(damaged))).Message.ShouldContain("damaged");
    }

    [Fact]
    public void A_generated_key_is_an_unprotected_signing_key_with_its_user_id()
    {
        var armored = SigningKeyGenerator.Generate("gentoo-builder binhost <desktops@example.invalid>", DateTimeOffset.FromUnixTimeSeconds(1_800_000_000), bits: 2048);

        var key = SigningKey.Parse(Encoding.ASCII.GetBytes(armored));
        key.Fingerprint.Length.ShouldBe(40);
        key.UserIds.ShouldBe(["gentoo-builder binhost <desktops@example.invalid>"]);
        armored.ShouldStartWith("-----BEGIN PGP PRIVATE KEY BLOCK-----");
    }

    [Fact]
    public void Armor_round_trips_and_carries_the_crc24_of_its_data()
    {
        // RFC 4880's CRC-24 of "123456789" is 0x21CF02.
        var armored = OpenPgpPackets.Armor("MESSAGE", "123456789"u8.ToArray());
        armored.ShouldContain("\n=Ic8C\n");
        var packets = OpenPgpPackets.Write([new OpenPgpPacket(13, new byte[300])]);
        OpenPgpPackets.Read(packets)!.Single().Body.Length.ShouldBe(300);
    }
}
