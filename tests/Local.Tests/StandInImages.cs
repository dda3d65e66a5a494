using Gentoo.Kubernetes.TestServer;
using Gentoo.Portage.Tests;

namespace Gentoo.Local.Tests;

/// <summary>
/// The operator image with its two programs replaced by scripts (the real agent needs a Gentoo stage3, which this machine
/// does not have): an agent that reports as the agent does, and a binhost that serves the package directory over HTTP.
/// Built from the Debian image hack/local-base-images.sh makes.
/// </summary>
internal static class StandInImages
{
    public const string Operator = "gentoo-builder/stand-in-agent:local";

    /// <summary>
    /// Every step succeeds and adds its atoms to the Packages file; a build of app-misc/nightly needs a person once (a
    /// keyword change, as emerge reports it); a build of app-misc/slow takes 25 seconds.
    /// </summary>
    private const string Agent = """
        #!/bin/sh
        # Stands in for the agent, reporting as it does.
        report() { echo "$1" > /dev/termination-log; }
        case "$*" in
          *app-misc/nightly*)
            if [ ! -e /mnt/gentoo/.nightly-accepted ]; then
              touch /mnt/gentoo/.nightly-accepted
              report '{"step":"build","result":"needs-operator","outcome":"keyword-change-required","emergeExitCode":1,"atoms":["app-misc/nightly-0.9"],"fixes":[{"file":"package.accept_keywords","line":"app-misc/nightly ~amd64","temporary":false}]}'
              exit 10
            fi;;
          *app-misc/slow*) sleep 25;;
        esac
        if [ -d /mnt/binpkgs ]; then
          for atom in "$@"; do case "$atom" in */*) echo "CPV: ${atom#=}-1.0" >> /mnt/binpkgs/Packages;; esac; done
          chmod 644 /mnt/binpkgs/Packages 2>/dev/null
        fi
        report '{"step":"build","result":"success","outcome":"success","emergeExitCode":0,"packagesMerged":1}'
        """;

    /// <summary>`gentoo-operator binhost --pkgdir DIR --port N ...`: the files of DIR over HTTP.</summary>
    private const string Binhost = """
        #!/bin/sh
        # Stands in for gentoo-operator binhost: serves the files of --pkgdir on --port.
        [ "$1" = binhost ] || exit 64
        pkgdir=/var/cache/binpkgs; port=8080
        while [ $# -gt 0 ]; do case "$1" in --pkgdir) pkgdir=$2; shift;; --port) port=$2; shift;; esac; shift; done
        exec perl -MIO::Socket::INET -e '
          my ($dir, $port) = @ARGV;
          my $s = IO::Socket::INET->new(LocalPort => $port, Listen => 5, ReuseAddr => 1) or die $!;
          while (my $c = $s->accept) {
            my ($path) = (<$c> =~ m{^GET (/[^ ?]*)});
            $path = "" if !defined $path || $path =~ m{\.\.};
            if ($path ne "" && open(my $f, "<", "$dir$path")) { local $/; my $body = <$f>; print $c "HTTP/1.0 200 OK\r\n\r\n$body" }
            else { print $c "HTTP/1.0 404 Not Found\r\n\r\n" }
            close $c;
          }' "$pkgdir" "$port"
        """;

    /// <summary>This tree's operator and agent, published here as the Dockerfile publishes them, on the Debian image.</summary>
    public const string RealOperator = "gentoo-builder/this-tree:local";

    /// <summary>A stage3 stand-in: the Debian image with an emerge that replays what real Portage printed.</summary>
    public const string Stage3 = "gentoo-builder/stand-in-stage3:local";

    /// <summary>
    /// emerge inside the chroot, replaying real Portage output and leaving what emerge leaves (the binary package and
    /// Portage's Packages index in PKGDIR, a /var/db/pkg entry): app-misc/nightly needs a keyword change until package.accept_keywords allows it (as
    /// the agent writes an accepted fix), app-misc/slow takes 25 seconds; --pretend and the rest succeed.
    /// </summary>
    private const string ReplayingEmerge = """
        #!/bin/sh
        # Stands in for emerge: replays what real Portage printed, then exits as it did.
        echo "$*" >> /var/tmp/emerge.args
        replay=/var/tmp/replay
        built() {
          cat $replay/01-success-build.log
          mkdir -p /var/cache/binpkgs/dev-libs/libkver /var/db/pkg/dev-libs/libkver-0.3 /usr/lib64
          cp $replay/libkver-0.3-1.gpkg.tar /var/cache/binpkgs/dev-libs/libkver/
          cp $replay/Packages /var/cache/binpkgs/Packages
          echo 1795570785 > /var/db/pkg/dev-libs/libkver-0.3/BUILD_TIME
          cp $replay/libkver-abi-3.17.0.so /usr/lib64/libkver.so.0
          echo "obj /usr/lib64/libkver.so.0 0 0" > /var/db/pkg/dev-libs/libkver-0.3/CONTENTS
          exit 0
        }
        case "$*" in
          *--pretend*) cat $replay/03-success-usepkg-reuse.log; exit 0;;
          *app-misc/nightly*)
            if grep -rqs 'app-misc/nightly' /etc/portage/package.accept_keywords; then built; fi
            cat $replay/09-keyword-change-autounmask.log; exit 1;;
          *app-misc/slow*) sleep 25; built;;
          *) built;;
        esac
        """;

