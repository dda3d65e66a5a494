using System.Globalization;
using System.Net;
using System.Text;
using Gentoo.Portage.Releases;

namespace Gentoo.Binhost;

/// <summary>A BuildRun as the page lists it: where it is and, when it waits for a person, why.</summary>
public sealed record PageRun(string Name, string Phase, DateTime? Started, string? Message, bool AwaitingPerson);

/// <summary>Everything the page shows, gathered by the server.</summary>
public sealed record PageModel(
    ClientTarget Target,
    string? SigningFingerprint,
    Publication? Published,
    IReadOnlyList<Release> Releases,
    IReadOnlyList<PackageKernelRequirement> Packages,
    IReadOnlyList<PageRun>? Runs,
    DateTimeOffset Now);

/// <summary>
/// The binhost's page at /: the builder, its published release, every kept release with its changes, the published
/// packages with the kernel each needs, the latest runs (and why one waits for a person), and the client setup.
/// Server-rendered HTML with its style inline: no script, no external asset, readable on a phone.
/// </summary>
public static class BinhostPage
{
    public static string Render(PageModel model)
    {
        var name = model.Target.Name;
        var html = new StringBuilder();
        html.Append("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">");
        html.Append("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">");
        html.Append("<title>").Append(E(name)).Append(" · gentoo-builder binhost</title>");
        html.Append("<style>")
            .Append("body{font-family:system-ui,sans-serif;margin:0 auto;max-width:60rem;padding:1rem;line-height:1.4;color:#222;background:#fff}")
            .Append("h1{font-size:1.5rem;margin:.2rem 0}h2{font-size:1.15rem;margin-top:1.6rem;border-bottom:1px solid #ddd}")
            .Append("table{border-collapse:collapse;width:100%;font-size:.92rem}th,td{text-align:left;padding:.3rem .4rem;border-bottom:1px solid #eee;vertical-align:top}")
            .Append(".scroll{overflow-x:auto}code,pre{font-family:ui-monospace,monospace;font-size:.88rem}pre{background:#f5f5f5;padding:.6rem;overflow-x:auto}")
            .Append(".published{background:#eaf6ea}.tag{display:inline-block;padding:0 .35rem;border-radius:.3rem;background:#2e7d32;color:#fff;font-size:.8rem}")
            .Append(".wait{background:#fff4e0}.muted{color:#666}details summary{cursor:pointer}")
            .Append("@media (prefers-color-scheme:dark){body{background:#111;color:#ddd}pre{background:#222}.published{background:#1d2f1d}.wait{background:#33270f}th,td{border-color:#333}}")
            .Append("</style></head><body>\n");
        html.Append("<header><p class=\"muted\">gentoo-builder binhost</p><h1>").Append(E(name)).Append("</h1>");
        html.Append("<p id=\"published\">").Append(model.Published is { } published
            ? $"Published: release <a href=\"#release-{E(published.Release)}\">{E(published.Release)}</a>, since {When(published.Time, model.Now)}."
            : model.Releases.Count == 0 ? "No release yet: /Packages serves every package in the PKGDIR until the first successful build makes one."
            : "No release is published: a person publishes one (kubectl gentoo publish).").Append("</p></header>\n");

        html.Append("<section id=\"releases\"><h2>Releases</h2>");
        if (model.Releases.Count == 0)
        {
            html.Append("<p class=\"muted\">None yet.</p>");
        }
        else
        {
            html.Append("<div class=\"scroll\"><table><thead><tr><th>Release</th><th>Made</th><th>Run</th><th>Packages</th><th>Changes</th><th></th></tr></thead><tbody>");
            foreach (var release in model.Releases.Reverse())
            {
                var isPublished = release.Id == model.Published?.Release;
                html.Append("<tr id=\"release-").Append(E(release.Id)).Append('"').Append(isPublished ? " class=\"published\"" : "").Append('>');
                html.Append("<td>").Append(E(release.Id)).Append(isPublished ? " <span class=\"tag\">published</span>" : "").Append(release.Partial ? " <span class=\"muted\">(partial)</span>" : "").Append("</td>");
                html.Append("<td>").Append(When(release.Created, model.Now)).Append("</td>");
                html.Append("<td>").Append(E(release.Run ?? "")).Append("</td>");
                html.Append("<td>").Append(release.Packages.ToString(CultureInfo.InvariantCulture)).Append("</td><td>");
                if (release.Changes.Count == 0)
                {
                    html.Append("<span class=\"muted\">none</span>");
                }
                else
                {
                    html.Append("<details><summary>+").Append(release.Added.ToString(CultureInfo.InvariantCulture)).Append(" −").Append(release.Removed.ToString(CultureInfo.InvariantCulture))
                        .Append(" ~").Append(release.Changed.ToString(CultureInfo.InvariantCulture)).Append("</summary><ul>");
                    foreach (var change in release.Changes)
                    {
                        html.Append("<li><code>").Append(E(ServedReleases.Describe(change))).Append("</code></li>");
                    }

                    html.Append("</ul></details>");
                }

                html.Append("</td><td><a href=\"releases/").Append(E(release.Id)).Append("/Packages\">Packages</a></td></tr>");
            }

            html.Append("</tbody></table></div>");
        }

        html.Append("</section>\n<section id=\"packages\"><h2>Packages").Append(model.Published is null ? "" : " of the published release").Append("</h2>");
        if (model.Packages.Count == 0)
        {
            html.Append("<p class=\"muted\">None.</p>");
        }
        else
        {
            html.Append("<div class=\"scroll\"><table><thead><tr><th>Package</th><th>Needs kernel</th><th>File</th></tr></thead><tbody>");
            foreach (var package in model.Packages)
            {
                html.Append("<tr><td>").Append(E(package.Cpv)).Append("</td><td>").Append(package.Requires is { } kernel ? E(kernel) + (package.File is { } file ? $" <span class=\"muted\">({E(file)})</span>" : "") : "<span class=\"muted\">any</span>")
                    .Append("</td><td><a href=\"").Append(E(Href(package.Path))).Append("\">").Append(E(Path.GetFileName(package.Path))).Append("</a></td></tr>");
            }

            html.Append("</tbody></table></div>");
        }

        html.Append("</section>\n<section id=\"runs\"><h2>Latest runs</h2>");
        if (model.Runs is null)
        {
            html.Append("<p class=\"muted\">This binhost does not talk to the cluster, so it cannot show runs: <code>kubectl gentoo status</code> does.</p>");
        }
        else if (model.Runs.Count == 0)
        {
            html.Append("<p class=\"muted\">None.</p>");
        }
        else
        {
            html.Append("<div class=\"scroll\"><table><thead><tr><th>BuildRun</th><th>Phase</th><th>Started</th><th>What it says</th></tr></thead><tbody>");
            foreach (var run in model.Runs)
            {
                html.Append("<tr").Append(run.AwaitingPerson ? " class=\"wait\"" : "").Append("><td>").Append(E(run.Name)).Append("</td><td>").Append(E(run.Phase)).Append("</td><td>")
                    .Append(run.Started is { } started ? When(started, model.Now) : "").Append("</td><td>").Append(E(run.Message ?? ""))
                    .Append(run.AwaitingPerson ? $"<br><code>kubectl gentoo explain {E(run.Name)}</code>" : "").Append("</td></tr>");
            }

            html.Append("</tbody></table></div>");
        }

        var url = model.Target.Url;
        html.Append("</section>\n<section id=\"setup\"><h2>Set up a client</h2>");
        html.Append("<p>As root on the Gentoo machine (it trusts the signing key, writes binrepos.conf and syncs the repositories from the snapshot the packages were built from):</p>");
        html.Append("<pre>curl -fsS ").Append(E(url)).Append("client-setup.sh | sh\nemerge --sync\nemerge --ask --getbinpkg --update --deep --newuse @world</pre>");
        html.Append("<p><a href=\"binrepos.conf\">binrepos.conf</a> · <a href=\"repos.conf\">repos.conf</a> · <a href=\"client-setup.sh\">client-setup.sh</a>");
        if (model.SigningFingerprint is { } fingerprint)
        {
            html.Append(" · <a href=\"signing-key.asc\">signing key</a> <code>").Append(E(fingerprint)).Append("</code>");
        }
        else
        {
            html.Append(" · packages are not signed");
        }

        html.Append(" · <a href=\"Packages\">Packages</a> · <a href=\"kernel\">kernel requirements</a></p>");
        html.Append("<p class=\"muted\">Pin a release instead of following the published one: <code>").Append(E(url)).Append("client-setup.sh?release=ID</code>.</p>");
        html.Append("</section>\n</body></html>\n");
        return html.ToString();
    }

    private static string E(string text) => WebUtility.HtmlEncode(text);

    /// <summary>A package path as a relative link, each segment escaped.</summary>
    private static string Href(string path) => string.Join('/', path.Split('/').Select(Uri.EscapeDataString));

    private static string When(DateTimeOffset time, DateTimeOffset now)
    {
        var age = now - time;
        var ago = age.TotalDays >= 2 ? $"{(int)age.TotalDays} days ago" : age.TotalHours >= 2 ? $"{(int)age.TotalHours} hours ago" : age.TotalMinutes >= 2 ? $"{(int)age.TotalMinutes} minutes ago" : "just now";
        return $"<time datetime=\"{time.UtcDateTime:yyyy-MM-ddTHH:mm:ssZ}\" title=\"{time.UtcDateTime:yyyy-MM-dd HH:mm} UTC\">{ago}</time>";
    }
}
