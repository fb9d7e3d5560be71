#!/usr/bin/env bash
# Sallyport quickstart: a working bastion on this machine, on loopback only.
#
#   deploy/quickstart.sh [--dir DIR]     start (or check) the demo
#   deploy/quickstart.sh --down          stop everything it started
#   deploy/quickstart.sh --reset         stop it and delete DIR
#
# What it does (each step is skipped when already done, so running it again
# is safe):
#   1. deploy/bootstrap.sh (installs missing Debian packages) and
#      `bazel build -c opt` of sallyport-ca, sallyport-gateway, sp and spctl,
#      copied to DIR/bin;
#   2. `sallyport-ca init` in DIR/ca (SQLite) and `sallyport-ca serve`;
#   3. logs in as the CA's admin (DIR/admin), creates the roles `dev` and
#      `ops`, the demo user `demo` and the inventory hosts web01 (env=dev) and
#      web02 (env=prod);
#   4. two demo targets: real sshd's on loopback with host certificates from
#      the Sallyport host CA and `TrustedUserCAKeys` = the session CA key
#      (`init --session-ca`): they admit the gateway's sessions, not users'
#      own certificates;
#   5. enrols and starts sallyport-gateway;
#   6. `sp login` as demo (DIR/demo) and `sp config`, which writes the
#      demo's ssh_config (DIR/demo/ssh_config: the gateway and one block per
#      host the demo may reach, with ProxyJump through the gateway) and its
#      known_hosts; used with `ssh -F`, your ~/.ssh is not touched.
#
# Options:
#   --dir DIR            state directory (default ~/.sallyport-demo)
#   --bin-dir DIR        use the four binaries in DIR: no bootstrap, no build
#                        (the tests use this on the already-built tree)
#   --ca-port N          CA gRPC port (default 7443)
#   --gateway-port N     gateway SSH port (default 2222)
#   --metrics-port N     gateway /metrics port (default 9102)
#   --web01-port N       demo target web01 (default 2201)
#   --web02-port N       demo target web02 (default 2202)
# Ports are remembered in DIR/ports.env after the first run.
#
# Runs as root or as an ordinary user: the targets listen on high ports, and
# the login on them is root (as root) or your own user name.
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
DIR="${HOME:-/root}/.sallyport-demo"
BIN_DIR=""
ACTION=up
CA_PORT="" GW_PORT="" METRICS_PORT="" WEB01_PORT="" WEB02_PORT=""

usage() { sed -n '2,36p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; }
while [ $# -gt 0 ]; do
  case "$1" in
    --dir) DIR="$2"; shift 2 ;;
    --bin-dir) BIN_DIR="$2"; shift 2 ;;
    --ca-port) CA_PORT="$2"; shift 2 ;;
    --gateway-port) GW_PORT="$2"; shift 2 ;;
    --metrics-port) METRICS_PORT="$2"; shift 2 ;;
    --web01-port) WEB01_PORT="$2"; shift 2 ;;
    --web02-port) WEB02_PORT="$2"; shift 2 ;;
    --down) ACTION=down; shift ;;
    --reset) ACTION=reset; shift ;;
    -h|--help) usage; exit 0 ;;
    *) echo "quickstart: unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
done
mkdir -p "$(dirname "$DIR")"
DIR="$(cd "$(dirname "$DIR")" && pwd)/$(basename "$DIR")"
RUN="$DIR/run"
MARK="$DIR/.sallyport-quickstart"

say() { echo "quickstart: $*" >&2; }
die() { echo "quickstart: error: $*" >&2; exit 1; }

# ------------------------------------------------------------ --down / --reset
alive() { [ -n "${1:-}" ] && kill -0 "$1" 2>/dev/null; }

stop_all() {
  [ -d "$RUN" ] || return 0
  local f pid i
  for f in "$RUN"/gateway.pid "$RUN"/web01.pid "$RUN"/web02.pid "$RUN"/ca.pid; do
    [ -f "$f" ] || continue
    pid="$(cat "$f" 2>/dev/null || true)"
    if alive "$pid"; then
      say "stopping $(basename "$f" .pid) (pid $pid)"
      kill -TERM "$pid" 2>/dev/null || true
      # The gateway drains first: its sessions get up to drain_timeout
      # (30 s by default) to finish, then a message; 50 s as in the
      # systemd unit (TimeoutStopSec: drain_timeout + 20 s).
      local tries=100
      [ "$(basename "$f")" = gateway.pid ] && tries=250
      for i in $(seq 1 "$tries"); do alive "$pid" || break; sleep 0.2; done
      if alive "$pid"; then kill -KILL "$pid" 2>/dev/null || true; fi
    fi
    rm -f "$f"
  done
}

