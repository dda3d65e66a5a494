using Gentoo.Entities.V1Alpha1;
using Gentoo.Portage.Signing;
using k8s;
using k8s.Models;

namespace Gentoo.Operator.Desired;

/// <summary>
/// Where a builder's signing key lives and how pods reach it: build pods and a person's shell pod mount the secret
/// key (nothing else does); the binhost mounts the public half from a ConfigMap the operator writes.
/// </summary>
public static class DesiredSigning
{
    public const string DefaultKey = "signing.asc";
    public const string PublicKey = "public.asc";

    /// <summary>Where a Secret the operator made keeps the key's revocation certificate (gpg --import it where the key is trusted to revoke it).</summary>
    public const string RevocationKey = "revocation.asc";
    public const string KeyMount = "/etc/gentoo-builder/signing";
    public const string PublicKeyMount = "/etc/gentoo-binhost/signing";

    public static bool Signed(GentooBuilder builder) => builder.Spec.Signing?.Unsigned != true;

    /// <summary>Whether the operator makes and keeps the key (no keySecretRef).</summary>
    public static bool OperatorMadeKey(GentooBuilder builder) => builder.Spec.Signing?.KeySecretRef is null;

    /// <summary>Whether the operator looks after the key in <paramref name="secret"/>: it made it (its label says so) and no keySecretRef names another.</summary>
    public static bool OperatorKeeps(GentooBuilder builder, V1Secret secret) =>
        OperatorMadeKey(builder) && secret.Metadata.Labels?.TryGetValue(ObjectLabels.ManagedBy, out var by) == true && by == ObjectLabels.ManagedByOperator
        && secret.Data?.ContainsKey(DefaultKey) == true;

    public static string SecretName(GentooBuilder builder) => builder.Spec.Signing?.KeySecretRef?.Name ?? builder.Name() + "-signing-key";

    public static string SecretKey(GentooBuilder builder) => builder.Spec.Signing?.KeySecretRef?.Key ?? DefaultKey;

    public static string PublicConfigMapName(string builder) => builder + "-signing-public";

    /// <summary>The user ID of a key the operator makes: says what signs and for which builder.</summary>
    public static string UserId(GentooBuilder builder) => $"gentoo-builder binhost {builder.Namespace()}/{builder.Name()}";

    /// <summary>
    /// The Secret holding a key the operator made. No owner reference: clients trust this key, so it outlives the
    /// builder (a new builder of the same name signs with it again).
    /// </summary>
    public static V1Secret GeneratedSecret(GentooBuilder builder, GeneratedSigningKey key) => new()
    {
        ApiVersion = "v1",
        Kind = "Secret",
        Type = "Opaque",
        Metadata = new V1ObjectMeta
        {
            Name = SecretName(builder),
            NamespaceProperty = builder.Namespace(),
            Labels = new Dictionary<string, string>
            {
                [ObjectLabels.ManagedBy] = ObjectLabels.ManagedByOperator,
                [ObjectLabels.Builder] = builder.Name(),
            },
        },
        Data = new Dictionary<string, byte[]>
        {
            [DefaultKey] = System.Text.Encoding.ASCII.GetBytes(key.SecretKeyArmored),
            [RevocationKey] = System.Text.Encoding.ASCII.GetBytes(key.RevocationArmored),
        },
    };

    /// <summary>The pod's volumes and, when the builder signs, its secret key (readable by root only).</summary>
    public static IReadOnlyList<PodVolume> WithKey(GentooBuilder builder, IReadOnlyList<PodVolume> volumes) => Signed(builder)
        ? [.. volumes, new PodVolume("signing", KeyMount, new V1Volume
        {
            Name = "signing",
            Secret = new V1SecretVolumeSource
            {
                SecretName = SecretName(builder),
                Items = [new V1KeyToPath { Key = SecretKey(builder), Path = DefaultKey }],
                DefaultMode = Convert.ToInt32("0400", 8),
            },
        }, ReadOnly: true)]
        : volumes;

    /// <summary>The agent's argument naming the mounted key.</summary>
    public static string[] KeyArguments(GentooBuilder builder) => Signed(builder) ? ["--signing-key", $"{KeyMount}/{DefaultKey}"] : [];
}
