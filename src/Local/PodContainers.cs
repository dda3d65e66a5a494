using System.Globalization;
using System.Text;
using k8s.Models;

namespace Gentoo.Local;

/// <summary>
/// A pod as Docker containers: what the kubelet would make of it on this one machine. Pure: the ConfigMaps and Secrets
/// its volumes name are read by the caller.
/// </summary>
public static class PodContainers
{
    /// <summary>The kubelet's reason when a pod's configuration cannot be turned into containers.</summary>
    public const string ConfigError = "CreateContainerConfigError";

    private const string DefaultTerminationPath = "/dev/termination-log";
    private const UnixFileMode ConfigMapMode = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.OtherRead;
    private const UnixFileMode SecretMode = UnixFileMode.UserRead;
    private const UnixFileMode TerminationMode = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.GroupWrite
        | UnixFileMode.OtherRead | UnixFileMode.OtherWrite;

    /// <param name="pod">The pod as the API server has it (with its uid).</param>
    /// <param name="nodeName">This machine's Node.</param>
    /// <param name="podDirectory">Where this pod's files live on this machine (ConfigMap and Secret files, termination messages).</param>
    /// <param name="configMaps">The ConfigMaps of the pod's namespace its volumes and environment name, by name.</param>
    /// <param name="secrets">The Secrets its volumes name, by name.</param>
    /// <param name="claimVolumes">The Docker volume each claim the pod names is bound to (its spec.volumeName), by claim name.</param>
    /// <param name="exposure">The LoadBalancer Services whose ports this machine publishes, and on which address.</param>
    public static PodPlan Plan(
        V1Pod pod, string nodeName, string podDirectory, IReadOnlyDictionary<string, V1ConfigMap> configMaps, IReadOnlyDictionary<string, V1Secret> secrets,
        IReadOnlyDictionary<string, string> claimVolumes, ServiceExposure? exposure = null)
    {
        var published = exposure is null ? [] : Published(pod, exposure);
        var ns = pod.Metadata.NamespaceProperty ?? "default";
        var uid = LocalNames.Uid(pod);
        var files = new List<PodFile>();
        var claims = new List<string>();
        var scratch = new List<string>();
        var sources = new Dictionary<string, (MountKind Kind, string Source, bool ReadOnly)>(StringComparer.Ordinal);
        foreach (var volume in pod.Spec.Volumes ?? [])
        {
            sources[volume.Name] = volume switch
            {
                { PersistentVolumeClaim: { } claim } => Claim(claim, claimVolumes, claims),
                { EmptyDir: not null } => Scratch(podDirectory, volume.Name, scratch),
                { HostPath: { } host } => (MountKind.Bind, host.Path, false),
                { ConfigMap: { } source } => Files(volume.Name, podDirectory, directory =>
                    ConfigMapFiles(directory, source.Name, source.Items, source.Optional, Mode(source.DefaultMode, ConfigMapMode), configMaps, files)),
                { Secret: { } source } => Files(volume.Name, podDirectory, directory =>
                    SecretFiles(directory, source.SecretName, source.Items, source.Optional, Mode(source.DefaultMode, SecretMode), secrets, files)),
                { Projected: { } projected } => Files(volume.Name, podDirectory, directory =>
                {
                    foreach (var projection in projected.Sources ?? [])
                    {
                        if (projection.ConfigMap is { } map)
                        {
                            ConfigMapFiles(directory, map.Name, map.Items, map.Optional, Mode(projected.DefaultMode, ConfigMapMode), configMaps, files);
                        }
                        else if (projection.Secret is { } secret)
                        {
                            SecretFiles(directory, secret.Name, secret.Items, secret.Optional, Mode(projected.DefaultMode, SecretMode), secrets, files);
                        }
                        else
                        {
                            throw new PodPlanException(ConfigError, $"volume {volume.Name}: one machine projects ConfigMaps and Secrets only");
                        }
                    }
                }),
                _ => throw new PodPlanException(ConfigError,
                    $"volume {volume.Name}: one machine runs persistentVolumeClaim, emptyDir, hostPath, configMap, secret and projected volumes, not this kind"),
            };
        }

        ContainerPlan Container(V1Container container)
        {
            var mounts = (container.VolumeMounts ?? []).Select(m => Mount(m, sources)).ToList();
            var terminationPath = container.TerminationMessagePath ?? DefaultTerminationPath;
            var terminationFile = TerminationMessageFile(podDirectory, container.Name);
            files.Add(new PodFile(terminationFile, [], TerminationMode, KeepExisting: true));
            mounts.Add(new ContainerMount(MountKind.Bind, terminationFile, terminationPath, false));
            var security = container.SecurityContext;
            var user = security?.RunAsUser ?? pod.Spec.SecurityContext?.RunAsUser;
            var group = security?.RunAsGroup ?? pod.Spec.SecurityContext?.RunAsGroup;
            return new ContainerPlan(
                container.Name,
                LocalNames.Container(pod, container.Name),
                container.Image ?? throw new PodPlanException(ConfigError, $"container {container.Name} names no image"),
                container.Command?.ToList(),
                container.Args?.ToList(),
                (container.Env ?? []).Select(e => Environment(e, pod, nodeName, configMaps)).ToList(),
                container.WorkingDir,
                mounts,
                security?.Privileged == true,
                security?.Capabilities?.Add?.ToList() ?? [],
                security?.Capabilities?.Drop?.ToList() ?? [],
                user is null ? null : group is null ? user.Value.ToString(CultureInfo.InvariantCulture) : $"{user}:{group}",
                Limit(container, "cpu") is { } cpu ? (long)(cpu * 1_000_000_000m) : null,
                Limit(container, "memory") is { } memory ? (long)memory : null,
                terminationPath,
                container.TerminationMessagePolicy == "FallbackToLogsOnError",
                new Dictionary<string, string>(StringComparer.Ordinal)
                {
                    [LocalNames.ManagedLabel] = "true",
                    [LocalNames.NodeLabel] = nodeName,
                    [LocalNames.NamespaceLabel] = ns,
                    [LocalNames.PodLabel] = pod.Metadata.Name,
                    [LocalNames.PodUidLabel] = uid,
                    [LocalNames.ContainerLabel] = container.Name,
                },
                published.Where(p => p.Container == container.Name).Select(p => p.Port).ToList());
        }

        var init = (pod.Spec.InitContainers ?? []).Select(Container).ToList();
        var main = pod.Spec.Containers.Select(Container).ToList();
        return new PodPlan(claims.Distinct().ToList(), scratch, files, init, main);
    }

