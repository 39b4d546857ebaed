#!/usr/bin/env bash
# kharness setup: idempotent, cached. Every README command calls it first.
# A second run only checks stamps and returns in about a second.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cache=${KHARNESS_CACHE:-$HOME/.cache/kharness}
mkdir -p "$cache"
log() { printf '[setup] %s\n' "$*" >&2; }
# One setup at a time per cache: two at once would unpack a managed tree into the same
# temporary folder and leave a tree with half the kernel in it. flock(1) is util-linux's.
exec 9>"$cache/setup.lock"
flock 9

# Which managed trees to unpack (at the end): the default always, others when named as
# arguments (`setup.sh debian-6.1`) or for the long tests. Checked first, so a wrong name costs nothing.
tree_date() { case $1 in 6.12) echo 2024-11-17T00:00:00Z ;; 6.1) echo 2022-12-11T00:00:00Z ;; *) return 1 ;; esac; }
trees=(6.12)
[ "${KHARNESS_LONG:-0}" = 1 ] && trees+=(6.1)
for arg in "$@"; do
  name=${arg#debian-}
  tree_date "$name" >/dev/null || { log "unknown managed tree $arg (debian-6.12, debian-6.1)"; exit 2; }
  trees+=("$name")
done

# --- Debian packages -------------------------------------------------------
apt_packages=(
  qemu-system-x86 gcc make bc bison flex libelf-dev libssl-dev cpio zstd xz-utils ccache
  linux-source-6.12 linux-source-6.1 python3-venv busybox-static kmod dwarves perl git bubblewrap
  redis-server # the fleet's tests and bench start their own instance (tests/unit/fleet/); no system service is used
  chromium # the unit test that screenshots index.html's counter plots (tests/unit/report/html-browser.test.ts)
)
missing=()
for p in "${apt_packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if ((${#missing[@]})); then
  log "installing Debian packages: ${missing[*]}"
  sudo=""; [ "$(id -u)" -eq 0 ] || sudo="sudo"
  export DEBIAN_FRONTEND=noninteractive
  $sudo apt-get update -q >/dev/null || log "apt-get update failed; trying the install with the cached lists"
  $sudo apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null
fi

# --- Python tools (virtme-ng, b4 for benchmarks, kcidb-io to validate kcidb.json) in .venv ---
venv="$here/.venv"
req="$here/requirements.txt"
req_stamp="$venv/.requirements.sha"
want=$(sha256sum "$req" | cut -d' ' -f1)
if [ ! -x "$venv/bin/vng" ] || ! "$venv/bin/python" -c "import kcidb_io" 2>/dev/null || [ "$(cat "$req_stamp" 2>/dev/null)" != "$want" ]; then
  log "installing Python tools into $venv"
  /usr/bin/python3 -m venv "$venv"
  "$venv/bin/pip" install -q --disable-pip-version-check -r "$req"
  echo "$want" > "$req_stamp"
fi

# --- npm packages ----------------------------------------------------------
lock_stamp="$here/node_modules/.kharness-lock.sha"
want=$(sha256sum "$here/package-lock.json" | cut -d' ' -f1)
if [ ! -d "$here/node_modules" ] || [ "$(cat "$lock_stamp" 2>/dev/null)" != "$want" ]; then
  log "installing npm packages"
  (cd "$here" && npm ci --no-audit --no-fund --loglevel=error)
  echo "$want" > "$lock_stamp"
fi

# --- TypeScript build ------------------------------------------------------
# dist/ is rebuilt when any source is newer than the last build.
if [ ! -f "$here/dist/.built" ] || [ -n "$(find "$here/src" "$here/tsconfig.json" -newer "$here/dist/.built" -print -quit)" ]; then
  log "compiling TypeScript"
  (cd "$here" && npx tsc -p tsconfig.json)
  touch "$here/dist/.built"
fi

# --- the managed kernel trees: Debian's kernel sources as git repositories ----
# Fixed identity and dates so the same Debian source gives the same commit id everywhere, which
# lets bundled series name it as their base-commit.
managed_tree() { # NAME DATE: unpack /usr/src/linux-source-NAME.tar.xz into trees/debian-NAME once
  local name=$1 date=$2 tree="$cache/trees/debian-$1" src_tar="/usr/src/linux-source-$1.tar.xz"
  [ -f "$tree/.git/kharness-ready" ] && return 0
  log "unpacking $src_tar into a git repository at $tree (once)"
  rm -rf "$tree.tmp"
  mkdir -p "$tree.tmp"
  tar -xJf "$src_tar" -C "$tree.tmp" --strip-components=1
  (
    cd "$tree.tmp"
    git init -q -b master
    export GIT_AUTHOR_NAME="Debian linux-source" GIT_AUTHOR_EMAIL="debian-kernel@lists.debian.org"
    export GIT_COMMITTER_NAME="$GIT_AUTHOR_NAME" GIT_COMMITTER_EMAIL="$GIT_AUTHOR_EMAIL"
    export GIT_AUTHOR_DATE="$date" GIT_COMMITTER_DATE="$date"
    # The Debian tarball's .gitignore ends with '/*': force-add everything it ships.
    git add -f -A .
    git -c core.autocrlf=false commit -q -m "linux-source-$name $(dpkg-query -W -f='${Version}' "linux-source-$name")"
    git tag "debian-$name"
  )
  rm -rf "$tree"
  mkdir -p "$(dirname "$tree")"
  mv "$tree.tmp" "$tree"
  touch "$tree/.git/kharness-ready"
}
# kharness runs `setup.sh debian-6.1` itself the first time --tree names a tree not yet unpacked.
for name in $(printf '%s\n' "${trees[@]}" | sort -u); do managed_tree "$name" "$(tree_date "$name")"; done
echo "$cache/trees/debian-6.12" > "$cache/default-tree"
