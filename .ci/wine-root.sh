#!/usr/bin/env bash
# Sourced by the Windows checks: makes (once) and enters a Debian 13 root with Wine 10, which runs
# Go's Windows binaries (Debian 12's Wine 8 cannot: it lacks ProcessPrng in bcryptprimitives.dll).
# The root is cached in $WINE_CACHE between runs; the first run takes a few minutes.
#
# Defines:  wine_run DIR CMD...   run CMD inside the root with the Wine environment, cwd DIR
#           WROOT                 the root's path on the host; the repo is bind-mounted at /src
#           to_win PATH           the Windows path (Z:\...) of a path inside the root
WINE_CACHE=${WINE_CACHE:-/var/cache/ksef-sync-wine}
WROOT=$WINE_CACHE/root

wine_root_make() {
  [ -e "$WROOT/.ksef-ready" ] && return 0
  export DEBIAN_FRONTEND=noninteractive
  if ! command -v debootstrap >/dev/null 2>&1; then
    apt-get update -qq && apt-get install -y -qq debootstrap >/dev/null
  fi
  echo "== making the Wine root in $WROOT (cached for later runs)"
  rm -rf "$WROOT.tmp" && mkdir -p "$WINE_CACHE"
  debootstrap --variant=minbase trixie "$WROOT.tmp" http://deb.debian.org/debian >"$WINE_CACHE/debootstrap.log" 2>&1 ||
    { tail -20 "$WINE_CACHE/debootstrap.log"; return 1; }
  cp /etc/resolv.conf "$WROOT.tmp/etc/resolv.conf"
  chroot "$WROOT.tmp" /bin/sh -c 'export DEBIAN_FRONTEND=noninteractive; apt-get update -qq &&
    apt-get install -y -qq --no-install-recommends wine64 wine && apt-get clean' >"$WINE_CACHE/apt.log" 2>&1 ||
    { tail -20 "$WINE_CACHE/apt.log"; return 1; }
  mv "$WROOT.tmp" "$WROOT"
  touch "$WROOT/.ksef-ready"
}

# wine_enter SRC: mounts /proc, /dev and SRC (at /src) into the root; wine_leave undoes it.
wine_enter() {
  mkdir -p "$WROOT/src"
  mountpoint -q "$WROOT/proc" || mount --bind /proc "$WROOT/proc"
  mountpoint -q "$WROOT/dev" || mount --bind /dev "$WROOT/dev"
  mountpoint -q "$WROOT/src" && umount "$WROOT/src"
  mount --bind "$1" "$WROOT/src"
  mkdir -p "$WROOT/tmp/xdg" && chmod 0700 "$WROOT/tmp/xdg"
}
wine_leave() {
  wine_run / wineserver -k >/dev/null 2>&1 || true
  for m in src dev proc; do mountpoint -q "$WROOT/$m" && umount -l "$WROOT/$m"; done
  return 0
}

wine_run() {
  local dir=$1; shift
  chroot "$WROOT" /usr/bin/env -i PATH=/usr/bin:/bin HOME=/root WINEPREFIX=/root/.wine \
    XDG_RUNTIME_DIR=/tmp/xdg WINEDEBUG=-all WINEDLLOVERRIDES='mscoree,mshtml=' LANG=C.UTF-8 \
    ${WINE_ENV:-} /bin/sh -c 'cd "$0" && exec "$@"' "$dir" "$@"
}

to_win() { printf 'Z:%s' "${1//\//\\}"; }