if [ "$ACTION" = down ]; then stop_all; exit 0; fi
if [ "$ACTION" = reset ]; then
  stop_all
  if [ -d "$DIR" ]; then
    [ -f "$MARK" ] || die "$DIR was not made by quickstart.sh; not deleting it"
    rm -rf "$DIR"
    say "removed $DIR"
  fi
  exit 0
fi

# ------------------------------------------------------------ setup
mkdir -p "$DIR" "$RUN"
chmod 700 "$DIR"
touch "$MARK"

if [ -f "$DIR/ports.env" ]; then
  # shellcheck disable=SC1091
  . "$DIR/ports.env"
fi
CA_PORT="${CA_PORT:-${Q_CA_PORT:-7443}}"
GW_PORT="${GW_PORT:-${Q_GW_PORT:-2222}}"
METRICS_PORT="${METRICS_PORT:-${Q_METRICS_PORT:-9102}}"
WEB01_PORT="${WEB01_PORT:-${Q_WEB01_PORT:-2201}}"
WEB02_PORT="${WEB02_PORT:-${Q_WEB02_PORT:-2202}}"
cat > "$DIR/ports.env" <<EOF
Q_CA_PORT=$CA_PORT
Q_GW_PORT=$GW_PORT
Q_METRICS_PORT=$METRICS_PORT
Q_WEB01_PORT=$WEB01_PORT
Q_WEB02_PORT=$WEB02_PORT
EOF

