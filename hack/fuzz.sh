#!/usr/bin/env bash
# Fuzzes every parser that reads outside input: emerge's output, ELF files, Packages indexes, GPKG packages, atoms
# and versions, OpenPGP keys, make.conf and package.* lines. One million inputs by default; each must get a result or
# a documented parse error within 2 s and 256 MiB. Prints one line per target and a summary; exits 1 on a failure,
# with the CsCheck seed that reproduces it (--seed SEED).
#   bash hack/fuzz.sh [--inputs N] [--seed SEED] [--only TARGET] [--threads N]
set -euo pipefail
cd "$(dirname "$0")/.."
exec dotnet run -c Release --project tests/Fuzz -- "$@"
