#!/usr/bin/env bash
# The fault suite at full strength: the lifecycle through the real operator process while it is killed (SIGKILL) 50
# times at random moments, 30% of its API requests fail (500/429) or are delayed, its watches are cut or answered
# 410 Gone, build pods are deleted or evicted and their node is lost, desktops ask the binhost for builds, and the
# root is snapshotted. Prints one line of figures; exits non-zero if any is broken.
#   bash hack/faults.sh [kills] [runs] [seed]      (GENTOO_FAULT_LOG=FILE keeps every operator process's log)
# On the in-process API server by default; against a real kube-apiserver with KUBEBUILDER_ASSETS (envtest binaries),
# pods then driven through the API. A cluster with kubelets of its own (GENTOO_TEST_KUBECONFIG) is not used: its
# kubelets would really run the Gentoo pods.
set -euo pipefail
cd "$(dirname "$0")/.."
report=$(mktemp)
trap 'rm -f "$report"' EXIT
export GENTOO_FAULT_KILLS="${1:-50}" GENTOO_FAULT_RUNS="${2:-24}" GENTOO_FAULT_REPORT="$report"
if [ -n "${3:-}" ]; then export GENTOO_FAULT_SEED="$3"; fi
status=0
dotnet test tests/Operator.Tests --filter "Category=Faults" --logger "console;verbosity=normal" >"$report.log" 2>&1 || status=$?
if [ -s "$report" ]; then cat "$report"; else tail -n 40 "$report.log"; fi
rm -f "$report.log"
exit "$status"
