using System.Text.Json.Nodes;
using Gentoo.ApiServer.Patch;
using Gentoo.ApiServer.Yaml;

namespace Gentoo.Operator.Tests.Crds;

/// <summary>
/// Bad input against the generated schemas: each case merges a patch into a sample (on create, or as an update of
/// the stored sample) and must be refused with an error that names the field and says what would be valid.
/// </summary>
public sealed class InvalidInputTests
{
    public sealed record Case(string Name, string Sample, bool Update, string Patch, string Field, string Says)
    {
        public override string ToString() => Name;
    }

    private const string Run = "gentoobuilder_v1alpha1_buildrun.yaml";
    private const string Builder = "gentoobuilder_v1alpha1_gentoobuilder.yaml";
    private const string Bootstrap = "gentoobuilder_v1alpha1_gentoobootstrap.yaml";

    public static TheoryData<Case> Cases() =>
    [
        new("wrong enum for onFailure.policy", Run, false,
            """{"spec":{"onFailure":{"policy":"Sometimes","retries":null}}}""", "spec.onFailure.policy", "supported values: \"AwaitOperator\", \"Fail\", \"Retry\""),
        new("both bootstrapRef and restoreFrom", Builder, false,
            """{"spec":{"restoreFrom":{"name":"plasma-snap-1"}}}""", "spec", "exactly one of spec.bootstrapRef or spec.restoreFrom must be set"),
        new("neither bootstrapRef nor restoreFrom", Builder, false,
            """{"spec":{"bootstrapRef":null}}""", "spec", "exactly one of spec.bootstrapRef or spec.restoreFrom must be set"),
        new("changed builderRef", Run, true,
            """{"spec":{"builderRef":{"name":"another-builder"}}}""", "spec.builderRef", "spec.builderRef is immutable"),
        new("changed bootstrapRef", Builder, true,
            """{"spec":{"bootstrapRef":{"name":"another-bootstrap"}}}""", "spec.bootstrapRef", "spec.bootstrapRef is immutable"),
        new("bootstrapRef swapped for restoreFrom", Builder, true,
            """{"spec":{"bootstrapRef":null,"restoreFrom":{"name":"plasma-snap-1"}}}""", "spec", "a builder's root cannot change its source"),
        new("wrong enum for autounmask", Builder, false,
            """{"spec":{"autounmask":"Always"}}""", "spec.autounmask", "supported values: \"Never\", \"Keywords\", \"KeywordsAndUse\""),
        new("wrong enum for keywordScope", Builder, false,
            """{"spec":{"keywordScope":"Major"}}""", "spec.keywordScope", "supported values: \"Version\", \"Slot\", \"Package\""),
        new("changed binpkgs accessMode", Builder, true,
            """{"spec":{"storage":{"binpkgs":{"accessMode":"ReadWriteMany"}}}}""", "spec.storage.binpkgs.accessMode", "a volume's access mode cannot change"),
        new("wrong enum for binpkgs accessMode", Builder, false,
            """{"spec":{"storage":{"binpkgs":{"accessMode":"ReadOnlyMany"}}}}""", "spec.storage.binpkgs.accessMode", "supported values: \"ReadWriteOnce\", \"ReadWriteMany\""),
        new("wrong enum for binpkgs retainPolicy", Builder, false,
            """{"spec":{"storage":{"binpkgs":{"retainPolicy":"Keep"}}}}""", "spec.storage.binpkgs.retainPolicy", "supported values: \"Retain\", \"Delete\""),
        new("timeout that is not a duration", Run, false,
            """{"spec":{"timeout":"12 hours"}}""", "spec.timeout", "should match"),
        new("no packages", Run, false,
            """{"spec":{"packages":[]}}""", "spec.packages", "should have at least 1 items"),
        new("package without category", Run, false,
            """{"spec":{"packages":["firefox"]}}""", "spec.packages[0]", "should match"),
        new("an operator without a version", Run, false,
            """{"spec":{"packages":["=dev-libs/nss"]}}""", "spec.packages[0]", "should match"),
        new("a ~ without a version", Run, false,
            """{"spec":{"packages":["~dev-libs/nss:0"]}}""", "spec.packages[0]", "should match"),
        new("a version without an operator", Run, false,
            """{"spec":{"packages":["@world","dev-libs/nss-3.46"]}}""", "spec.packages", "a package with a version needs an operator"),
        new("a version without an operator in a bootstrap step", Bootstrap, false,
            """{"spec":{"bootstrapSteps":[{"name":"a","atoms":["media-libs/freetype-2.13.2-r1:2"]}]}}""", "spec.bootstrapSteps[0].atoms", "a package with a version needs an operator"),
        new("a cron hour out of range", Builder, false,
            """{"spec":{"autoBuild":{"schedule":"0 24 * * *"}}}""", "spec.autoBuild.schedule", "should match"),
        new("a cron minute out of range", Builder, false,
            """{"spec":{"sync":{"schedule":"60 3 * * *"}}}""", "spec.sync.schedule", "should match"),
        new("a cron month out of range", Builder, false,
            """{"spec":{"autoBuild":{"schedule":"0 3 1 13 *"}}}""", "spec.autoBuild.schedule", "should match"),
        new("a cron day of week out of range", Builder, false,
            """{"spec":{"autoBuild":{"schedule":"0 3 * * 8"}}}""", "spec.autoBuild.schedule", "should match"),
        new("a cron step of zero", Builder, false,
            """{"spec":{"autoBuild":{"schedule":"*/0 3 * * *"}}}""", "spec.autoBuild.schedule", "should match"),
        new("a cron with six fields", Builder, false,
            """{"spec":{"autoBuild":{"schedule":"0 0 3 * * *"}}}""", "spec.autoBuild.schedule", "should match"),
        new("interactive emerge argument", Run, false,
            """{"spec":{"emergeArgs":["--update","--ask"]}}""", "spec.emergeArgs", "must not contain --ask or --pretend"),
        new("shell metacharacters in emerge arguments", Run, false,
            """{"spec":{"emergeArgs":["--update;rm"]}}""", "spec.emergeArgs[0]", "should match"),
        new("retries without policy Retry", Run, false,
            """{"spec":{"onFailure":{"policy":"Fail","retries":2}}}""", "spec.onFailure", "onFailure.retries applies only to policy Retry"),
        new("too many retries", Run, false,
            """{"spec":{"onFailure":{"retries":11}}}""", "spec.onFailure.retries", "less than or equal to 10"),
        new("invalid builderRef name", Run, false,
            """{"spec":{"builderRef":{"name":"Plasma_Desktop"}}}""", "spec.builderRef.name", "should match"),
        new("git repository without uri", Bootstrap, false,
            """{"spec":{"repositories":[{"name":"gentoo","syncType":"git"}]}}""", "spec.repositories[0]", "uri is required unless syncType is webrsync or none"),
        new("a never-synced repository with a uri", Bootstrap, false,
            """{"spec":{"repositories":[{"name":"gentoo","syncType":"git","uri":"https://example/gentoo.git"},{"name":"local","syncType":"none","uri":"https://example/local.git"}]}}""", "spec.repositories[1]", "uri does not apply to syncType none"),
        new("a repository location that is not an absolute path", Bootstrap, false,
            """{"spec":{"repositories":[{"name":"gentoo","syncType":"git","uri":"https://example/gentoo.git"},{"name":"local","syncType":"none","location":"/var/db/../etc"}]}}""", "spec.repositories[1].location", "should match"),
        new("wrong enum for syncType", Bootstrap, false,
            """{"spec":{"repositories":[{"name":"gentoo","syncType":"svn","uri":"svn://example"}]}}""", "spec.repositories[0].syncType", "supported values: \"git\", \"rsync\", \"webrsync\", \"none\""),
        new("duplicate bootstrap step names", Bootstrap, false,
            """{"spec":{"bootstrapSteps":[{"name":"a","atoms":["media-libs/freetype"]},{"name":"a","atoms":["media-libs/harfbuzz"]}]}}""", "spec.bootstrapSteps[1]", "Duplicate value"),
        new("missing stage3 image", Bootstrap, false,
            """{"spec":{"stage3":{"image":null}}}""", "spec.stage3.image", "Required value"),
        new("config source with both configMapRef and git", Bootstrap, false,
            """{"spec":{"configFrom":[{"configMapRef":{"name":"x"},"git":{"url":"https://example.org/portage.git"}}]}}""", "spec.configFrom[0]", "exactly one of configMapRef or git must be set"),
        new("temporary USE flag with a plus sign", Bootstrap, false,
            """{"spec":{"bootstrapSteps":[{"name":"a","atoms":["media-libs/freetype"],"use":["+harfbuzz"]}]}}""", "spec.bootstrapSteps[0].use[0]", "should match"),
        new("kernel that is not a version", Builder, false,
            """{"spec":{"minKernel":"six"}}""", "spec.minKernel", "should match"),
        new("sync with both interval and schedule", Builder, false,
            """{"spec":{"sync":{"interval":"12h","schedule":"0 3 * * *"}}}""", "spec.sync", "set either sync.interval or sync.schedule, not both"),
        new("autoBuild without schedule", Builder, false,
            """{"spec":{"autoBuild":{"schedule":null}}}""", "spec.autoBuild.schedule", "Required value"),
        new("keep no snapshots", Builder, false,
            """{"spec":{"snapshots":{"keep":0}}}""", "spec.snapshots.keep", "greater than or equal to 1"),
        new("boolean written as a string", Run, false,
            """{"spec":{"keepGoing":"yes"}}""", "spec.keepGoing", "must be of type boolean"),
        new("misspelled field", Run, false,
            """{"spec":{"emergeOptions":["--deep"]}}""", "spec.emergeOptions", "unknown field"),
    ];

