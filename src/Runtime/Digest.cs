using System.Security.Cryptography;
using System.Text;

namespace Gentoo.Runtime;

/// <summary>Short, stable names for content: the first hex digits of its SHA-256 (in object names, ETags, change checks).</summary>
public static class Digest
{
    public static string Of(string text, int length) => Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(text)))[..length];
}
