#!/usr/bin/env bash
# Binhost throughput and latency against nginx serving the same PKGDIR, both on loopback, measured with wrk; the binhost
# is the image's (the operator published as the Dockerfile does).
# Prints one table: requests/s of each server per request and their ratio (each side warmed by an untimed run first),
# transfer/s and p99 latency; then how long the binhost's
# first /Packages takes after one new package arrives in a large PKGDIR (nginx has no index to compare with).
#   bash bench/binhost/run.sh [seconds per run, default 10] [connections, default 32] [large PKGDIR packages, default 200]
# Installs nginx and wrk from Debian's packages when missing (needs root then).
set -euo pipefail
cd "$(dirname "$0")/../.."
case "${1:-}" in
  -h|--help) sed -n '2,7p' "$0" | sed 's/^# \{0,1\}//'; exit 0;;
esac
seconds=${1:-10}
connections=${2:-32}
large_count=${3:-200}

if ! command -v nginx >/dev/null || ! command -v wrk >/dev/null; then
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nginx-light wrk >/dev/null
fi

work=$(mktemp -d)
cleanup() { [ -n "${binhost_pid:-}" ] && kill "$binhost_pid" 2>/dev/null; [ -n "${large_pid:-}" ] && kill "$large_pid" 2>/dev/null; nginx -p "$work" -c nginx.conf -s stop 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT

# The real Portage PKGDIR fixture, plus one large package-sized file (binary packages of big programs are tens of MB).
cp -a tests/Fixtures/portage/pkgdir "$work/pkgdir"
rm -f "$work/pkgdir/Packages" "$work/pkgdir/Packages.gz"
head -c $((32 * 1024 * 1024)) /dev/urandom > "$work/pkgdir/app-misc/greeter/large-1.0-1.gpkg.tar"
chmod -R a+rX "$work"   # nginx's workers run unprivileged

# The binhost as the image runs it: the operator executable, published as the Dockerfile does (native code, no local mode).
rid=$(dotnet --info | awk '$1 == "RID:" { print $2; exit }')
dotnet publish src/Operator/Operator.csproj -c Release -r "$rid" --self-contained -p:PublishSingleFile=true -p:LocalMode=false \
  -o "$work/operator" -v quiet -nologo >/dev/null
operator="$work/operator/gentoo-operator"
"$operator" binhost --pkgdir "$work/pkgdir" --port 18081 --bind-address 127.0.0.1 >"$work/binhost.log" 2>&1 &
binhost_pid=$!

mkdir -p "$work/logs"
cat > "$work/nginx.conf" <<CONF
worker_processes auto;
pid $work/nginx.pid;
error_log $work/logs/error.log;
events { worker_connections 1024; }
http {
  # Our binhost logs a line per request: nginx logs too, buffered as a busy server would.
  access_log $work/logs/access.log combined buffer=64k flush=1s;
  sendfile on;
  server { listen 127.0.0.1:18082; root $work/pkgdir; }
}
CONF
nginx -p "$work" -c nginx.conf

for port in 18081 18082; do
  for _ in $(seq 1 100); do curl -sf "http://127.0.0.1:$port/app-misc/greeter/greeter-1.0-1.gpkg.tar" >/dev/null && break; sleep 0.1; done
done
# A server left over on the port would answer in our binhost's place: it must be ours that listens.
if ! kill -0 "$binhost_pid" 2>/dev/null; then
  echo "the binhost exited:" >&2; cat "$work/binhost.log" >&2; exit 1
fi
# nginx has no generated index; give it the one our binhost serves, so both answer /Packages.
curl -sf http://127.0.0.1:18081/Packages > "$work/pkgdir/Packages"

wrk_run() { # port path: prints "requests/s transfer/s p99" of one timed run after an untimed one
  local out
  wrk -t2 -c"$connections" -d1s "http://127.0.0.1:$1$2" >/dev/null # untimed: both servers warm (the page cache, pools)
  out=$(wrk -t2 -c"$connections" -d"${seconds}s" --latency "http://127.0.0.1:$1$2")
  if grep -q 'Non-2xx' <<<"$out"; then
    echo "port $1 answered $2 with errors:" >&2; grep 'Non-2xx' <<<"$out" >&2; exit 1
  fi
  echo "$(awk '/Requests\/sec/ { print $2 }' <<<"$out") $(awk '/Transfer\/sec/ { print $2 }' <<<"$out") $(awk '$1 == "99%" { print $2 }' <<<"$out")"
}

printf '%-42s %12s %12s %7s %10s %10s %9s %9s %s\n' request binhost/s nginx/s ratio "binhost" "nginx" "p99" "p99" goal
for row in "/Packages|>= 1.0x" "/app-misc/greeter/greeter-1.0-1.gpkg.tar|>= 1.0x" "/app-misc/greeter/large-1.0-1.gpkg.tar|>= 0.9x"; do
  path=${row%%|*} goal=${row##*|}
  read -r ours our_transfer our_p99 <<<"$(wrk_run 18081 "$path")"
  read -r theirs their_transfer their_p99 <<<"$(wrk_run 18082 "$path")"
  printf '%-42s %12s %12s %6.2fx %10s %10s %9s %9s %s\n' "$path" "$ours" "$theirs" "$(awk -v a="$ours" -v b="$theirs" 'BEGIN { print a / b }')" \
    "$our_transfer/s" "$their_transfer/s" "$our_p99" "$their_p99" "$goal"
done
echo "($seconds s per run, $connections connections, 2 threads, loopback, $(nproc) CPUs)"

# A PKGDIR the size of a desktop's (LARGE_COUNT packages of 8 MB): a new package must cost its own reading, not all of them.
gpkg() { # PATH CATEGORY PF MEGABYTES: a GPKG as Portage lays it out (gpkg-1, metadata.tar.gz, image.tar, Manifest)
  local dir name
  dir=$(mktemp -d -p "$work") name=$(basename "$1" .gpkg.tar)
  mkdir -p "$dir/$name" "$dir/meta/metadata" "$dir/img/image/usr/share/$3"
  echo "$2" > "$dir/meta/metadata/CATEGORY"; echo "$3" > "$dir/meta/metadata/PF"; echo 1 > "$dir/meta/metadata/BUILD_ID"
  tar -C "$dir/meta" -czf "$dir/$name/metadata.tar.gz" metadata
  head -c "$(($4 * 1024 * 1024))" /dev/zero > "$dir/img/image/usr/share/$3/data"
  tar -C "$dir/img" -cf "$dir/$name/image.tar" image
  : > "$dir/$name/gpkg-1"; : > "$dir/$name/Manifest"
  tar -C "$dir" -cf "$1" "$name/gpkg-1" "$name/metadata.tar.gz" "$name/image.tar" "$name/Manifest"
  rm -rf "$dir"
}
mkdir -p "$work/large/app-misc/bulk"
for i in $(seq 1 "$large_count"); do gpkg "$work/large/app-misc/bulk/bulk-$i-1.gpkg.tar" app-misc "bulk-$i" 8; done
"$operator" binhost --pkgdir "$work/large" --port 18083 --bind-address 127.0.0.1 >"$work/large.log" 2>&1 &
large_pid=$!
for _ in $(seq 1 100); do curl -sf -o /dev/null "http://127.0.0.1:18083/binrepos.conf" && break; sleep 0.1; done
seconds_for() { curl -sf -o /dev/null -w '%{time_total}' "http://127.0.0.1:18083/Packages"; }
cold=$(seconds_for)
unchanged=$(seconds_for)
gpkg "$work/large/app-misc/bulk/bulk-new-1.gpkg.tar" app-misc bulk-new 8
one_new=$(seconds_for)
echo
printf '%-60s %10s\n' "binhost /Packages, PKGDIR of $large_count packages ($((large_count * 8)) MB)" seconds
printf '%-60s %10s\n' "  first request (every package read)" "$cold" "  nothing changed" "$unchanged" "  after one new package" "$one_new"
