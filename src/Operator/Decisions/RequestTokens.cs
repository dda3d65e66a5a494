using k8s;
using k8s.Models;

namespace Gentoo.Operator.Decisions;

/// <summary>
/// Requests are annotations whose value is a token; each token is acted on once and echoed in status
/// (status.lastHandledX). A request is new while its token differs from the echo.
/// </summary>
public static class RequestTokens
{
    public static string? Of(IKubernetesObject<V1ObjectMeta> obj, string annotation) =>
        obj.Metadata.Annotations?.TryGetValue(annotation, out var token) == true ? token : null;

    /// <summary>The token when it asks for something not yet handled, else null.</summary>
    public static string? New(IKubernetesObject<V1ObjectMeta> obj, string annotation, string? lastHandled) =>
        Of(obj, annotation) is { } token && token != lastHandled ? token : null;
}
