using Gentoo.Entities.V1Alpha1;
using Gentoo.Operator.Desired;
using Gentoo.Runtime;
using Gentoo.Portage.Signing;
using k8s;
using k8s.Models;

namespace Gentoo.Operator.Reconcilers;

/// <summary>What a builder signs with (until when, and when to look at the key again), or why it cannot sign yet.</summary>
public sealed record SigningOutcome(string? Fingerprint, DateTimeOffset? Expires = null, string? Reason = null, string? Message = null)
{
    /// <summary>How long until the key needs the operator again (a day at most, which a timer holds): its extension or its expiry.</summary>
    public TimeSpan? Recheck { get; init; }
}

/// <summary>
/// A builder's signing key: the one its keySecretRef names, or one the operator makes on first use and extends a year
/// before it would expire. Checks that it can sign unattended now before any build uses it, and publishes its public
/// half for the binhost.
/// </summary>
public sealed class BuilderSigningKey(IKubernetes kube, EventRecorder events, TimeProvider clock)
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
            secret = await MakeAsync(builder, ct);
        }
        else if (secret is not null && DesiredSigning.OperatorKeeps(builder, secret))
        {
            secret = await KeepAsync(builder, secret, ct);
        }

        if (secret is null)
        {
            return new SigningOutcome(null, null, Reasons.SigningKeyMissing,
                $"Secret {name} (spec.signing.keySecretRef) does not exist in {ns}: create it with the signing key under '{key}' "
                + $"(kubectl create secret generic {name} --from-file={key}=<(gpg --armor --export-secret-keys FINGERPRINT)), or set spec.signing.unsigned: true");
        }

        if (secret.Data?.TryGetValue(key, out var bytes) != true)
        {
            var keys = secret.Data is { Count: > 0 } data ? string.Join(", ", data.Keys.Order(StringComparer.Ordinal)) : "none";
            return new SigningOutcome(null, null, Reasons.SigningKeyInvalid, $"Secret {name} has no key '{key}' (spec.signing.keySecretRef.key); its keys: {keys}");
        }

        SigningKey signing;
        try
        {
            signing = SigningKey.Parse(bytes!, clock.GetUtcNow());
        }
        catch (SigningKeyException e)
        {
            return new SigningOutcome(null, null, Reasons.SigningKeyInvalid, $"Secret {name} key '{key}' cannot sign binary packages: {e.Message}");
        }

        await CoreWrites.ApplyConfigMapAsync(kube, DesiredConfig.ConfigMap(builder, publicName, new Dictionary<string, string> { [DesiredSigning.PublicKey] = signing.PublicKeyArmored }), builder, ct);
        var due = signing.Expires is not { } expires ? (DateTimeOffset?)null
            : DesiredSigning.OperatorKeeps(builder, secret) ? expires - SigningKeyGenerator.ExtendWhenLeft : expires;
        return new SigningOutcome(signing.Fingerprint, signing.Expires)
        {
            Recheck = due is { } at ? TimeSpan.FromTicks(Math.Clamp((at - clock.GetUtcNow()).Ticks, TimeSpan.TicksPerSecond, TimeSpan.TicksPerDay)) : null,
        };
    }

    private async Task<V1Secret?> MakeAsync(GentooBuilder builder, CancellationToken ct)
    {
        var made = DesiredSigning.GeneratedSecret(builder, SigningKeyGenerator.Generate(DesiredSigning.UserId(builder), clock.GetUtcNow()));
        if (!await CoreWrites.CreateIfMissingAsync(() => kube.CoreV1.CreateNamespacedSecretAsync(made, made.Namespace(), cancellationToken: ct)))
        {
            return await CoreWrites.ReadOrNullAsync(() => kube.CoreV1.ReadNamespacedSecretAsync(made.Name(), made.Namespace(), cancellationToken: ct));
        }

        await events.RecordAsync(builder, "Normal", "SigningKeyCreated",
            $"made a signing key in Secret {made.Name()}, valid for {SigningKeyGenerator.Lifetime.Days} days and extended a year ahead of that, "
            + $"with its revocation certificate under '{DesiredSigning.RevocationKey}'; it stays when the builder is deleted", ct);
        return made;
    }

    /// <summary>
    /// Extends a key the operator made when its expiry comes within a year, and adds the revocation certificate a key
    /// made by an earlier version lacks. The write carries the read's resourceVersion: a person's change in between wins.
    /// </summary>
    private async Task<V1Secret> KeepAsync(GentooBuilder builder, V1Secret secret, CancellationToken ct)
    {
        var now = clock.GetUtcNow();
        var key = secret.Data[DesiredSigning.DefaultKey];
        string? extended, revocation;
        try
        {
            extended = SigningKeyGenerator.ExtendIfDue(key, now);
            revocation = secret.Data.ContainsKey(DesiredSigning.RevocationKey) ? null : SigningKeyGenerator.Revocation(key, now);
        }
        catch (SigningKeyException)
        {
            return secret; // the key is reported as it stands by the check that follows
        }

        if (extended is null && revocation is null)
        {
            return secret;
        }

        var data = new Dictionary<string, byte[]>(secret.Data);
        if (extended is not null)
        {
            data[DesiredSigning.DefaultKey] = System.Text.Encoding.ASCII.GetBytes(extended);
        }

        if (revocation is not null)
        {
            data[DesiredSigning.RevocationKey] = System.Text.Encoding.ASCII.GetBytes(revocation);
        }

        secret.Data = data;
        var stored = await kube.CoreV1.ReplaceNamespacedSecretAsync(secret, secret.Name(), secret.Namespace(), cancellationToken: ct);
        if (extended is not null)
        {
            var until = SigningKey.Parse(data[DesiredSigning.DefaultKey], now).Expires;
            await events.RecordAsync(builder, "Normal", "SigningKeyExtended",
                $"extended the signing key in Secret {secret.Name()} until {until:yyyy-MM-dd}; clients see the new date when they fetch the key again (client-setup.sh)", ct);
        }

        return stored;
    }
}
