#!/usr/bin/env bash
# deploy/quickstart.sh on the already-built tree (--bin-dir: no bootstrap, no
# build), on free loopback ports:
#  - it prints the demo password once and the four commands to try;
#  - the four printed lines are typed, exactly as printed, into a shell in a
#    real terminal (tmux): `ssh ... web01` (stock ssh with the ssh_config
#    `sp config` wrote: ProxyJump through the gateway, recorded) and
#    `ssh ... -p GW LOGIN+web02@127.0.0.1` (a session the gateway
#    terminates) each run an interactive shell where a command is typed and
#    its output seen; `spctl sessions ls` then lists exactly these two
#    sessions, ended (shipped by the gateway to the CA); `spctl sessions
#    play LAST` replays the newest (web02's) with the typed command's output;
#  - exec sessions through both, the demo policy (a deny rule) in force;
#  - a second run is idempotent (same processes, no new password);
#  - --down leaves no process of it running; --reset leaves no state.
set -euo pipefail
R="${TEST_SRCDIR}/${TEST_WORKSPACE}"
fail() { echo "FAIL: $*" >&2; [ -n "${D:-}" ] && tail -n 20 "$D"/demo/run/*.log >&2 || true; exit 1; }

D="$(mktemp -d /tmp/qs.XXXXXX)"
B="$(mktemp -d /tmp/qsbin.XXXXXX)"
TMUX_SOCK="$B/tmux"
cleanup() {
  tmux -S "$TMUX_SOCK" kill-server 2>/dev/null || true
  "$R/deploy/quickstart.sh" --dir "$D/demo" --down >/dev/null 2>&1 || true
  rm -rf "$D" "$B"
}
trap cleanup EXIT
for b in ca/sallyport-ca gateway/sallyport-gateway cli/sp cli/spctl; do
  ln -s "$(readlink -f "$R/$b")" "$B/$(basename "$b")"
done
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
CA=$(free_port); GW=$(free_port); MET=$(free_port); W1=$(free_port); W2=$(free_port)
QS=("$R/deploy/quickstart.sh" --dir "$D/demo" --bin-dir "$B" --ca-port "$CA"
    --gateway-port "$GW" --metrics-port "$MET" --web01-port "$W1" --web02-port "$W2")
if [ "$(id -u)" -eq 0 ]; then L=root; else L="$(id -un)"; fi

out="$("${QS[@]}" 2>"$D/qs.err")" || { cat "$D/qs.err" >&2; fail "quickstart failed"; }
echo "$out"
grep -q "^Demo user: demo   password: [A-Za-z0-9_-]\{20,\}   (shown only this once)$" <<<"$out" \
  || fail "no demo password line"
grep -q "^The targets trust only the CA's session key" <<<"$out" || fail "no session key note"
# Starting it made no connection to the gateway (its readiness check made
# one, logged and counted as a client that went away).
metrics="$(curl -sf "http://127.0.0.1:$MET/metrics")" || fail "no gateway metrics"
grep -qx "sallyport_gateway_connections_accepted_total 0" <<<"$metrics" \
  || fail "the gateway accepted connections during the quickstart: $(grep connections <<<"$metrics")"
CFG="$D/demo/demo/ssh_config"
grep -q "^# Written by \`sp config\`" "$CFG" || fail "$CFG is not from sp config"
for cmd in "ssh -F $CFG web01" \
           "ssh -F $CFG -p $GW $L+web02@127.0.0.1" \
           "spctl sessions ls" "spctl sessions play LAST"; do
  grep -qF -- "$cmd" <<<"$out" || fail "the output lacks '$cmd'"
done

# ---------------------------------------------------------------- the four
# printed commands, typed as printed into a shell in tmux.
mapfile -t TRY < <(sed -n '/^Try:$/,/^$/p' <<<"$out" | sed -n 's/^  //p')
[ "${#TRY[@]}" -eq 4 ] || fail "expected 4 commands after 'Try:', got: ${TRY[*]}"
[ "${TRY[0]}" = "ssh -F $CFG web01" ] || fail "command 1: ${TRY[0]}"
[ "${TRY[1]}" = "ssh -F $CFG -p $GW $L+web02@127.0.0.1" ] || fail "command 2: ${TRY[1]}"
[[ "${TRY[2]}" == *" sessions ls" ]] || fail "command 3: ${TRY[2]}"
[[ "${TRY[3]}" == *" sessions play LAST" ]] || fail "command 4: ${TRY[3]}"

T() { tmux -S "$TMUX_SOCK" "$@"; }
pane() { T capture-pane -p -J -t qs; }
last_line() { pane | sed '/^[[:space:]]*$/d' | tail -n 1; }
type_line() { T send-keys -t qs -l -- "$1"; T send-keys -t qs Enter; }
show_pane() { echo "--- tmux pane:" >&2; pane >&2; }
# wait_for SECONDS CMD...: until CMD succeeds.
wait_for() {
  local n=$(($1 * 5)) i; shift
  for i in $(seq 1 "$n"); do "$@" && return 0; sleep 0.2; done
  return 1
}
at_local_prompt() { [[ "$(last_line)" =~ ^qs-local\$[[:space:]]*$ ]]; }
at_remote_prompt() { [[ "$(last_line)" =~ [\#\$][[:space:]]*$ ]] && ! at_local_prompt; }
pane_has() { pane | grep -qE -- "$1"; }
local_cmd() {  # local_cmd LINE: clear the screen, type LINE at the local prompt
  type_line clear
  wait_for 30 at_local_prompt || { show_pane; fail "no local prompt"; }
  type_line "$1"
}

T new-session -d -x 200 -y 50 -s qs "env PS1='qs-local\$ ' bash --norc --noprofile"
wait_for 30 at_local_prompt || { show_pane; fail "no shell in tmux"; }
n=0
for host in web01 web02; do
  local_cmd "${TRY[$n]}"
  wait_for 120 at_remote_prompt || { show_pane; fail "no shell on $host: ${TRY[$n]}"; }
  type_line "echo typed-\$((40+2))-$host; hostname >/dev/null"
  wait_for 60 pane_has "^typed-42-$host\$" || { show_pane; fail "no output of the typed command on $host"; }
  type_line "exit"
  wait_for 60 at_local_prompt || { show_pane; fail "ssh to $host did not end"; }
  type_line 'echo ssh-exit=$?'
  wait_for 30 pane_has '^ssh-exit=0$' || { show_pane; fail "ssh to $host did not exit 0"; }
  n=$((n + 1))
done

# `spctl sessions ls`: exactly the two sessions just made, both ended once
# the gateway has shipped them to the CA (retyped until then).
row() {  # row HOST: the ls row of an ended session of demo as $L on HOST
  pane | grep -E "^[^[:space:]]+[[:space:]]+demo[[:space:]]+$L[[:space:]]+$1[[:space:]].*[[:space:]]ended[[:space:]]"
}
listed() {
  local_cmd "${TRY[2]}"
  wait_for 30 at_local_prompt || return 1
  row web01 >/dev/null && row web02 >/dev/null
}
wait_for 180 listed || { show_pane; fail "spctl sessions ls does not list both sessions as ended"; }
pane_has '^ID[[:space:]]+USER[[:space:]]+LOGIN[[:space:]]+HOST' || { show_pane; fail "no ls header"; }
[ "$(pane | grep -cE "^[^[:space:]]+[[:space:]]+demo[[:space:]]")" -eq 2 ] \
  || { show_pane; fail "spctl sessions ls lists other than the 2 sessions"; }
web01_id="$(row web01 | awk '{print $1}')"

# `spctl sessions play LAST`: the newest session (web02's) with the typed
# command's output, not web01's.
local_cmd "${TRY[3]}"
wait_for 120 pane_has '^typed-42-web02' || { show_pane; fail "play LAST did not show web02's typed output"; }
wait_for 120 at_local_prompt || { show_pane; fail "play LAST did not end"; }
type_line 'echo play-exit=$?'
wait_for 30 pane_has '^play-exit=0$' || { show_pane; fail "play LAST failed"; }
pane_has 'typed-42-web01' && { show_pane; fail "play LAST played web01's session"; }
T kill-server 2>/dev/null || true
# The ProxyJump session (web01) was recorded with what was typed there too.
played="$(SALLYPORT_HOME="$D/demo/admin" timeout 120 "$B/spctl" sessions play "$web01_id" --speed 100 2>&1)" \
  || fail "spctl sessions play $web01_id: $played"
grep -q 'typed-42-web01' <<<"$played" || fail "web01's recording lacks the typed output: $played"

# ---------------------------------------------------------------- more
SSH=(ssh -F "$CFG" -o BatchMode=yes -o ConnectTimeout=60)
# The session through the gateway (LOGIN+HOST), as printed.
got="$(timeout 120 "${SSH[@]}" -p "$GW" "$L+web02@127.0.0.1" 'echo qs-$((6*7)) $SSH_CONNECTION')" \
  || fail "ssh $L+web02 through the gateway failed"
[[ "$got" == "qs-42 127.0.0.1 "*" 127.0.0.1 $W2" ]] || fail "unexpected output from web02: $got"
# ProxyJump to web01, recorded by the gateway.
got="$(timeout 120 "${SSH[@]}" web01 'echo qs-web01-$((6*7)) $SSH_CONNECTION')" || fail "ssh web01 failed"
[[ "$got" == "qs-web01-42 127.0.0.1 "*" 127.0.0.1 $W1" ]] || fail "unexpected output from web01: $got"
# Both sessions' output reaches the CA (the commands hold "$((6*7))", the
# output "42"): `spctl sessions ls --grep` finds them.
for word in qs-42 qs-web01-42; do
  found=0
  for i in $(seq 1 90); do
    SALLYPORT_HOME="$D/demo/admin" "$B/spctl" sessions ls --grep "$word" 2>/dev/null \
      | tail -n +2 | grep -q "[[:space:]]demo[[:space:]]" && { found=1; break; }
    sleep 1
  done
  [ $found -eq 1 ] || fail "'$word' is not in a recording at the CA"
done
# The demo's policy is in force: ops allows port forwarding on web01
# (env=dev) and its deny rule refuses it on web02 (env=prod). `-W` to web01's
# sshd prints its banner when allowed.
fwd() { timeout 60 "${SSH[@]}" -p "$GW" -W "127.0.0.1:$W1" "$L+$1@127.0.0.1" </dev/null 2>"$D/fwd.err" | head -c 100 || true; }
[[ "$(fwd web01)" == SSH-2.0-* ]] || fail "-W through web01 (env=dev) was not allowed: $(cat "$D/fwd.err")"
[[ "$(fwd web02)" != SSH-2.0-* ]] || fail "-W through web02 (env=prod) was allowed"
grep -q "denies port-forward" "$D/fwd.err" || fail "no deny reason: $(cat "$D/fwd.err")"

# The targets trust only the session CA key: the demo's own certificate,
# which the gateway takes, does not open web01 directly.
# (A real key and a certificate for that login: only the trust refuses it.)
ssh-keygen -y -f "$D/demo/demo/demo" >/dev/null || fail "no demo key in $D/demo/demo"
ssh-keygen -L -f "$D/demo/demo/demo-cert.pub" | grep -qx "  *$L" \
  || fail "the demo certificate has no principal $L"
if timeout 60 ssh -F /dev/null -o BatchMode=yes -o IdentitiesOnly=yes \
    -i "$D/demo/demo/demo" -o CertificateFile="$D/demo/demo/demo-cert.pub" \
    -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null \
    -p "$W1" "$L@127.0.0.1" true 2>"$D/direct.err"; then
  fail "the demo's own certificate opened web01 directly"
fi
grep -q "Permission denied" "$D/direct.err" || fail "direct ssh to web01: $(cat "$D/direct.err")"

# Idempotent: the same processes, no new password.
pids_before="$(cat "$D"/demo/run/*.pid | sort)"
out2="$("${QS[@]}" 2>"$D/qs2.err")" || { cat "$D/qs2.err" >&2; fail "second run failed"; }
grep -q "password:" <<<"$out2" && fail "the second run printed a password again"
[ "$(cat "$D"/demo/run/*.pid | sort)" = "$pids_before" ] || fail "the second run restarted processes"
[ "$(wc -l <<<"$pids_before")" -eq 4 ] || fail "expected 4 pid files: $pids_before"

# --down: nothing of it keeps running.
"$R/deploy/quickstart.sh" --dir "$D/demo" --down
for p in $pids_before; do
  kill -0 "$p" 2>/dev/null && fail "pid $p still runs after --down"
done
if pgrep -f -- "$D/demo" >/dev/null; then
  pgrep -af -- "$D/demo" >&2
  fail "processes of $D/demo still run after --down"
fi
# --reset: no state left.
"$R/deploy/quickstart.sh" --dir "$D/demo" --reset
[ ! -e "$D/demo" ] || fail "--reset left $D/demo"
echo PASS