    [Theory]
    [MemberData(nameof(Cases))]
    public void Invalid_input_is_refused_naming_the_field(Case invalid)
    {
        var sample = YamlJson.ReadSingle(File.ReadAllText(Checkout.PathOf("config", "samples", invalid.Sample))).AsObject();
        JsonObject? stored = null;
        if (invalid.Update)
        {
            var created = CrdSchemas.Admit(sample);
            created.Errors.ShouldBeEmpty();
            stored = created.Object;
        }

        var submitted = JsonMergePatch.Apply(stored ?? sample, JsonNode.Parse(invalid.Patch))!.AsObject();
        var admission = CrdSchemas.Admit(submitted, stored);

        admission.Allowed.ShouldBeFalse();
        var messages = admission.Errors.Select(e => e.ToString()).ToList();
        admission.Errors.ShouldContain(
            e => e.Field == invalid.Field && e.ToString().Contains(invalid.Says, StringComparison.Ordinal),
            $"expected an error on {invalid.Field} saying \"{invalid.Says}\", got: {string.Join(" | ", messages)}");
    }

    [Theory]
    [InlineData("""{"spec":{"packages":["@world","dev-libs/nss","=dev-libs/nss-3.46","=dev-libs/nss-3*",">=sys-libs/glibc-2.39-r1:2.2","~www-client/firefox-128.1.0_rc2","<x11-libs/gtk+-3.24:3","sys-kernel/linux-firmware","dev-qt/qt5compat::gentoo","media-libs/mesa[vulkan,-llvm]","!!dev-libs/foo"]}}""")]
    public void Atoms_in_every_form_emerge_takes_are_accepted(string patch)
    {
        var sample = YamlJson.ReadSingle(File.ReadAllText(Checkout.PathOf("config", "samples", Run))).AsObject();
        CrdSchemas.Admit(JsonMergePatch.Apply(sample, JsonNode.Parse(patch))!.AsObject()).Errors.Select(e => e.ToString()).ShouldBeEmpty();
    }

