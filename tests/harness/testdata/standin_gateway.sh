#!/bin/sh
# A stand-in for the documented `sallyport-gateway` command line (issue 12),
# used only by bastion_fixture_test to prove BastionFixture::StartGateway
# until the real binary exists:
#   enroll --ca A --ca-fingerprint F --token T --state-dir DIR [...]
#       records its arguments in DIR/enroll.args, writes DIR/gateway.yaml
#   serve --config DIR/gateway.yaml --listen 127.0.0.1:PORT
#       records its arguments in DIR/serve.args, listens on PORT until killed
set -eu
cmd="$1"
shift
case "$cmd" in
  enroll)
    dir=""
    prev=""
    for a in "$@"; do
      [ "$prev" = "--state-dir" ] && dir="$a"
      prev="$a"
    done
    mkdir -p "$dir"
    printf '%s\n' "$@" > "$dir/enroll.args"
    printf 'listen: "127.0.0.1:2222"\nca: "x"\nmetrics_listen: "127.0.0.1:9102"\n' > "$dir/gateway.yaml"
    ;;
  serve)
    config=""
    listen=""
    prev=""
    for a in "$@"; do
      [ "$prev" = "--config" ] && config="$a"
      [ "$prev" = "--listen" ] && listen="$a"
      prev="$a"
    done
    printf '%s\n' "$@" > "$(dirname "$config")/serve.args"
    exec /usr/bin/python3 -c '
import socket, sys, time
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", int(sys.argv[1])))
s.listen(16)
while True:
    time.sleep(1)
' "${listen##*:}"
    ;;
  *)
    echo "standin_gateway: unknown command $cmd" >&2
    exit 2
    ;;
esac
