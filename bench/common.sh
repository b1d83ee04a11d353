# Sourced by the bench scripts that start a server: the binary, the API
# keys, a fresh work directory and the header of the run's output.
VITRINA=build/vitrina
export VITRINA_ADMIN_KEY=bench-admin-key-0123456789
export VITRINA_PUBLIC_KEY=bench-public-key-0123456789

# Resident memory of process $1.
rss() { awk '/VmRSS/ {printf "%.0f MB", $2 / 1024}' "/proc/$1/status"; }

# bench_start TITLE: builds the binary, empties $WORK, prints the header.
bench_start() {
  cmake --build build --target vitrina > /dev/null
  rm -rf "$WORK" && mkdir -p "$WORK"
  echo "# Vitrina $1 benchmarks, $(date -u +%Y-%m-%dT%H:%MZ)"
  echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $(free -g | awk '/Mem/{print $2}') GiB"
  echo "commit: $(git rev-parse --short HEAD 2>/dev/null || echo unknown)"
  echo
}