    /// <summary>
    /// What the cluster's load balancer (k3s's ServiceLB, say) does for a LoadBalancer Service, here for the one machine:
    /// each port of a Service whose selector matches the pod is published on the address, at the Service's port, to the
    /// container that declares the target port (by name or number).
    /// </summary>
    public static IReadOnlyList<(string Container, PublishedPort Port)> Published(V1Pod pod, ServiceExposure exposure)
    {
        var labels = pod.Metadata.Labels ?? new Dictionary<string, string>();
        var declared = pod.Spec.Containers.SelectMany(c => (c.Ports ?? []).Select(p => (Container: c.Name, p.Name, p.ContainerPort))).ToList();
        var result = new List<(string, PublishedPort)>();
        foreach (var service in exposure.Services.Where(s => s.Spec?.Type == "LoadBalancer" && s.Spec.Selector is { Count: > 0 }))
        {
            if (!service.Spec.Selector.All(pair => labels.TryGetValue(pair.Key, out var value) && value == pair.Value))
            {
                continue;
            }

            foreach (var port in service.Spec.Ports ?? [])
            {
                var target = port.TargetPort?.Value;
                var match = int.TryParse(target, NumberStyles.None, CultureInfo.InvariantCulture, out var number)
                    ? declared.FirstOrDefault(d => d.ContainerPort == number)
                    : declared.FirstOrDefault(d => d.Name == (target ?? "") || (target is null && d.ContainerPort == port.Port));
                var containerPort = match.Container is not null ? match.ContainerPort : number > 0 ? number : port.Port;
                var container = match.Container ?? pod.Spec.Containers[0].Name;
                result.Add((container, new PublishedPort(exposure.Address, port.Port, containerPort, (port.Protocol ?? "TCP").ToLowerInvariant())));
            }
        }

        return result;
    }

    /// <summary>Where a container's termination message is written on this machine (bind-mounted at its terminationMessagePath).</summary>
    public static string TerminationMessageFile(string podDirectory, string container) => Path.Combine(podDirectory, "termination", container);

    private static (MountKind, string, bool) Claim(V1PersistentVolumeClaimVolumeSource claim, IReadOnlyDictionary<string, string> claimVolumes, List<string> claims)
    {
        if (!claimVolumes.TryGetValue(claim.ClaimName, out var volume))
        {
            throw new PodPlanException("ContainerCreating", $"persistentvolumeclaim \"{claim.ClaimName}\" is not bound to a volume");
        }

        claims.Add(volume);
        return (MountKind.Volume, volume, claim.ReadOnlyProperty == true);
    }

    /// <summary>
    /// An emptyDir: a directory of this pod's, as the kubelet keeps it under /var/lib/kubelet/pods, made writable by every
    /// user (the operator's init container copies the agent into it as 65532), gone with the pod.
    /// </summary>
    private static (MountKind, string, bool) Scratch(string podDirectory, string name, List<string> scratch)
    {
        var directory = Path.Combine(podDirectory, "volumes", name);
        scratch.Add(directory);
        return (MountKind.Bind, directory, false);
    }

    /// <summary>A ConfigMap, Secret or projected volume: a read-only directory of this pod's, filled before its containers start.</summary>
    private static (MountKind, string, bool) Files(string volume, string podDirectory, Action<string> fill)
    {
        var directory = Path.Combine(podDirectory, "volumes", volume);
        fill(directory);
        return (MountKind.Bind, directory, true);
    }

