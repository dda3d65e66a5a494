using System.Globalization;
using Gentoo.Entities.V1Alpha1;
using k8s;
using k8s.Models;

namespace Gentoo.Plugin;

/// <summary>One row of kubectl gentoo status: what a person reads first of a bootstrap, builder or run.</summary>
public static class StatusRow
{
    public static string[] Header(bool wide) =>
        wide ? ["NAMESPACE", "KIND", "NAME", "PHASE", "READY", "REASON", "AGE", "DETAIL", "MESSAGE"] : ["NAMESPACE", "KIND", "NAME", "PHASE", "READY", "REASON", "MESSAGE"];

    /// <summary>The column that changes by itself as time passes (not a change to print under --watch).</summary>
    public static int AgeColumn(bool wide) => wide ? 6 : -1;

    public static string[] Of(IKubernetesObject<V1ObjectMeta> obj, bool wide, DateTime now)
    {
        var (kind, phase, conditions, detail) = obj switch
        {
            GentooBootstrap b => ("GentooBootstrap", b.Status?.Phase?.ToString(), b.Status?.Conditions, b.Status?.CurrentStep is { } step ? "step " + step : "-"),
            GentooBuilder b => ("GentooBuilder", b.Status?.Phase?.ToString(), b.Status?.Conditions,
                string.Join(" ", new[] { b.Status?.CurrentBuildRun is { } run ? "building " + run : null, b.Status?.Releases?.Published is { } published ? "release " + published : null, b.Status?.BinhostUrl }.OfType<string>()) is { Length: > 0 } text ? text : "-"),
            BuildRun r => ("BuildRun", r.Status?.Phase?.ToString(), r.Status?.Conditions, Progress(r.Status?.Progress)),
            _ => (obj.Kind, null, null, "-"),
        };
        var ready = conditions?.FirstOrDefault(c => c.Type == ConditionTypes.Ready);
        var waiting = conditions?.FirstOrDefault(c => c.Type == ConditionTypes.AwaitingOperator && c.Status == "True")
            ?? conditions?.FirstOrDefault(c => c.Type == ConditionTypes.Stalled && c.Status == "True");
        var shown = waiting ?? ready;
        string[] row = [obj.Namespace(), kind, obj.Name(), phase ?? "-", ready?.Status ?? "-", shown?.Reason ?? "-", Short(shown?.Message, wide ? 200 : 80)];
        return wide ? [.. row[..6], Output.Age(obj.Metadata.CreationTimestamp, now), detail, row[6]] : row;
    }

    /// <summary>"3/10 dev-libs/nss-3.99 compile": how far a run's attempt got.</summary>
    public static string Progress(BuildProgress? progress) => progress is { Total: > 0 } p
        ? string.Join(' ', new[] { $"{(p.Done ?? 0).ToString(CultureInfo.InvariantCulture)}/{p.Total.Value.ToString(CultureInfo.InvariantCulture)}", p.CurrentPackage, p.Phase }.OfType<string>())
        : "-";

    public static string Short(string? text, int length = 80)
    {
        var line = (text ?? "-").ReplaceLineEndings(" ");
        return line.Length <= length ? line : line[..(length - 1)] + "…";
    }
}
