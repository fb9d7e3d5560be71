#!/usr/bin/env bash
# `systemd-analyze verify` passes on deploy/systemd/*.service (with ExecStart
# pointed at the built binaries, since verify checks that they exist), prints
# no warning, and the units carry the hardening issue 16 asks for. A broken
# copy of a unit must fail verify (so this test can fail).
set -euo pipefail
R="${TEST_SRCDIR}/${TEST_WORKSPACE}"
CA_BIN="$R/ca/sallyport-ca"
GW_BIN="$R/gateway/sallyport-gateway"
T="$(mktemp -d "${TEST_TMPDIR:-/tmp}/units.XXXXXX")"
fail() { echo "FAIL: $*" >&2; exit 1; }

for unit in sallyport-ca sallyport-gateway; do
  sed -e "s#/usr/bin/sallyport-ca#$CA_BIN#" \
      -e "s#/usr/bin/sallyport-gateway#$GW_BIN#" \
      "$R/deploy/systemd/$unit.service" > "$T/$unit.service"
done

out="$(cd "$T" && systemd-analyze verify --man=no sallyport-ca.service sallyport-gateway.service 2>&1)" \
  || fail "systemd-analyze verify: $out"
[ -z "$out" ] || fail "systemd-analyze verify printed warnings: $out"

need() {  # need UNIT LINE: the unit has exactly this line
  grep -qxF -- "$2" "$R/deploy/systemd/$1.service" || fail "$1.service lacks '$2'"
}
for u in sallyport-ca sallyport-gateway; do
  need $u "Type=notify"
  need $u "User=sallyport"
  need $u "ProtectSystem=strict"
  need $u "NoNewPrivileges=yes"
  need $u "PrivateTmp=yes"
  need $u 'ExecReload=/bin/kill -HUP $MAINPID'
done
need sallyport-ca "ReadWritePaths=/var/lib/sallyport/ca"
need sallyport-ca "CapabilityBoundingSet="
need sallyport-gateway "ReadWritePaths=/var/lib/sallyport/gateway"
need sallyport-gateway "CapabilityBoundingSet=CAP_NET_BIND_SERVICE"
# drain_timeout 30 s + kDrainStopMargin 20 s (gateway/serve.h).
need sallyport-gateway "TimeoutStopSec=50"
# Only the gateway may bind a low port.
if grep -q "CAP_NET_BIND_SERVICE" "$R/deploy/systemd/sallyport-ca.service"; then
  fail "the CA unit must not grant CAP_NET_BIND_SERVICE"
fi

# Negative controls: verify catches a bad directive and a missing binary.
sed -e 's/^Type=notify$/Type=notifyy/' "$T/sallyport-ca.service" > "$T/bad-type.service"
bad="$(cd "$T" && systemd-analyze verify --man=no bad-type.service 2>&1 || true)"
[ -n "$bad" ] || fail "verify did not report Type=notifyy"
sed -e "s#$CA_BIN#$T/no-such-binary#" "$T/sallyport-ca.service" > "$T/bad-exec.service"
if (cd "$T" && systemd-analyze verify --man=no bad-exec.service >/dev/null 2>&1); then
  fail "verify accepted a unit whose ExecStart does not exist"
fi
echo "PASS"
