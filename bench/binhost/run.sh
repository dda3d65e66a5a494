#!/usr/bin/env bash
# Binhost throughput and latency against nginx serving the same PKGDIR, both on loopback, measured with wrk.
# Prints one table: requests/s, transfer/s and p50/p99 latency per server and request.
#   bash bench/binhost/run.sh [seconds per run, default 10] [connections, default 32]
# Installs nginx and wrk from Debian's packages when missing (needs root then).
set -euo pipefail
cd "$(dirname "$0")/../.."
seconds=${1:-10}
connections=${2:-32}

if ! command -v nginx >/dev/null || ! command -v wrk >/dev/null; then
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nginx-light wrk >/dev/null
fi

work=$(mktemp -d)
cleanup() { [ -n "${binhost_pid:-}" ] && kill "$binhost_pid" 2>/dev/null; nginx -p "$work" -c nginx.conf -s stop 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT

# The real Portage PKGDIR fixture, plus one large package-sized file (binary packages of big programs are tens of MB).
cp -a tests/Fixtures/portage/pkgdir "$work/pkgdir"
rm -f "$work/pkgdir/Packages" "$work/pkgdir/Packages.gz"
head -c $((32 * 1024 * 1024)) /dev/urandom > "$work/pkgdir/app-misc/greeter/large-1.0-1.gpkg.tar"
chmod -R a+rX "$work"   # nginx's workers run unprivileged

dotnet build -c Release src/Operator >/dev/null
dotnet src/Operator/bin/Release/net10.0/gentoo-operator.dll binhost --pkgdir "$work/pkgdir" --port 18081 --bind-address 127.0.0.1 >"$work/binhost.log" 2>&1 &
binhost_pid=$!

mkdir -p "$work/logs"
cat > "$work/nginx.conf" <<CONF
worker_processes auto;
pid $work/nginx.pid;
error_log $work/logs/error.log;
events { worker_connections 1024; }
http {
  access_log off;
  sendfile on;
  server { listen 127.0.0.1:18082; root $work/pkgdir; }
}
CONF
nginx -p "$work" -c nginx.conf

for port in 18081 18082; do
  for _ in $(seq 1 100); do curl -sf "http://127.0.0.1:$port/app-misc/greeter/greeter-1.0-1.gpkg.tar" >/dev/null && break; sleep 0.1; done
done
# nginx has no generated index; give it the one our binhost serves, so both answer /Packages.
curl -sf http://127.0.0.1:18081/Packages > "$work/pkgdir/Packages"

measure() { # server port path
  local out rps transfer p50 p99
  out=$(wrk -t2 -c"$connections" -d"${seconds}s" --latency "http://127.0.0.1:$2$3")
  if grep -q 'Non-2xx' <<<"$out"; then
    echo "$1 answered $3 with errors:" >&2; grep 'Non-2xx' <<<"$out" >&2; exit 1
  fi
  rps=$(awk '/Requests\/sec/ { print $2 }' <<<"$out")
  transfer=$(awk '/Transfer\/sec/ { print $2 }' <<<"$out")
  p50=$(awk '$1 == "50%" { print $2 }' <<<"$out")
  p99=$(awk '$1 == "99%" { print $2 }' <<<"$out")
  printf '%-8s %-44s %12s %12s %10s %10s\n' "$1" "$3" "$rps" "$transfer" "$p50" "$p99"
}

printf '%-8s %-44s %12s %12s %10s %10s\n' server request requests/s transfer/s p50 p99
for path in /Packages /app-misc/greeter/greeter-1.0-1.gpkg.tar /app-misc/greeter/large-1.0-1.gpkg.tar; do
  measure binhost 18081 "$path"
  measure nginx 18082 "$path"
done
echo "($seconds s per run, $connections connections, 2 threads, loopback, $(nproc) CPUs)"
