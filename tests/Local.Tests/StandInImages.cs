using System.Diagnostics;

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

    public static void BuildOperator()
    {
        var context = Directory.CreateTempSubdirectory("stand-in-agent-").FullName;
        try
        {
            var executable = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute | UnixFileMode.GroupRead | UnixFileMode.GroupExecute
                | UnixFileMode.OtherRead | UnixFileMode.OtherExecute;
            foreach (var (file, script) in new[] { ("gentoo-agent", Agent), ("gentoo-operator", Binhost) })
            {
                File.WriteAllText(Path.Combine(context, file), script.ReplaceLineEndings("\n") + "\n");
                File.SetUnixFileMode(Path.Combine(context, file), executable);
            }

            File.WriteAllText(Path.Combine(context, "Dockerfile"),
                $"FROM {DockerFactAttribute.Image}\nCOPY gentoo-agent {Protocol.AgentPod.AgentInImage}\nCOPY gentoo-operator /usr/local/bin/gentoo-operator\nENTRYPOINT [\"/usr/local/bin/gentoo-operator\"]\nCMD []\n");
            using var build = Process.Start(new ProcessStartInfo("docker", ["build", "-q", "-t", Operator, context]) { RedirectStandardOutput = true, RedirectStandardError = true })!;
            var error = build.StandardError.ReadToEndAsync();
            build.WaitForExit();
            build.ExitCode.ShouldBe(0, error.Result);
        }
        finally
        {
            Directory.Delete(context, recursive: true);
        }
    }
}
