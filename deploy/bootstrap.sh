#!/usr/bin/env bash
# Installs every Debian package that Sallyport's build, tests and demo need.
# Idempotent: when everything is already installed it prints nothing and
# touches no package list. Runs as root, or through sudo when available.
set -euo pipefail

PACKAGES=(
  # toolchain and build
  build-essential g++ clang libclang-rt-14-dev lld python3 git ca-certificates
  bazel-bootstrap bazel-rules-java bazel-platforms bazel-skylib default-jdk-headless
  # libraries
  libssl-dev libgrpc++-dev protobuf-compiler-grpc libprotobuf-dev protobuf-compiler
  libabsl-dev libsqlite3-dev sqlite3 libpq-dev libgtest-dev libgmock-dev libbenchmark-dev
  libasio-dev libyaml-cpp-dev libspdlog-dev libfmt-dev libcli11-dev
  # QR codes for `spctl users totp-enroll`
  libqrencode-dev
  # sd_notify (Type=notify units), `systemd-analyze verify` of the units
  libsystemd-dev systemd
  # packaging: man pages from --help, .deb building
  help2man dpkg-dev
  # real components used by the tests and the demo
  openssh-server openssh-client openssh-sftp-server rsync postgresql tmux procps
  # the `openssl` CLI (test certificates), `curl` (/metrics in the E2E tests)
  openssl curl
  # other SSH clients of the gateway's interop tests (PuTTY plink/pscp/puttygen, paramiko, AsyncSSH)
  putty-tools python3-paramiko python3-asyncssh
  # Ansible through the gateway, as docs/clients.md says (gateway_ansible_e2e_test)
  ansible-core
  # `asciinema cat` checks spctl sessions export (asciicast v2)
  asciinema
  # libfaketime: tests step a process's wall clock (tests/harness/fake_wall_clock.h)
  faketime
  # constant-time check of ML-KEM Decaps (memcheck with secrets undefined)
  valgrind
  # Debian 13 (trixie) test root with OpenSSH 10 and OpenSSL 3.5 (post-quantum kex peers)
  debootstrap
  # formatting
  clang-format
)

missing=()
for p in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done
[ ${#missing[@]} -eq 0 ] && exit 0

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null || { echo "bootstrap: need root (or sudo) to install: ${missing[*]}" >&2; exit 1; }
  SUDO="sudo"
fi
echo "bootstrap: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq >/dev/null
# Don't let package installation start services on the host: tests start their own.
policy_created=0
if [ ! -e /usr/sbin/policy-rc.d ]; then
  printf '#!/bin/sh\nexit 101\n' | $SUDO tee /usr/sbin/policy-rc.d >/dev/null
  $SUDO chmod 755 /usr/sbin/policy-rc.d
  policy_created=1
fi
status=0
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null || status=$?
[ $policy_created -eq 1 ] && $SUDO rm -f /usr/sbin/policy-rc.d
if [ $status -ne 0 ]; then
  echo "bootstrap: apt-get install failed (exit $status)" >&2
  exit $status
fi
echo "bootstrap: done" >&2