    [Theory]
    [InlineData("0 2 * * *")]
    [InlineData("*/15 0-23/2 1,15,31 JAN-MAR mon-fri")]
    [InlineData("30 4 ? * 0,7")]
    [InlineData("59 23 31 12 SUN")]
    [InlineData("@weekly")]
    public void Cron_schedules_in_every_form_cronjobs_take_are_accepted(string schedule)
    {
        var sample = YamlJson.ReadSingle(File.ReadAllText(Checkout.PathOf("config", "samples", Builder))).AsObject();
        var patch = new JsonObject { ["spec"] = new JsonObject { ["autoBuild"] = new JsonObject { ["schedule"] = schedule }, ["sync"] = new JsonObject { ["schedule"] = schedule, ["interval"] = null } } };
        CrdSchemas.Admit(JsonMergePatch.Apply(sample, patch)!.AsObject()).Errors.Select(e => e.ToString()).ShouldBeEmpty();
        Cronos.CronExpression.TryParse(schedule.StartsWith('@') ? schedule : schedule, Cronos.CronFormat.Standard, out _).ShouldBeTrue("what admission takes, the schedule reader takes");
    }

    [Fact]
    public void Unchanged_update_of_every_sample_is_accepted()
    {
        foreach (var file in new[] { Run, Builder, Bootstrap })
        {
            var created = CrdSchemas.Admit(YamlJson.ReadSingle(File.ReadAllText(Checkout.PathOf("config", "samples", file))).AsObject());
            var updated = CrdSchemas.Admit(created.Object, created.Object);

            updated.Errors.Select(e => e.ToString()).ShouldBeEmpty();
        }
    }
}
