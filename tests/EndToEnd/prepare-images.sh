#!/usr/bin/env bash
# Builds the two images the end-to-end suite needs and, for a real cluster, says how to get them onto its nodes.
#   STAGE3=docker.io/gentoo/stage3:latest bash tests/EndToEnd/prepare-images.sh
# Then, for example on k3s nodes: docker save gentoo-builder-e2e-stage3 gentoo-builder:e2e | sudo k3s ctr images import -
set -euo pipefail
cd "$(dirname "$0")/../.."
stage3=${STAGE3:-docker.io/gentoo/stage3:latest}
docker build -t gentoo-builder:e2e .
docker build -t gentoo-builder-e2e-stage3 --build-arg "STAGE3=$stage3" -f tests/EndToEnd/Stage3Demo.Dockerfile tests/Fixtures/portage
echo "export GENTOO_E2E_OPERATOR_IMAGE=gentoo-builder:e2e GENTOO_E2E_STAGE3_IMAGE=gentoo-builder-e2e-stage3"
