using System.Text.Json.Serialization;
using k8s.Models;

namespace Gentoo.Connection;

/// <summary>
/// The Kubernetes kinds our processes and tests read and write, with their lists, generated at compile time. They take
/// the place of KubernetesClient's own contracts for all of its 878 models: those root every model, and the code and type
/// data of each, into a natively compiled executable (in the operator's, a fifth of the file and two fifths of the type
/// data unpacked at start). <see cref="ClientJson.Lock"/> puts these in and the client's out in every process, the
/// tests' too, so a kind missing here fails wherever it is first used. The options match KubernetesClient's (camelCase, nulls
/// left out, enums as names); its converters still apply.
/// </summary>
[JsonSourceGenerationOptions(
    PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase,
    DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    UseStringEnumConverter = true)]
[JsonSerializable(typeof(VersionInfo))]
[JsonSerializable(typeof(V1APIGroupList))]
[JsonSerializable(typeof(V1APIResourceList))]
[JsonSerializable(typeof(Corev1Event))]
[JsonSerializable(typeof(Corev1EventList))]
[JsonSerializable(typeof(V1Binding))]
[JsonSerializable(typeof(V1ClusterRole))]
[JsonSerializable(typeof(V1ClusterRoleBinding))]
[JsonSerializable(typeof(V1ConfigMap))]
[JsonSerializable(typeof(V1ConfigMapList))]
[JsonSerializable(typeof(V1CustomResourceDefinition))]
[JsonSerializable(typeof(V1CustomResourceDefinitionList))]
[JsonSerializable(typeof(V1DeleteOptions))]
[JsonSerializable(typeof(V1Deployment))]
[JsonSerializable(typeof(V1DeploymentList))]
[JsonSerializable(typeof(V1Lease))]
[JsonSerializable(typeof(V1LeaseList))]
[JsonSerializable(typeof(V1Namespace))]
[JsonSerializable(typeof(V1NamespaceList))]
[JsonSerializable(typeof(V1Node))]
[JsonSerializable(typeof(V1NodeList))]
[JsonSerializable(typeof(V1Patch))]
[JsonSerializable(typeof(V1PersistentVolumeClaim))]
[JsonSerializable(typeof(V1PersistentVolumeClaimList))]
[JsonSerializable(typeof(V1Pod))]
[JsonSerializable(typeof(V1PodList))]
[JsonSerializable(typeof(V1Role))]
[JsonSerializable(typeof(V1RoleBinding))]
[JsonSerializable(typeof(V1Secret))]
[JsonSerializable(typeof(V1SecretList))]
[JsonSerializable(typeof(V1SelfSubjectAccessReview))]
[JsonSerializable(typeof(V1Service))]
[JsonSerializable(typeof(V1ServiceAccount))]
[JsonSerializable(typeof(V1ServiceList))]
[JsonSerializable(typeof(V1Status))]
[JsonSerializable(typeof(V1StorageClass))]
[JsonSerializable(typeof(V1StorageClassList))]
public sealed partial class ClientModelJson : JsonSerializerContext;
