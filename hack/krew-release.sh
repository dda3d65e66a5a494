#!/usr/bin/env bash
# Builds the kubectl-gentoo archives krew installs, from the committed tree (HEAD), and writes the krew manifest
# that names them with their sha256: what a release uploads next to its tag.
#
#   hack/krew-release.sh VERSION [OUT] [PLATFORM...]
#
# VERSION is the release without its v (1.0.0); OUT defaults to dist/; platforms default to linux-amd64
# linux-arm64 darwin-amd64 darwin-arm64. Archives are reproducible: same tree, same bytes, same sha256.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ $# -lt 1 ] || ! [[ $1 =~ ^[0-9]+\.[0-9]+\.[0-9]+([-+][0-9A-Za-z.-]+)?$ ]]; then
  echo "usage: hack/krew-release.sh VERSION [OUT] [PLATFORM...]   (VERSION like 1.0.0, without the v)" >&2
  exit 2
fi
version=$1
out=${2:-dist}
shift $(( $# >= 2 ? 2 : 1 ))
platforms=("$@")
[ ${#platforms[@]} -gt 0 ] || platforms=(linux-amd64 linux-arm64 darwin-amd64 darwin-arm64)
release_url=https://github.com/gentoo-builder/gentoo-builder/releases/download/v$version

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
git archive HEAD | tar -x -C "$work"
mkdir -p "$out"
out=$(cd "$out" && pwd)

entries=""
for platform in "${platforms[@]}"; do
  case $platform in
    linux-amd64) rid=linux-x64 ;;
    linux-arm64) rid=linux-arm64 ;;
    darwin-amd64) rid=osx-x64 ;;
    darwin-arm64) rid=osx-arm64 ;;
    *) echo "unknown platform '$platform': expected linux-amd64, linux-arm64, darwin-amd64 or darwin-arm64" >&2; exit 2 ;;
  esac
  dotnet publish "$work/src/Plugin" -c Release -r "$rid" --self-contained -p:PublishSingleFile=true \
    -p:GenerateDocumentationFile=false -p:DebugType=none -p:Version="$version" -o "$work/publish/$platform" \
    --disable-build-servers -nologo -v quiet >&2
  archive=kubectl-gentoo-$platform.tar.gz
  tar -C "$work/publish/$platform" --sort=name --mtime=@0 --owner=0 --group=0 --numeric-owner -cf - kubectl-gentoo \
    | gzip -n -9 > "$out/$archive"
  sha=$(sha256sum "$out/$archive" | cut -d' ' -f1)
  entries+="    - selector:
        matchLabels:
          os: ${platform%-*}
          arch: ${platform#*-}
      uri: $release_url/$archive
      sha256: $sha
      bin: kubectl-gentoo
"
done

# The manifest: the committed one's description, this release's version and archives.
sed -n '/^apiVersion:/,/^  platforms:/p' plugins/krew/gentoo.yaml | sed "s/vVERSION/v$version/g" > "$out/gentoo.yaml"
printf '%s' "$entries" >> "$out/gentoo.yaml"
echo "$out/gentoo.yaml"
