#!/usr/bin/env bash
# deploy/build-deb.sh on the already-built binaries: the .deb is named
# sallyport_<version>_amd64.deb, apt on this Debian accepts it (simulated
# install: its Depends resolve), `dpkg -x` into a temporary root gives four
# binaries that run `--version` (all printing base/version.h's version), man
# pages for each, the example configs, and units that `systemd-analyze
# verify` accepts with ExecStart pointed at the extracted binaries.
set -euo pipefail
R="${TEST_SRCDIR}/${TEST_WORKSPACE}"
fail() { echo "FAIL: $*" >&2; exit 1; }
T="$(mktemp -d /tmp/debtest.XXXXXX)"
trap 'rm -rf "$T"' EXIT
mkdir "$T/bin"
for b in ca/sallyport-ca gateway/sallyport-gateway cli/sp cli/spctl; do
  ln -s "$(readlink -f "$R/$b")" "$T/bin/$(basename "$b")"
done
VERSION="$(sed -n 's/.*kVersion\[\] = "\(.*\)";/\1/p' "$R/base/version.h")"
[ -n "$VERSION" ] || fail "no version in base/version.h"

deb="$("$R/deploy/build-deb.sh" --bin-dir "$T/bin" --out "$T/out")"
[ "$deb" = "$T/out/sallyport_${VERSION}_amd64.deb" ] || fail "unexpected .deb path: $deb"
[ "$(dpkg-deb -f "$deb" Package)" = sallyport ] || fail "Package"
[ "$(dpkg-deb -f "$deb" Version)" = "$VERSION" ] || fail "Version"
[ "$(dpkg-deb -f "$deb" Architecture)" = amd64 ] || fail "Architecture"
dpkg-deb -f "$deb" Depends | grep -q "libgrpc++" || fail "Depends lacks gRPC: $(dpkg-deb -f "$deb" Depends)"
# apt resolves its dependencies from this machine's Debian archive.
apt-get -s -qq install "$deb" > "$T/apt.txt" 2>&1 || { cat "$T/apt.txt" >&2; fail "apt-get -s install"; }
grep -q "^Inst sallyport ($VERSION" "$T/apt.txt" || { cat "$T/apt.txt" >&2; fail "apt would not install it"; }

dpkg -x "$deb" "$T/root"
for b in sallyport-ca sallyport-gateway sp spctl; do
  out="$("$T/root/usr/bin/$b" --version)" || fail "$b --version failed"
  [ "$out" = "$b $VERSION" ] || fail "$b --version printed '$out'"
  man="$T/root/usr/share/man/man1/$b.1.gz"
  zcat "$man" | grep -q '^\.TH' || fail "no man page for $b"
  zcat "$man" | grep -q -- 'help' || fail "the man page of $b has no --help text"
done
for f in single-box/ca.yaml single-box/gateway.yaml ha/ca-a.yaml ha/ca-b.yaml ha/gw-a.yaml ha/gw-b.yaml; do
  cmp -s "$T/root/usr/share/doc/sallyport/examples/$f" "$R/deploy/examples/$f" || fail "example $f"
done
for u in sallyport-ca sallyport-gateway; do
  unit="$T/root/lib/systemd/system/$u.service"
  [ -f "$unit" ] || fail "$u.service is not in the package"
  sed -e "s#/usr/bin/#$T/root/usr/bin/#" "$unit" > "$T/$u.service"
done
out="$(cd "$T" && systemd-analyze verify --man=no sallyport-ca.service sallyport-gateway.service 2>&1)" \
  || fail "systemd-analyze verify: $out"
[ -z "$out" ] || fail "systemd-analyze verify warned: $out"
# postinst creates the service user (checked as a script, not run here).
dpkg-deb -e "$deb" "$T/ctl"
grep -q "adduser --system --group" "$T/ctl/postinst" || fail "postinst does not create the sallyport user"
echo PASS
