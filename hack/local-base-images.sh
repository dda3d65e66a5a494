#!/usr/bin/env bash
# Builds the two base images the Dockerfile needs without a registry, from Debian packages:
#   gentoo-builder/runtime-deps:local  a minimal Debian (debootstrap) with CA certificates, OpenSSL, git, ssh and time zones
#   gentoo-builder/sdk:local           the same plus this machine's .NET SDK and gcc (the operator is compiled to native code)
# Installs Docker and debootstrap and starts dockerd when they are missing (needs root).
set -euo pipefail

mirror=$(sed -n 's/^URIs: *//p' /etc/apt/sources.list.d/debian.sources 2>/dev/null | head -n 1)
mirror=${mirror:-http://deb.debian.org/debian}
dotnet_root=$(dirname "$(readlink -f "$(command -v dotnet)")")

if ! command -v docker >/dev/null || ! command -v debootstrap >/dev/null || ! command -v dockerd >/dev/null; then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq docker.io debootstrap >/dev/null
fi

if ! docker info >/dev/null 2>&1; then
  (dockerd >/var/log/dockerd.log 2>&1 &)
  for _ in $(seq 1 60); do docker info >/dev/null 2>&1 && break; sleep 1; done
  docker info >/dev/null
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/debs"

# A minimal Debian in $1 with git, ssh, time zones and the packages listed in $2 (",a,b"), trusting what this machine
# trusts: package registries may be reached through a proxy with its own CA.
debian() {
  debootstrap --variant=minbase --cache-dir="$work/debs" --include="ca-certificates,libssl3,git,openssh-client,tzdata$2" bookworm "$1" "$mirror" >"$1.log" 2>&1 \
    || { tail -n 20 "$1.log" >&2; exit 1; }
  cp /etc/ssl/certs/ca-certificates.crt "$1/etc/ssl/certs/ca-certificates.crt"
  if [ -d /usr/local/share/ca-certificates ]; then
    cp -a /usr/local/share/ca-certificates/. "$1/usr/local/share/ca-certificates/"
  fi
}
if ! docker image inspect gentoo-builder/runtime-deps:local >/dev/null 2>&1 \
   || ! docker image inspect gentoo-builder/sdk:local >/dev/null 2>&1 \
   || ! docker run --rm gentoo-builder/runtime-deps:local sh -c 'git --version && command -v ssh && test -e /usr/share/zoneinfo/Europe/Berlin' >/dev/null 2>&1 \
   || ! docker run --rm gentoo-builder/sdk:local sh -c 'command -v gcc' >/dev/null 2>&1; then
  debian "$work/rootfs" ""
  tar -C "$work/rootfs" -c . | docker import --change 'CMD ["/bin/bash"]' - gentoo-builder/runtime-deps:local >/dev/null
  # The SDK image also links native code (the operator): gcc and the C library's headers.
  debian "$work/sdk" ",gcc,libc6-dev,zlib1g-dev"
  mkdir -p "$work/sdk/usr/share/dotnet"
  cp -a "$dotnet_root/." "$work/sdk/usr/share/dotnet/"
  ln -sf /usr/share/dotnet/dotnet "$work/sdk/usr/bin/dotnet"
  tar -C "$work/sdk" -c . | docker import \
    --change 'ENV DOTNET_SYSTEM_GLOBALIZATION_INVARIANT=1' \
    --change 'ENV DOTNET_CLI_TELEMETRY_OPTOUT=1' \
    --change 'ENV DOTNET_NOLOGO=1' \
    --change 'CMD ["/bin/bash"]' - gentoo-builder/sdk:local >/dev/null
fi
docker image ls --format '{{.Repository}}:{{.Tag}} {{.Size}}' | grep '^gentoo-builder/'
