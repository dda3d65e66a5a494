using System.Text.Json.Nodes;
using Gentoo.ApiServer.Yaml;
using Gentoo.Plugin;

namespace Gentoo.Operator.Tests.Plugin;

/// <summary>-o yaml: JSON written as YAML reads back, as kubectl reads YAML, to the same JSON.</summary>
public sealed class YamlTextTests
{
    [Fact]
    public void Strings_that_plain_would_read_as_something_else_numbers_booleans_nulls_and_block_text_read_back_the_same()
    {
        string[] texts =
        [
            "", "123", "-1.5e3", "0x1F", "0o17", "1_000", "12:30:00", ".inf", ".NaN", "true", "False", "yes", "no", "on", "OFF", "y", "N",
            "null", "~", "2026-12-03", "2026-12-03T04:24:21Z", "a: b", "- item", "#not a comment", "'single'", "\"double\"", "{flow}",
            "[list]", "key:", " leading", "trailing ", "ä ü 日本", "tab\there", "line one\nline: two\n  'three'\n", "ends without newline\nsecond",
            "trailing spaces \nnext", "\n\nleading newlines", "*alias", "&anchor", "!tag", "%directive", "@at", "`tick", "|", ">",
            "=app-editors/vim-9.1 ~amd64", ">=media-libs/mesa-24 vulkan-overlay", "${COMMON_FLAGS}",
        ];
        var original = new JsonObject
        {
            ["texts"] = new JsonArray([.. texts.Select(t => (JsonNode?)JsonValue.Create(t))]),
            ["numbers"] = new JsonArray(0, -100, 3.25, 12345678901234),
            ["flags"] = new JsonArray(true, false),
            ["nothing"] = null,
            ["empty"] = new JsonObject(),
            ["none"] = new JsonArray(),
            ["nested"] = new JsonObject { ["list"] = new JsonArray(new JsonObject { ["name"] = "gentoo", ["priority"] = -100 }) },
            ["123"] = "a key that reads as a number",
        };

        var yaml = YamlText.Of(original);

        JsonNode.DeepEquals(YamlJson.ReadSingle(yaml), original).ShouldBeTrue(yaml);
    }
}
