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
    public static K8SConfiguration Configuration(YamlNode root)
    {
        var config = new K8SConfiguration();
        foreach (var (key, value) in Fields(root, "the kubeconfig"))
        {
            switch (key)
            {
                case "apiVersion": config.ApiVersion = Text(value, key); break;
                case "kind": config.Kind = Text(value, key); break;
                case "current-context": config.CurrentContext = Text(value, key); break;
                case "clusters": config.Clusters = Items(value, key, Cluster); break;
                case "contexts": config.Contexts = Items(value, key, Context); break;
                case "users": config.Users = Items(value, key, User); break;
            }
        }

        return config;
    }

    private static Cluster Cluster(YamlNode node, string at)
    {
        var cluster = new Cluster();
        foreach (var (key, value) in Fields(node, at))
        {
            switch (key)
            {
                case "name": cluster.Name = Text(value, $"{at}.name"); break;
                case "cluster": cluster.ClusterEndpoint = Endpoint(value, $"{at}.cluster"); break;
            }
        }

        return cluster;
    }

    private static ClusterEndpoint Endpoint(YamlNode node, string at)
    {
        var endpoint = new ClusterEndpoint();
        foreach (var (key, value) in Fields(node, at))
        {
            var field = $"{at}.{key}";
            switch (key)
            {
                case "server": endpoint.Server = Text(value, field); break;
                case "certificate-authority": endpoint.CertificateAuthority = Text(value, field); break;
                case "certificate-authority-data": endpoint.CertificateAuthorityData = Text(value, field); break;
                case "tls-server-name": endpoint.TlsServerName = Text(value, field); break;
                case "insecure-skip-tls-verify": endpoint.SkipTlsVerify = Flag(value, field); break;
            }
        }

        return endpoint;
    }

    private static Context Context(YamlNode node, string at)
    {
        var context = new Context();
        foreach (var (key, value) in Fields(node, at))
        {
            switch (key)
            {
                case "name": context.Name = Text(value, $"{at}.name"); break;
                case "context": context.ContextDetails = ContextDetails(value, $"{at}.context"); break;
            }
        }

        return context;
    }

    private static ContextDetails ContextDetails(YamlNode node, string at)
    {
        var details = new ContextDetails();
        foreach (var (key, value) in Fields(node, at))
        {
            switch (key)
            {
                case "cluster": details.Cluster = Text(value, $"{at}.cluster"); break;
                case "user": details.User = Text(value, $"{at}.user"); break;
                case "namespace": details.Namespace = Text(value, $"{at}.namespace"); break;
            }
        }

        return details;
    }

    private static User User(YamlNode node, string at)
    {
        var user = new User();
        foreach (var (key, value) in Fields(node, at))
        {
            switch (key)
            {
                case "name": user.Name = Text(value, $"{at}.name"); break;
                case "user": user.UserCredentials = Credentials(value, $"{at}.user"); break;
            }
        }

        return user;
    }

    private static UserCredentials Credentials(YamlNode node, string at)
    {
        var credentials = new UserCredentials();
        foreach (var (key, value) in Fields(node, at))
        {
            var field = $"{at}.{key}";
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
        }

        return credentials;
    }

    private static AuthProvider AuthProvider(YamlNode node, string at)
    {
        var provider = new AuthProvider();
        foreach (var (key, value) in Fields(node, at))
        {
            switch (key)
            {
                case "name": provider.Name = Text(value, $"{at}.name"); break;
                case "config": provider.Config = Fields(value, $"{at}.config").ToDictionary(c => c.Key, c => Text(c.Value, $"{at}.config.{c.Key}")); break;
            }
        }

        return provider;
    }

    private static ExternalExecution Exec(YamlNode node, string at)
    {
        var exec = new ExternalExecution();
        foreach (var (key, value) in Fields(node, at))
        {
            var field = $"{at}.{key}";
            switch (key)
            {
                case "apiVersion": exec.ApiVersion = Text(value, field); break;
                case "command": exec.Command = Text(value, field); break;
                case "args": exec.Arguments = Items(value, field, Text); break;
                case "env":
                    exec.EnvironmentVariables = Items(value, field, (variable, place) =>
                        Fields(variable, place).ToDictionary(v => v.Key, v => Text(v.Value, $"{place}.{v.Key}")));
                    break;
                case "installHint": exec.InstallHint = Text(value, field); break;
                case "provideClusterInfo": exec.ProvideClusterInfo = Flag(value, field); break;
            }
        }

        return exec;
    }

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
