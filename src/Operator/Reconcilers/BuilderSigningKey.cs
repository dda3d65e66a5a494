using Gentoo.Entities.V1Alpha1;
using Gentoo.Operator.Desired;
using Gentoo.Runtime;
using Gentoo.Portage.Signing;
using k8s;
using k8s.Models;

namespace Gentoo.Operator.Reconcilers;

/// <summary>What a builder signs with, or why it cannot sign yet.</summary>
public sealed record SigningOutcome(string? Fingerprint, string? Reason = null, string? Message = null);

/// <summary>
/// A builder's signing key: the one its keySecretRef names, or one the operator makes on first use. Checks that it
/// can sign unattended before any build uses it, and publishes its public half for the binhost.
/// </summary>
/// <param name="makeKey">Makes an armored secret key for a user ID and creation time (<see cref="SigningKeyGenerator"/>).</param>
public sealed class BuilderSigningKey(IKubernetes kube, EventRecorder events, TimeProvider clock, Func<string, DateTimeOffset, string> makeKey)
{
    public async Task<SigningOutcome> EnsureAsync(GentooBuilder builder, CancellationToken ct)
    {
        var ns = builder.Namespace();
        var publicName = DesiredSigning.PublicConfigMapName(builder.Name());
        if (!DesiredSigning.Signed(builder))
        {
            await CoreWrites.DeleteIfPresentAsync(() => kube.CoreV1.DeleteNamespacedConfigMapAsync(publicName, ns, cancellationToken: ct));
            return new SigningOutcome(null);
        }

        var (name, key) = (DesiredSigning.SecretName(builder), DesiredSigning.SecretKey(builder));
        var secret = await CoreWrites.ReadOrNullAsync(() => kube.CoreV1.ReadNamespacedSecretAsync(name, ns, cancellationToken: ct));
        if (secret is null && DesiredSigning.OperatorMadeKey(builder))
        {
            var made = DesiredSigning.GeneratedSecret(builder, makeKey(DesiredSigning.UserId(builder), clock.GetUtcNow()));
            if (await CoreWrites.CreateIfMissingAsync(() => kube.CoreV1.CreateNamespacedSecretAsync(made, ns, cancellationToken: ct)))
            {
                secret = made;
                await events.RecordAsync(builder, "Normal", "SigningKeyCreated", $"made a signing key in Secret {name}; it stays when the builder is deleted", ct);
            }
            else
            {
                secret = await CoreWrites.ReadOrNullAsync(() => kube.CoreV1.ReadNamespacedSecretAsync(name, ns, cancellationToken: ct));
            }
        }

        if (secret is null)
        {
            return new SigningOutcome(null, Reasons.SigningKeyMissing,
                $"Secret {name} (spec.signing.keySecretRef) does not exist in {ns}: create it with the signing key under '{key}' "
                + $"(kubectl create secret generic {name} --from-file={key}=<(gpg --armor --export-secret-keys FINGERPRINT)), or set spec.signing.unsigned: true");
        }

        if (secret.Data?.TryGetValue(key, out var bytes) != true)
        {
            var keys = secret.Data is { Count: > 0 } data ? string.Join(", ", data.Keys.Order(StringComparer.Ordinal)) : "none";
            return new SigningOutcome(null, Reasons.SigningKeyInvalid, $"Secret {name} has no key '{key}' (spec.signing.keySecretRef.key); its keys: {keys}");
        }

        SigningKey signing;
        try
        {
            signing = SigningKey.Parse(bytes!);
        }
        catch (SigningKeyException e)
        {
            return new SigningOutcome(null, Reasons.SigningKeyInvalid, $"Secret {name} key '{key}' cannot sign binary packages: {e.Message}");
        }

        await CoreWrites.ApplyConfigMapAsync(kube, DesiredConfig.ConfigMap(builder, publicName, new Dictionary<string, string> { [DesiredSigning.PublicKey] = signing.PublicKeyArmored }), builder, ct);
        return new SigningOutcome(signing.Fingerprint);
    }
}
