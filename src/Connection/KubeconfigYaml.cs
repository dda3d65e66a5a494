using System.Globalization;
using k8s.Exceptions;
using k8s.KubeConfigModels;
using YamlDotNet.Core;
using YamlDotNet.RepresentationModel;

namespace Gentoo.Connection;

/// <summary>
/// A kubeconfig's YAML node tree read into KubernetesClient's kubeconfig types, field by field as kubectl's Config
/// names them. Fields the client does not use (preferences, extensions) are passed over, as kubectl passes over fields
/// it does not know, and so is as-user-extra (kubectl's lists per key do not fit the client's one text per key); a
/// field of the wrong shape is an error naming its place.
/// </summary>
internal static class KubeconfigYaml
{
    private const string Root = "the kubeconfig";

    public static K8SConfiguration Configuration(YamlNode root) => Object<K8SConfiguration>(root, Root, (config, key, value, at) =>
    {
        switch (key)
        {
            case "apiVersion": config.ApiVersion = Text(value, at); break;
            case "kind": config.Kind = Text(value, at); break;
            case "current-context": config.CurrentContext = Text(value, at); break;
            case "clusters": config.Clusters = Items(value, at, Cluster); break;
            case "contexts": config.Contexts = Items(value, at, Context); break;
            case "users": config.Users = Items(value, at, User); break;
        }
    });

    private static Cluster Cluster(YamlNode node, string at) => Object<Cluster>(node, at, (cluster, key, value, field) =>
    {
        switch (key)
        {
            case "name": cluster.Name = Text(value, field); break;
            case "cluster": cluster.ClusterEndpoint = Endpoint(value, field); break;
        }
    });

    private static ClusterEndpoint Endpoint(YamlNode node, string at) => Object<ClusterEndpoint>(node, at, (endpoint, key, value, field) =>
    {
        switch (key)
        {
            case "server": endpoint.Server = Text(value, field); break;
            case "certificate-authority": endpoint.CertificateAuthority = Text(value, field); break;
            case "certificate-authority-data": endpoint.CertificateAuthorityData = Text(value, field); break;
            case "tls-server-name": endpoint.TlsServerName = Text(value, field); break;
            case "insecure-skip-tls-verify": endpoint.SkipTlsVerify = Flag(value, field); break;
        }
    });

    private static Context Context(YamlNode node, string at) => Object<Context>(node, at, (context, key, value, field) =>
    {
        switch (key)
        {
            case "name": context.Name = Text(value, field); break;
            case "context": context.ContextDetails = ContextDetails(value, field); break;
        }
    });

    private static ContextDetails ContextDetails(YamlNode node, string at) => Object<ContextDetails>(node, at, (details, key, value, field) =>
    {
        switch (key)
        {
            case "cluster": details.Cluster = Text(value, field); break;
            case "user": details.User = Text(value, field); break;
            case "namespace": details.Namespace = Text(value, field); break;
        }
    });

    private static User User(YamlNode node, string at) => Object<User>(node, at, (user, key, value, field) =>
    {
        switch (key)
        {
            case "name": user.Name = Text(value, field); break;
            case "user": user.UserCredentials = Credentials(value, field); break;
        }
    });

    private static UserCredentials Credentials(YamlNode node, string at) => Object<UserCredentials>(node, at, (credentials, key, value, field) =>
    {
        switch (key)
        {
            case "client-certificate": credentials.ClientCertificate = Text(value, field); break;
            case "client-certificate-data": credentials.ClientCertificateData = Text(value, field); break;
            case "client-key": credentials.ClientKey = Text(value, field); break;
            case "client-key-data": credentials.ClientKeyData = Text(value, field); break;
            case "token": credentials.Token = Text(value, field); break;
            case "username": credentials.UserName = Text(value, field); break;
            case "password": credentials.Password = Text(value, field); break;
            case "as": credentials.Impersonate = Text(value, field); break;
            case "as-groups": credentials.ImpersonateGroups = Items(value, field, Text); break;
            case "auth-provider": credentials.AuthProvider = AuthProvider(value, field); break;
            case "exec": credentials.ExternalExecution = Exec(value, field); break;
        }
    });

    private static AuthProvider AuthProvider(YamlNode node, string at) => Object<AuthProvider>(node, at, (provider, key, value, field) =>
    {
        switch (key)
        {
            case "name": provider.Name = Text(value, field); break;
            case "config": provider.Config = Texts(value, field); break;
        }
    });

    private static ExternalExecution Exec(YamlNode node, string at) => Object<ExternalExecution>(node, at, (exec, key, value, field) =>
    {
        switch (key)
        {
            case "apiVersion": exec.ApiVersion = Text(value, field); break;
            case "command": exec.Command = Text(value, field); break;
            case "args": exec.Arguments = Items(value, field, Text); break;
            case "env": exec.EnvironmentVariables = Items(value, field, Texts); break;
            case "installHint": exec.InstallHint = Text(value, field); break;
            case "provideClusterInfo": exec.ProvideClusterInfo = Flag(value, field); break;
        }
    });

    /// <summary>A mapping read into a new <typeparamref name="T"/>: <paramref name="set"/> takes each key it knows, with the value and its place.</summary>
    private static T Object<T>(YamlNode node, string at, Action<T, string, YamlNode, string> set)
        where T : new()
    {
        var item = new T();
        foreach (var (key, value) in Fields(node, at))
        {
            set(item, key, value, at == Root ? key : $"{at}.{key}");
        }

        return item;
    }

    // A mapping of text values (an auth provider's config, an exec plugin's env entry).
    private static Dictionary<string, string> Texts(YamlNode node, string at) =>
        Fields(node, at).ToDictionary(entry => entry.Key, entry => Text(entry.Value, $"{at}.{entry.Key}"));

    /// <summary>A mapping's keys and values; null (an empty value) is an empty mapping.</summary>
    private static IEnumerable<KeyValuePair<string, YamlNode>> Fields(YamlNode node, string at) => node switch
    {
        YamlMappingNode mapping => mapping.Children.Select(child => new KeyValuePair<string, YamlNode>(
            child.Key is YamlScalarNode { Value: { } key } ? key : throw Wrong(at, "a mapping with text keys", child.Key), child.Value)),
        _ when IsNull(node) => [],
        _ => throw Wrong(at, "a mapping", node),
    };

    private static List<T> Items<T>(YamlNode node, string at, Func<YamlNode, string, T> item) => node switch
    {
        YamlSequenceNode sequence => sequence.Children.Select((child, i) => item(child, $"{at}[{i}]")).ToList(),
        _ when IsNull(node) => [],
        _ => throw Wrong(at, "a list", node),
    };

    private static string Text(YamlNode node, string at) => node is YamlScalarNode scalar
        ? IsNull(node) ? "" : scalar.Value ?? ""
        : throw Wrong(at, "a text value", node);

    private static bool Flag(YamlNode node, string at) => Text(node, at).ToLowerInvariant() switch
    {
        "true" => true,
        "false" or "" => false,
        _ => throw Wrong(at, "true or false", node),
    };

    // A plain ~, null or nothing is YAML's null; quoted it is the text.
    private static bool IsNull(YamlNode node) =>
        node is YamlScalarNode { Style: not (ScalarStyle.SingleQuoted or ScalarStyle.DoubleQuoted), Value: null or "" or "~" or "null" or "Null" or "NULL" };

    private static KubeConfigException Wrong(string at, string expected, YamlNode found) =>
        new(string.Create(CultureInfo.InvariantCulture, $"{at} (line {found.Start.Line}) must be {expected}"));
}
