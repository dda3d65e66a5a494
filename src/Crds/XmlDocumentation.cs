using System.Reflection;
using System.Text;
using System.Text.RegularExpressions;
using System.Xml.Linq;

namespace Gentoo.Crds;

/// <summary>
/// The summaries of the XML documentation files that sit next to assemblies, keyed by member id
/// ("T:Namespace.Type", "P:Namespace.Type.Property"), as plain one-paragraph text.
/// </summary>
public sealed partial class XmlDocumentation
{
    private readonly Dictionary<string, string> summaries = new(StringComparer.Ordinal);

    /// <summary>Loads the documentation files of the given assemblies; an assembly without one is an error.</summary>
    public static XmlDocumentation For(params Assembly[] assemblies)
    {
        var docs = new XmlDocumentation();
        foreach (var assembly in assemblies.Distinct())
        {
            // Beside the application, where the build copies them (a single-file publish has none: generate-crds is a development command).
            var path = Path.Combine(AppContext.BaseDirectory, assembly.GetName().Name + ".xml");
            if (!File.Exists(path))
            {
                throw new FileNotFoundException(
                    $"the XML documentation of {assembly.GetName().Name} is missing at {path}; CRD descriptions come from it", path);
            }

            docs.Load(XDocument.Load(path));
        }

        return docs;
    }

    public string? Summary(Type type) => Find("T:" + MemberId(type));

    public string? Summary(PropertyInfo property) =>
        Find("P:" + MemberId(property.DeclaringType!) + "." + property.Name);

    public string? Summary(FieldInfo field) =>
        Find("F:" + MemberId(field.DeclaringType!) + "." + field.Name);

    private string? Find(string id) => summaries.TryGetValue(id, out var text) ? text : null;

    /// <summary>Members of a generic base (CommonStatus&lt;TPhase&gt;) are documented on its definition.</summary>
    private static string MemberId(Type type)
    {
        var documented = type.IsGenericType ? type.GetGenericTypeDefinition() : type;
        return (documented.FullName ?? documented.Name).Replace('+', '.');
    }

    private void Load(XDocument document)
    {
        foreach (var member in document.Descendants("member"))
        {
            var id = member.Attribute("name")?.Value;
            var summary = member.Element("summary");
            if (id is null || summary is null)
            {
                continue;
            }

            var text = Flatten(summary);
            if (text.Length > 0)
            {
                summaries[id] = text;
            }
        }
    }

    private static string Flatten(XElement summary)
    {
        var builder = new StringBuilder();
        foreach (var node in summary.Nodes())
        {
            Append(builder, node);
        }

        return Whitespace().Replace(builder.ToString(), " ").Trim();
    }

    private static void Append(StringBuilder builder, XNode node)
    {
        switch (node)
        {
            case XText text:
                builder.Append(text.Value);
                break;
            case XElement { Name.LocalName: "see" or "seealso" } reference:
                var target = reference.Attribute("langword")?.Value
                    ?? reference.Attribute("cref")?.Value.Split('.', ':').Last()
                    ?? reference.Value;
                builder.Append(target);
                break;
            case XElement element:
                if (element.Name.LocalName == "para")
                {
                    builder.Append(' ');
                }

                foreach (var child in element.Nodes())
                {
                    Append(builder, child);
                }

                break;
        }
    }

    [GeneratedRegex("\\s+")]
    private static partial Regex Whitespace();
}