    /// <summary>Publishes this tree's operator and agent and builds <see cref="RealOperator"/> and <see cref="Stage3"/>.</summary>
    public static void BuildThisTreeAndStage3()
    {
        var context = Directory.CreateTempSubdirectory("this-tree-").FullName;
        try
        {
            // Compiled ahead of time or not, they behave the same; the operator, as the Dockerfile's, without local mode.
            Executable.PublishSingleFile("src/Agent/Agent.csproj", Path.Combine(context, "agent"), "-p:PublishReadyToRun=false");
            Executable.PublishSingleFile("src/Operator/Operator.csproj", Path.Combine(context, "operator"), "-p:PublishReadyToRun=false", Executable.WithoutLocalMode);

            File.WriteAllText(Path.Combine(context, "Dockerfile"), $"""
                FROM {DockerFactAttribute.Image}
                COPY operator/gentoo-operator /usr/local/bin/gentoo-operator
                COPY agent/gentoo-agent {Protocol.AgentPod.AgentInImage}
                USER 65532:65532
                ENTRYPOINT ["/usr/local/bin/gentoo-operator"]

                """);
            Run("docker", "build", "-q", "-t", RealOperator, context);

            var stage3 = Directory.CreateDirectory(Path.Combine(context, "stage3")).FullName;
            foreach (var file in new[] { "logs/01-success-build.log", "logs/03-success-usepkg-reuse.log", "logs/09-keyword-change-autounmask.log", "pkgdir/dev-libs/libkver/libkver-0.3-1.gpkg.tar", "pkgdir/Packages", "elf/libkver-abi-3.17.0.so" })
            {
                File.Copy(Fixtures.PathOf(["portage", .. file.Split('/')]), Path.Combine(stage3, Path.GetFileName(file)));
            }

            File.WriteAllText(Path.Combine(stage3, "emerge"), ReplayingEmerge.ReplaceLineEndings("\n") + "\n");
            File.SetUnixFileMode(Path.Combine(stage3, "emerge"), Runnable);
            File.WriteAllText(Path.Combine(stage3, "Dockerfile"), $"""
                FROM {DockerFactAttribute.Image}
                COPY *.log *.gpkg.tar *.so Packages /var/tmp/replay/
                COPY emerge /usr/bin/emerge
                RUN echo 'Gentoo Base System release 2.17 (stand-in)' > /etc/gentoo-release

                """);
            Run("docker", "build", "-q", "-t", Stage3, stage3);
        }
        finally
        {
            Directory.Delete(context, recursive: true);
        }
    }

    private const UnixFileMode Runnable = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute | UnixFileMode.GroupRead
        | UnixFileMode.GroupExecute | UnixFileMode.OtherRead | UnixFileMode.OtherExecute;

    private static void Run(string file, params string[] args)
    {
        var (exitCode, output, error) = Executable.Run(file, Environment.CurrentDirectory, args);
        exitCode.ShouldBe(0, $"{file} {string.Join(' ', args)}: {output}{error}");
    }

    public static void BuildOperator()
    {
        var context = Directory.CreateTempSubdirectory("stand-in-agent-").FullName;
        try
        {
            foreach (var (file, script) in new[] { ("gentoo-agent", Agent), ("gentoo-operator", Binhost) })
            {
                File.WriteAllText(Path.Combine(context, file), script.ReplaceLineEndings("\n") + "\n");
                File.SetUnixFileMode(Path.Combine(context, file), Runnable);
            }

            File.WriteAllText(Path.Combine(context, "Dockerfile"),
                $"FROM {DockerFactAttribute.Image}\nCOPY gentoo-agent {Protocol.AgentPod.AgentInImage}\nCOPY gentoo-operator /usr/local/bin/gentoo-operator\nENTRYPOINT [\"/usr/local/bin/gentoo-operator\"]\nCMD []\n");
            Run("docker", "build", "-q", "-t", Operator, context);
        }
        finally
        {
            Directory.Delete(context, recursive: true);
        }
    }
}