if [ -z "$BIN_DIR" ]; then
  "$REPO/deploy/bootstrap.sh"
  say "building (bazel build -c opt; the first build takes a while)"
  (cd "$REPO" && bazel build -c opt //ca:sallyport-ca //gateway:sallyport-gateway \
      //cli:sp //cli:spctl >&2)
  mkdir -p "$DIR/bin"
  for b in ca/sallyport-ca gateway/sallyport-gateway cli/sp cli/spctl; do
    install -m 0755 "$(cd "$REPO" && bazel info -c opt bazel-bin 2>/dev/null)/$b" "$DIR/bin/"
  done
  BIN_DIR="$DIR/bin"
fi
BIN_DIR="$(cd "$BIN_DIR" && pwd)"
for b in sallyport-ca sallyport-gateway sp spctl; do
  [ -x "$BIN_DIR/$b" ] || die "$BIN_DIR/$b is missing"
done
CA_BIN="$BIN_DIR/sallyport-ca"
GW_BIN="$BIN_DIR/sallyport-gateway"
SP="$BIN_DIR/sp"
SPCTL="$BIN_DIR/spctl"

if [ "$(id -u)" -eq 0 ]; then LOGIN=root; else LOGIN="$(id -un)"; fi

# Whether something listens on TCP port $1, read from /proc/net/tcp{,6}
# (local address ...:PORT in hex, state 0A): a test connection would show
# in the gateway's log and metrics as a client that went away.
port_open() {
  awk -v p="$(printf ':%04X' "$1")" \
    'substr($2, length($2) - 4) == p && $4 == "0A" { found = 1 } END { exit !found }' \
    /proc/net/tcp /proc/net/tcp6 2>/dev/null
}
wait_port() {  # wait_port PORT NAME LOG PID
  local i
  for i in $(seq 1 300); do
    port_open "$1" && return 0
    alive "$4" || die "$2 exited; its log ($3):"$'\n'"$(tail -n 30 "$3")"
    sleep 0.2
  done
  die "$2 is not listening on 127.0.0.1:$1 after 60 s; see $3"
}
running() { [ -f "$RUN/$1.pid" ] && alive "$(cat "$RUN/$1.pid")"; }
# Starts a daemon in its own session, its pid in $RUN/NAME.pid.
start_daemon() {  # start_daemon NAME PORT CMD...
  local name="$1" port="$2"; shift 2
  if running "$name"; then return 0; fi
  port_open "$port" && die "port $port is in use (pick another: --help)"
  setsid "$@" >>"$RUN/$name.log" 2>&1 </dev/null &
  echo $! > "$RUN/$name.pid"
  wait_port "$port" "$name" "$RUN/$name.log" "$(cat "$RUN/$name.pid")"
  say "$name running (pid $(cat "$RUN/$name.pid"), 127.0.0.1:$port)"
}
new_password() { head -c 18 /dev/urandom | base64 | tr '+/' '-_'; }

# ------------------------------------------------------------ the CA
if [ ! -f "$DIR/ca/ca.yaml" ]; then
  new_password > "$DIR/admin.password"
  chmod 600 "$DIR/admin.password"
  "$CA_BIN" init --state-dir "$DIR/ca" --admin-password-file "$DIR/admin.password" \
    --listen "127.0.0.1:$CA_PORT" --session-ca > "$DIR/ca-init.txt"
  printf 'gateway:\n  egress_addresses: ["127.0.0.1"]\n' >> "$DIR/ca/ca.yaml"
fi
# Where users reach the gateway (`sp config` writes it into ssh_config).
if ! grep -q '^  ssh_addresses:' "$DIR/ca/ca.yaml"; then
  sed -i "/^  egress_addresses:/a\\  ssh_addresses: [\"127.0.0.1:$GW_PORT\"]" "$DIR/ca/ca.yaml"
fi
FP="$(sed -n 's/^ *TLS fingerprint: *//p' "$DIR/ca-init.txt")"
[ -n "$FP" ] || die "no TLS fingerprint in $DIR/ca-init.txt"
start_daemon ca "$CA_PORT" "$CA_BIN" serve --config "$DIR/ca/ca.yaml" \
  --listen "127.0.0.1:$CA_PORT"

login() {  # login USER PASSWORD_FILE: `sp login` into DIR/USER
  SALLYPORT_HOME="$DIR/$1" SSH_AUTH_SOCK="" setsid -w "$SP" login \
    --ca "127.0.0.1:$CA_PORT" --user "$1" --password-stdin \
    --ca-fingerprint "$FP" < "$2" > "$DIR/$1.login.txt" 2>&1 \
    || die "sp login as $1 failed: $(cat "$DIR/$1.login.txt")"
}
login admin "$DIR/admin.password"
spctl() { SALLYPORT_HOME="$DIR/admin" "$SPCTL" "$@"; }

# ------------------------------------------------------------ policy
if ! spctl roles show dev >/dev/null 2>&1; then
  cat > "$DIR/role-dev.yaml" <<EOF
name: dev
description: "developers: shell, exec and sftp on env=dev hosts"
logins: [$LOGIN]
hosts: [{labels: {env: dev}}]
channels: [shell, exec, sftp]
EOF
  spctl roles create -f "$DIR/role-dev.yaml" >/dev/null
fi
if ! spctl roles show ops >/dev/null 2>&1; then
  cat > "$DIR/role-ops.yaml" <<EOF
name: ops
description: "operators: everything on dev and prod, but no port or agent forwarding on prod; ProxyJump is recorded (no passthrough)"
logins: [$LOGIN]
hosts: [{labels: {env: dev}}, {labels: {env: prod}}]
channels: [shell, exec, sftp, port-forward, agent-forward]
deny:
  - hosts: [{labels: {env: prod}}]
    channels: [port-forward, agent-forward]
EOF
  spctl roles create -f "$DIR/role-ops.yaml" >/dev/null
fi
NEW_DEMO_PASSWORD=""
if ! spctl users show demo >/dev/null 2>&1; then
  new_password > "$DIR/demo.password"
  chmod 600 "$DIR/demo.password"
  spctl users add demo --password-file "$DIR/demo.password" --role dev --role ops >/dev/null
  NEW_DEMO_PASSWORD="$(cat "$DIR/demo.password")"
fi

# ------------------------------------------------------------ demo targets
if [ "$(id -u)" -eq 0 ]; then mkdir -p /run/sshd; chmod 755 /run/sshd; fi
start_target() {  # start_target NAME PORT ENV
  local name="$1" port="$2" env="$3" t="$DIR/targets/$1"
  mkdir -p "$t"
  [ -f "$t/ssh_host_ed25519_key" ] || ssh-keygen -q -t ed25519 -N "" -C "$name" \
    -f "$t/ssh_host_ed25519_key"
  if ! spctl hosts show "$name" >/dev/null 2>&1; then
    spctl hosts add "$name" --address 127.0.0.1 --port "$port" --label "env=$env" >/dev/null
  fi
  [ -f "$t/ssh_host_ed25519_key-cert.pub" ] || spctl hosts sign "$name" \
    --public-key "$t/ssh_host_ed25519_key.pub" -o "$t/ssh_host_ed25519_key-cert.pub" >/dev/null
  # The keys that sign the gateway's session certificates, as the CA says:
  # its session key (a demo made before --session-ca has none: the user CA
  # key), with retired ones still trusted.
  spctl ca target-keys -o "$t/user_ca.pub" >/dev/null 2>&1 \
    || die "spctl ca target-keys failed"
  cat > "$t/sshd_config" <<EOF
# Demo target $name (env=$env), made by deploy/quickstart.sh.
Port $port
ListenAddress 127.0.0.1
HostKey $t/ssh_host_ed25519_key
HostCertificate $t/ssh_host_ed25519_key-cert.pub
TrustedUserCAKeys $t/user_ca.pub
AuthorizedKeysFile none
PidFile $RUN/$name.pid
StrictModes no
UsePAM no
PasswordAuthentication no
KbdInteractiveAuthentication no
PermitRootLogin prohibit-password
Subsystem sftp /usr/lib/openssh/sftp-server
PrintMotd no
UseDNS no
EOF
  running "$name" && return 0
  port_open "$port" && die "port $port is in use (pick another: --help)"
  /usr/sbin/sshd -f "$t/sshd_config" -E "$RUN/$name.log" \
    || die "sshd for $name did not start: $(tail -n 20 "$RUN/$name.log")"
  local i
  for i in $(seq 1 100); do [ -s "$RUN/$name.pid" ] && break; sleep 0.1; done
  wait_port "$port" "$name" "$RUN/$name.log" "$(cat "$RUN/$name.pid")"
  say "$name running (sshd pid $(cat "$RUN/$name.pid"), 127.0.0.1:$port, env=$env)"
}
start_target web01 "$WEB01_PORT" dev
start_target web02 "$WEB02_PORT" prod

# ------------------------------------------------------------ the gateway
if [ ! -f "$DIR/gateway/gateway.yaml" ]; then
  # Made for its name: the demo's gateway shares 127.0.0.1 with the hosts,
  # which a token that names no gateway may not take.
  # The token goes through a pipe (--token-file -), never into argv.
  spctl tokens create --kind gateway --gateway-name demo-gw |
    "$GW_BIN" enroll --ca "127.0.0.1:$CA_PORT" --ca-fingerprint "$FP" --token-file - \
      --state-dir "$DIR/gateway" --name demo-gw --principal 127.0.0.1 \
      --principal localhost > "$DIR/gateway-enroll.txt"
fi
# Keys `enroll` writes with the defaults; the ports are the demo's.
sed -i -e "s/^listen: .*/listen: \"127.0.0.1:$GW_PORT\"/" \
  -e "s/^metrics_listen: .*/metrics_listen: \"127.0.0.1:$METRICS_PORT\"/" \
  "$DIR/gateway/gateway.yaml"
start_daemon gateway "$GW_PORT" "$GW_BIN" serve --config "$DIR/gateway/gateway.yaml" \
  --listen "127.0.0.1:$GW_PORT"

# ------------------------------------------------------------ the demo user
login demo "$DIR/demo.password"
# `sp config` (also run by `sp login`): DIR/demo/ssh_config + known_hosts.
SALLYPORT_HOME="$DIR/demo" "$SP" config > "$DIR/demo.config.txt" 2>&1 \
  || die "sp config failed: $(cat "$DIR/demo.config.txt")"
grep -q '^Host web01$' "$DIR/demo/ssh_config" \
  || die "sp config wrote no block for web01: $(cat "$DIR/demo.config.txt")"

# ------------------------------------------------------------ done
if grep -q '^  session_ca:' "$DIR/ca/ca.yaml"; then
  TRUST_NOTE="The targets trust only the CA's session key, so the gateway is the only
way in: demo's own certificate does not open them directly."
else
  TRUST_NOTE="The targets trust the user CA key (this demo's CA has no session key):
demo's own certificate opens them directly too."
fi
if [ -n "$NEW_DEMO_PASSWORD" ]; then
  echo "Demo user: demo   password: $NEW_DEMO_PASSWORD   (shown only this once)"
fi
cat <<EOF
Sallyport is running on loopback (state in $DIR):
  CA       127.0.0.1:$CA_PORT     gateway  127.0.0.1:$GW_PORT (metrics: http://127.0.0.1:$METRICS_PORT/metrics)
  targets  web01 (env=dev) 127.0.0.1:$WEB01_PORT, web02 (env=prod) 127.0.0.1:$WEB02_PORT
  logged in as demo (roles dev + ops), login on the targets: $LOGIN

Try:
  ssh -F $DIR/demo/ssh_config web01
  ssh -F $DIR/demo/ssh_config -p $GW_PORT $LOGIN+web02@127.0.0.1
  SALLYPORT_HOME=$DIR/admin $SPCTL sessions ls
  SALLYPORT_HOME=$DIR/admin $SPCTL sessions play LAST

The first is stock ssh with the ssh_config \`sp config\` wrote: a ProxyJump
through the gateway, which records the session. The second is a session the
gateway terminates, authorizes per channel and bridges to web02 with a
per-session certificate. Both are recorded on the gateway and shipped to the
CA when they end (a few seconds); \`spctl sessions ls\` then lists them
(as the CA's admin) and \`spctl sessions play LAST\` replays the newest.
$TRUST_NOTE
Stop it: $REPO/deploy/quickstart.sh --dir $DIR --down   (--reset also deletes $DIR)
EOF
