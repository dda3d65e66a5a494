using System.Buffers.Binary;
using System.Numerics;
using System.Security.Cryptography;
using System.Text;

namespace Gentoo.Portage.Signing;

/// <summary>
/// Makes a new unprotected OpenPGP signing key (version 4, RSA, certify and sign, self-certified with SHA-256), as
/// `gpg --quick-generate-key UID rsa3072 sign never` with an empty passphrase would: for a binhost whose owner did
/// not bring a key.
/// </summary>
public static class SigningKeyGenerator
{
    private const byte Rsa = 1;
    private const byte Sha256 = 8;
    private const byte PositiveCertification = 0x13;

    /// <summary>The ASCII-armored secret key.</summary>
    public static string Generate(string userId, DateTimeOffset created, int bits = 3072)
    {
        using var rsa = RSA.Create(bits);
        var parameters = rsa.ExportParameters(includePrivateParameters: true);
        var time = new byte[4];
        BinaryPrimitives.WriteUInt32BigEndian(time, (uint)created.ToUnixTimeSeconds());

        byte[] publicBody = [4, .. time, Rsa, .. OpenPgpPackets.Mpi(parameters.Modulus!), .. OpenPgpPackets.Mpi(parameters.Exponent!)];
        var fingerprint = SigningKey.FingerprintOf(publicBody);
        var uid = Encoding.UTF8.GetBytes(userId);

        byte[] hashedSubpackets =
        [
            5, 2, .. time, // signature creation time
            2, 27, 0x03, // key flags: certify, sign
            2, 21, Sha256, // preferred hash: SHA-256
            22, 33, 4, .. Convert.FromHexString(fingerprint), // issuer fingerprint
        ];
        byte[] hashed = [4, PositiveCertification, Rsa, Sha256, (byte)(hashedSubpackets.Length >> 8), (byte)hashedSubpackets.Length, .. hashedSubpackets];
        var trailer = new byte[6];
        trailer[0] = 4;
        trailer[1] = 0xFF;
        BinaryPrimitives.WriteUInt32BigEndian(trailer.AsSpan(2), (uint)hashed.Length);
        var uidLength = new byte[4];
        BinaryPrimitives.WriteUInt32BigEndian(uidLength, (uint)uid.Length);
        byte[] signed =
        [
            0x99, (byte)(publicBody.Length >> 8), (byte)publicBody.Length, .. publicBody,
            0xB4, .. uidLength, .. uid,
            .. hashed, .. trailer,
        ];
        var digest = SHA256.HashData(signed);
        var signatureValue = rsa.SignHash(digest, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
        byte[] unhashed = [9, 16, .. SigningKey.KeyId(fingerprint)]; // issuer key ID
        byte[] signature = [.. hashed, (byte)(unhashed.Length >> 8), (byte)unhashed.Length, .. unhashed, digest[0], digest[1], .. OpenPgpPackets.Mpi(signatureValue)];

        var packets = new[]
        {
            new OpenPgpPacket(OpenPgpPacket.SecretKey, [.. publicBody, .. SecretMaterial(parameters)]),
            new OpenPgpPacket(OpenPgpPacket.UserId, uid),
            new OpenPgpPacket(OpenPgpPacket.Signature, signature),
        };
        return OpenPgpPackets.Armor("PRIVATE KEY BLOCK", OpenPgpPackets.Write(packets));
    }

    /// <summary>Unprotected RSA secret: d, p, q, u = p⁻¹ mod q with p &lt; q, then the two-byte sum of those bytes.</summary>
    private static byte[] SecretMaterial(RSAParameters key)
    {
        var d = new BigInteger(key.D, isUnsigned: true, isBigEndian: true);
        var first = new BigInteger(key.P, isUnsigned: true, isBigEndian: true);
        var second = new BigInteger(key.Q, isUnsigned: true, isBigEndian: true);
        var (p, q) = first < second ? (first, second) : (second, first);
        var u = BigInteger.ModPow(p, q - 2, q); // q is prime
        byte[] mpis = [.. OpenPgpPackets.Mpi(d), .. OpenPgpPackets.Mpi(p), .. OpenPgpPackets.Mpi(q), .. OpenPgpPackets.Mpi(u)];
        var sum = 0;
        foreach (var b in mpis)
        {
            sum = (sum + b) & 0xFFFF;
        }

        return [0, .. mpis, (byte)(sum >> 8), (byte)sum];
    }
}
