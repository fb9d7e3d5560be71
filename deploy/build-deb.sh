#!/usr/bin/env bash
# Builds sallyport_<version>_amd64.deb for Debian 12:
#   /usr/bin/{sallyport-ca,sallyport-gateway,sp,spctl}
#   /lib/systemd/system/sallyport-{ca,gateway}.service
#   /usr/share/doc/sallyport/examples/  (deploy/examples)
#   /usr/share/man/man1/*.1.gz          (help2man, from each binary's --help)
# Depends: computed by dpkg-shlibdeps from the binaries (Debian's libraries).
# postinst creates the `sallyport` system user and /var/lib/sallyport; it
# enables nothing (run `sallyport-ca init` first: docs/operations.md).
#
#   deploy/build-deb.sh [--bin-dir DIR] [--out DIR]
#
# Without --bin-dir it runs `bazel build -c opt` of the four binaries first.
# Install with: apt install ./sallyport_<version>_amd64.deb
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BIN_DIR=""
OUT="$PWD"
while [ $# -gt 0 ]; do
  case "$1" in
    --bin-dir) BIN_DIR="$2"; shift 2 ;;
    --out) OUT="$2"; shift 2 ;;
    -h|--help) sed -n '2,15p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "build-deb: unknown argument $1" >&2; exit 2 ;;
  esac
done

VERSION="$(sed -n 's/.*kVersion\[\] = "\(.*\)";/\1/p' "$REPO/base/version.h")"
[ -n "$VERSION" ] || { echo "build-deb: no version in base/version.h" >&2; exit 1; }
BINARIES=(sallyport-ca sallyport-gateway sp spctl)

if [ -z "$BIN_DIR" ]; then
  (cd "$REPO" && bazel build -c opt //ca:sallyport-ca //gateway:sallyport-gateway \
      //cli:sp //cli:spctl >&2)
  BB="$(cd "$REPO" && bazel info -c opt bazel-bin)"
  BIN_DIR="$(mktemp -d)"
  for p in ca/sallyport-ca gateway/sallyport-gateway cli/sp cli/spctl; do
    cp "$BB/$p" "$BIN_DIR/"
  done
fi
for b in "${BINARIES[@]}"; do
  [ -x "$BIN_DIR/$b" ] || { echo "build-deb: $BIN_DIR/$b missing" >&2; exit 1; }
done

W="$(mktemp -d)"
trap 'rm -rf "$W" ${BB:+"$BIN_DIR"}' EXIT
ROOT="$W/root"
install -d "$ROOT/DEBIAN" "$ROOT/usr/bin" "$ROOT/lib/systemd/system" \
  "$ROOT/usr/share/man/man1" "$ROOT/usr/share/doc/sallyport/examples"
for b in "${BINARIES[@]}"; do
  install -m 0755 "$BIN_DIR/$b" "$ROOT/usr/bin/$b"
done
install -m 0644 "$REPO"/deploy/systemd/*.service "$ROOT/lib/systemd/system/"
cp -r "$REPO"/deploy/examples/. "$ROOT/usr/share/doc/sallyport/examples/"
chmod -R u=rwX,go=rX "$ROOT/usr/share/doc/sallyport"

# Man pages from --help / --version.
declare -A WHAT=(
  [sallyport-ca]="the Sallyport SSH certificate authority"
  [sallyport-gateway]="the Sallyport SSH gateway"
  [sp]="log in to Sallyport and get an SSH certificate"
  [spctl]="administer Sallyport"
)
for b in "${BINARIES[@]}"; do
  help2man --no-info --no-discard-stderr --section=1 --name="${WHAT[$b]}" \
    "$ROOT/usr/bin/$b" > "$W/$b.1"
  gzip -9n < "$W/$b.1" > "$ROOT/usr/share/man/man1/$b.1.gz"
done

# Shared-library dependencies (dpkg-shlibdeps wants a debian/control).
mkdir -p "$W/src/debian"
printf 'Source: sallyport\n\nPackage: sallyport\nArchitecture: amd64\n' > "$W/src/debian/control"
DEPENDS="$(cd "$W/src" && dpkg-shlibdeps -O "${BINARIES[@]/#/$ROOT/usr/bin/}" 2>/dev/null \
  | sed -n 's/^shlibs:Depends=//p')"
[ -n "$DEPENDS" ] || { echo "build-deb: dpkg-shlibdeps found no dependencies" >&2; exit 1; }

SIZE="$(du -sk "$ROOT" | cut -f1)"
cat > "$ROOT/DEBIAN/control" <<EOF
Package: sallyport
Version: $VERSION
Architecture: amd64
Maintainer: Sallyport developers <sallyport@localhost>
Installed-Size: $SIZE
Depends: $DEPENDS, adduser
Recommends: openssh-client
Suggests: postgresql
Section: net
Priority: optional
Homepage: https://github.com/sallyport/sallyport
Description: SSH bastion with its own SSH certificate authority
 Sallyport issues short-lived OpenSSH user certificates (sp login) and runs
 an SSH gateway that checks certificates and role-based access per channel,
 records sessions and forwards to private hosts that need nothing but
 OpenSSH's TrustedUserCAKeys. Contains sallyport-ca, sallyport-gateway, sp,
 spctl and systemd units (not enabled).
EOF
cat > "$ROOT/DEBIAN/postinst" <<'EOF'
#!/bin/sh
set -e
if [ "$1" = configure ]; then
  if ! getent passwd sallyport >/dev/null; then
    adduser --system --group --home /var/lib/sallyport --no-create-home \
      --shell /usr/sbin/nologin sallyport >/dev/null
  fi
  install -d -o sallyport -g sallyport -m 0750 /var/lib/sallyport
  if [ -d /run/systemd/system ]; then systemctl daemon-reload >/dev/null || true; fi
fi
exit 0
EOF
cat > "$ROOT/DEBIAN/postrm" <<'EOF'
#!/bin/sh
set -e
if [ -d /run/systemd/system ]; then systemctl daemon-reload >/dev/null || true; fi
exit 0
EOF
chmod 0755 "$ROOT/DEBIAN/postinst" "$ROOT/DEBIAN/postrm"

mkdir -p "$OUT"
DEB="$OUT/sallyport_${VERSION}_amd64.deb"
dpkg-deb --root-owner-group -Zgzip --build "$ROOT" "$DEB" >/dev/null
echo "$DEB"
