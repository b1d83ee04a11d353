#!/usr/bin/env bash
# Installs the Debian packages Vitrina needs to build, test and run.
# Idempotent: packages already present are left alone. Exits non-zero with a
# clear message when something is missing and cannot be installed.
set -euo pipefail

PACKAGES=(
  g++ cmake make pkg-config
  libboost-dev            # Boost.Beast / Asio (header-only)
  libssl-dev              # HTTPS (server.tls_cert)
  libsimdjson-dev         # JSON parsing on ingest paths
  librocksdb-dev          # embedded store
  libspdlog-dev libfmt-dev
  libcli11-dev            # command line
  libtomlplusplus-dev     # config file
  libzstd-dev             # .zst input
  libeigen3-dev           # ALS, EASE (with OpenMP from g++)
  libopenblas-dev         # LAPACK for EASE's inversion
  libhnswlib-dev          # approximate nearest neighbours for large catalogs (header-only)
  libxgboost-dev          # the learned ranker (LambdaMART)
  libstemmer-dev libicu-dev  # search text: Snowball stemming, Unicode normalization
  libgtest-dev libgmock-dev
  curl                    # for the curl tour `make demo` prints, and the HTTPS tests
  openssl                 # the HTTPS tests make a self-signed certificate
)
if [[ "${VITRINA_BENCH_DEPS:-0}" == 1 ]]; then
  PACKAGES+=(wrk hyperfine zstd)
fi
# The browser tests drive Debian's Chromium (playwright-core cannot download
# a browser here).
if [[ "${VITRINA_TEST_DEPS:-0}" == 1 || "${VITRINA_BENCH_DEPS:-0}" == 1 ]]; then
  PACKAGES+=(chromium)
fi
# web/ builds with Node.js and npm: the machine's own when it has them.
if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
  PACKAGES+=(nodejs npm)
fi

missing=()
for pkg in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$pkg")
  fi
done

# The npm packages of web/ (esbuild, TypeScript, playwright-core and the other
# devDependencies), exactly as package-lock.json pins them; skipped when
# node_modules already matches.
install_npm() {
  local web major
  # web/ needs Node.js 18 or later: Debian 12's own nodejs package (18.20)
  # will do. playwright-core is pinned to 1.61, the last release that runs
  # on Node 18 (1.62 and later refuse to load on it), and Node's test runner
  # is used only as far as Node 18 has it.
  major=$(node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0)
  if (( major < 18 )); then
    echo "vitrina: Node.js 18 or later is needed for web/ (found $(node --version 2>/dev/null || echo none))" >&2
    exit 1
  fi
  web="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)/web"
  if cmp -s "$web/package-lock.json" "$web/node_modules/.vitrina-installed-lock" 2>/dev/null; then
    return 0
  fi
  echo "vitrina: installing the npm packages of web/ (npm ci)" >&2
  if ! (cd "$web" && npm ci --no-audit --no-fund --loglevel=error); then
    echo "vitrina: npm ci failed in web/ (is the npm registry reachable?)" >&2
    exit 1
  fi
  cp "$web/package-lock.json" "$web/node_modules/.vitrina-installed-lock"
}

if [[ ${#missing[@]} -eq 0 ]]; then
  install_npm
  exit 0
fi

echo "vitrina: installing missing Debian packages: ${missing[*]}" >&2
if [[ $(id -u) -eq 0 ]]; then
  SUDO=()
elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
  SUDO=(sudo -n)
else
  echo "vitrina: cannot install packages (not root and no passwordless sudo)." >&2
  echo "vitrina: run as root:  apt-get install -y ${missing[*]}" >&2
  exit 1
fi

export DEBIAN_FRONTEND=noninteractive
apt_install() {
  "${SUDO[@]}" apt-get install -y --no-install-recommends "${missing[@]}"
}
if ! apt_install; then
  echo "vitrina: apt-get install failed; refreshing package lists and retrying" >&2
  "${SUDO[@]}" apt-get update
  if ! apt_install; then
    echo "vitrina: could not install: ${missing[*]}" >&2
    exit 1
  fi
fi

# Verify: a package that apt reported but did not install must fail here.
for pkg in "${missing[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed"; then
    echo "vitrina: package $pkg is still missing after installation" >&2
    exit 1
  fi
done

install_npm