    private static void ConfigMapFiles(
        string directory, string name, IList<V1KeyToPath>? items, bool? optional, UnixFileMode mode, IReadOnlyDictionary<string, V1ConfigMap> configMaps,
        List<PodFile> files)
    {
        if (!configMaps.TryGetValue(name, out var configMap))
        {
            if (optional != true)
            {
                throw new PodPlanException(ConfigError, $"configmap \"{name}\" not found");
            }

            return;
        }

        var data = (configMap.Data ?? new Dictionary<string, string>()).ToDictionary(p => p.Key, p => Encoding.UTF8.GetBytes(p.Value), StringComparer.Ordinal);
        foreach (var (key, value) in configMap.BinaryData ?? new Dictionary<string, byte[]>())
        {
            data[key] = value;
        }

        AddFiles(directory, $"configmap \"{name}\"", data, items, mode, optional == true, files);
    }

    private static void SecretFiles(
        string directory, string name, IList<V1KeyToPath>? items, bool? optional, UnixFileMode mode, IReadOnlyDictionary<string, V1Secret> secrets, List<PodFile> files)
    {
        if (!secrets.TryGetValue(name, out var secret))
        {
            if (optional != true)
            {
                throw new PodPlanException(ConfigError, $"secret \"{name}\" not found");
            }

            return;
        }

        AddFiles(directory, $"secret \"{name}\"", secret.Data ?? new Dictionary<string, byte[]>(), items, mode, optional == true, files);
    }

    private static void AddFiles(
        string directory, string what, IDictionary<string, byte[]> data, IList<V1KeyToPath>? items, UnixFileMode mode, bool optional, List<PodFile> files)
    {
        if (items is null)
        {
            files.AddRange(data.Select(p => new PodFile(Path.Combine(directory, p.Key), p.Value, mode)));
            return;
        }

        foreach (var item in items)
        {
            if (item.Path.Split('/').Contains("..") || Path.IsPathRooted(item.Path))
            {
                throw new PodPlanException(ConfigError, $"{what}: item path {item.Path} must be relative and must not contain '..'");
            }

            if (data.TryGetValue(item.Key, out var value))
            {
                files.Add(new PodFile(Path.Combine(directory, item.Path), value, Mode(item.Mode, mode)));
            }
            else if (!optional)
            {
                throw new PodPlanException(ConfigError, $"{what} has no key {item.Key}");
            }
        }
    }

    private static UnixFileMode Mode(int? mode, UnixFileMode fallback) => mode is { } bits ? (UnixFileMode)(bits & 0x1FF) : fallback;

    private static ContainerMount Mount(V1VolumeMount mount, Dictionary<string, (MountKind Kind, string Source, bool ReadOnly)> sources)
    {
        if (!sources.TryGetValue(mount.Name, out var source))
        {
            throw new PodPlanException(ConfigError, $"volume mount {mount.Name}: the pod has no volume of that name");
        }

        if (!string.IsNullOrEmpty(mount.SubPath))
        {
            if (source.Kind != MountKind.Bind || mount.SubPath.Split('/').Contains("..") || Path.IsPathRooted(mount.SubPath))
            {
                throw new PodPlanException(ConfigError, $"volume mount {mount.Name}: one machine supports subPath on hostPath, configMap and secret volumes, relative and without '..'");
            }

            source = source with { Source = Path.Combine(source.Source, mount.SubPath) };
        }

        return new ContainerMount(source.Kind, source.Source, mount.MountPath, source.ReadOnly || mount.ReadOnlyProperty == true);
    }

    private static string Environment(V1EnvVar variable, V1Pod pod, string nodeName, IReadOnlyDictionary<string, V1ConfigMap> configMaps)
    {
        var value = variable.ValueFrom switch
        {
            null => variable.Value ?? "",
            { FieldRef.FieldPath: "metadata.name" } => pod.Metadata.Name,
            { FieldRef.FieldPath: "metadata.namespace" } => pod.Metadata.NamespaceProperty,
            { FieldRef.FieldPath: "metadata.uid" } => pod.Metadata.Uid,
            { FieldRef.FieldPath: "spec.nodeName" } => nodeName,
            { ConfigMapKeyRef: { } key } => configMaps.TryGetValue(key.Name, out var configMap) && configMap.Data?.TryGetValue(key.Key, out var found) == true ? found
                : key.Optional == true ? "" : throw new PodPlanException(ConfigError, $"env {variable.Name}: configmap \"{key.Name}\" has no key {key.Key}"),
            { SecretKeyRef: not null } => throw new PodPlanException(ConfigError,
                $"env {variable.Name}: on one machine Secrets reach containers as files only (a secret volume), never in the environment docker inspect shows"),
            _ => throw new PodPlanException(ConfigError, $"env {variable.Name}: this valueFrom is not supported on one machine"),
        };
        return variable.Name + "=" + value;
    }

    private static decimal? Limit(V1Container container, string resource) =>
        container.Resources?.Limits?.TryGetValue(resource, out var quantity) == true ? quantity.ToDecimal() : null;
}
