#!/usr/bin/env bash
# deploy/quickstart.sh on the already-built tree (--bin-dir: no bootstrap, no
# build), on free loopback ports:
#  - it prints the demo password once and the four commands;
#  - the ssh_config is the one `sp config` wrote (DIR/demo/ssh_config);
#  - the two ssh commands it prints (`ssh web01`: stock ssh, ProxyJump
#    through the gateway, recorded; `ssh -p GW LOGIN+web02@127.0.0.1`: a
#    session the gateway terminates) run a command, land in the gateway's
#    spool, and work in a real terminal (tmux);
#  - a second run is idempotent (same processes, no new password);
#  - --down leaves no process of it running; --reset leaves no state.
# Not checked yet: `spctl sessions ls|play` (printed by the script) show
# nothing until the gateway ships its spool to the CA (issue 14's shipper).
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
CFG="$D/demo/demo/ssh_config"
grep -q "^# Written by \`sp config\`" "$CFG" || fail "$CFG is not from sp config"
for cmd in "ssh -F $CFG web01" \
           "ssh -F $CFG -p $GW $L+web02@127.0.0.1" \
           "spctl sessions ls" "spctl sessions play LAST"; do
  grep -qF -- "$cmd" <<<"$out" || fail "the output lacks '$cmd'"
done

SSH=(ssh -F "$CFG" -o BatchMode=yes -o ConnectTimeout=60)
# The session through the gateway (LOGIN+HOST), as printed.
got="$(timeout 120 "${SSH[@]}" -p "$GW" "$L+web02@127.0.0.1" 'echo qs-$((6*7)) $SSH_CONNECTION')" \
  || fail "ssh $L+web02 through the gateway failed"
[[ "$got" == "qs-42 127.0.0.1 "*" 127.0.0.1 $W2" ]] || fail "unexpected output from web02: $got"
# ProxyJump to web01, recorded by the gateway.
got="$(timeout 120 "${SSH[@]}" web01 'echo qs-web01-$((6*7)) $SSH_CONNECTION')" || fail "ssh web01 failed"
[[ "$got" == "qs-web01-42 127.0.0.1 "*" 127.0.0.1 $W1" ]] || fail "unexpected output from web01: $got"
# Both sessions' output is in the gateway's spool (the commands hold
# "$((6*7))", the output "42").
for word in qs-42 qs-web01-42; do
  found=0
  for i in $(seq 1 60); do
    grep -rqF -- "$word" "$D/demo/gateway/spool" && { found=1; break; }
    sleep 1
  done
  [ $found -eq 1 ] || fail "'$word' is not in the gateway's spool"
done
# The demo's policy is in force: ops allows port forwarding on web01
# (env=dev) and its deny rule refuses it on web02 (env=prod). `-W` to web01's
# sshd prints its banner when allowed.
fwd() { timeout 60 "${SSH[@]}" -p "$GW" -W "127.0.0.1:$W1" "$L+$1@127.0.0.1" </dev/null 2>"$D/fwd.err" | head -c 100 || true; }
[[ "$(fwd web01)" == SSH-2.0-* ]] || fail "-W through web01 (env=dev) was not allowed: $(cat "$D/fwd.err")"
[[ "$(fwd web02)" != SSH-2.0-* ]] || fail "-W through web02 (env=prod) was allowed"
grep -q "denies port-forward" "$D/fwd.err" || fail "no deny reason: $(cat "$D/fwd.err")"

# A real terminal: an interactive shell through tmux for each printed ssh
# command.
in_tmux() {  # in_tmux NAME SSH-ARGS...
  local name="$1" ok=0 i; shift
  tmux -S "$TMUX_SOCK" new-session -d -x 120 -y 30 -s "$name" \
    "$(printf '%q ' "${SSH[@]}" -tt "$@")"
  for i in $(seq 1 120); do
    tmux -S "$TMUX_SOCK" send-keys -t "$name" "echo tmux-\$((40+2))-$name" Enter
    sleep 1
    if tmux -S "$TMUX_SOCK" capture-pane -p -t "$name" | grep -q "^tmux-42-$name"; then ok=1; break; fi
  done
  [ $ok -eq 1 ] || { tmux -S "$TMUX_SOCK" capture-pane -p -t "$name" >&2; fail "no shell output in tmux ($name)"; }
  tmux -S "$TMUX_SOCK" send-keys -t "$name" "exit" Enter
}
in_tmux web01 web01
in_tmux web02 -p "$GW" "$L+web02@127.0.0.1"
tmux -S "$TMUX_SOCK" kill-server 2>/dev/null || true

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
