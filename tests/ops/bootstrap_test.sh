#!/usr/bin/env bash
# The README's commands ("run it": deploy/quickstart.sh; "test it":
# deploy/bootstrap.sh && bazel test //...) on a fresh Debian 12 machine
# need every package they use to be installed by deploy/bootstrap.sh:
#  - every name in bootstrap's PACKAGES is a Debian package that is
#    installed here (CI runs bootstrap first): a misspelt or missing name
#    fails;
#  - every outside program the build, the tests, the quickstart and the
#    README run comes from a package in PACKAGES or from an Essential /
#    Priority: required package (on every Debian 12 install, also minimal
#    container images), or one a listed package depends on: a tool a test starts using without adding its
#    package to bootstrap fails here, not only on a fresh machine;
#  - the Python modules of the interop clients likewise (Debian's python3).
set -euo pipefail
R="${TEST_SRCDIR}/${TEST_WORKSPACE}"
BOOT="$R/deploy/bootstrap.sh"
fail() { echo "FAIL: $*" >&2; exit 1; }

eval "$(sed -n '/^PACKAGES=(/,/^)/p' "$BOOT")"
[ "${#PACKAGES[@]}" -gt 30 ] || fail "could not read PACKAGES from bootstrap.sh"
declare -A listed=() installed=()
while read -r p status; do
  [[ "$status" == "install ok installed" ]] && installed[$p]=1
done < <(dpkg-query -W -f='${Package} ${Status}\n' "${PACKAGES[@]}" 2>/dev/null || true)
for p in "${PACKAGES[@]}"; do
  listed[$p]=1
  [ -n "${installed[$p]:-}" ] \
    || fail "bootstrap's package '$p' is not installed (misspelt, or not in Debian 12?)"
done

# What the listed packages depend on (e.g. gcc from build-essential, psql
# from postgresql -> postgresql-15 -> postgresql-client-15), installed
# with them: the closure over Pre-Depends and Depends of installed
# packages (one dpkg-query per level).
declare -A deps=()
frontier=("${PACKAGES[@]}")
while [ "${#frontier[@]}" -gt 0 ]; do
  new=()
  for d in $(dpkg-query -W -f='${Pre-Depends}, ${Depends}\n' "${frontier[@]}" 2>/dev/null \
      | tr ',|' '\n\n' | sed 's/([^)]*)//; s/:any//; s/^ *//; s/ *$//' | sort -u); do
    [ -n "${deps[$d]:-}" ] && continue
    deps[$d]=1
    new+=("$d")
  done
  frontier=()
  [ "${#new[@]}" -eq 0 ] && break
  mapfile -t frontier < <(dpkg-query -W -f='${Package} ${Status}\n' "${new[@]}" 2>/dev/null \
    | awk '/install ok installed/ {print $1}')
done
# A package every Debian 12 install has.
base_package() {
  [ "$(dpkg-query -W -f='${Essential}' "$1" 2>/dev/null)" = yes ] \
    || [ "$(dpkg-query -W -f='${Priority}' "$1" 2>/dev/null)" = required ]
}
# check_file WHAT PATH: queued; check_all looks up every owner with one
# `dpkg -S` (it reads every package's file list: slow). /bin and /usr/bin
# are merged on Debian 12 and dpkg knows one of them; alternatives are
# symlinks (readlink -f).
WHATS=() PATHS=()
check_file() { WHATS+=("$1"); PATHS+=("$2"); }
candidates() {
  local f
  for f in "$1" "$(readlink -f "$1")"; do
    echo "$f"
    case "$f" in
      /usr/bin/*) echo "/bin/${f#/usr/bin/}" ;;
      /usr/sbin/*) echo "/sbin/${f#/usr/sbin/}" ;;
      /bin/*) echo "/usr/bin/${f#/bin/}" ;;
      /sbin/*) echo "/usr/sbin/${f#/sbin/}" ;;
    esac
  done
}
check_all() {
  declare -A owner=()
  local all=() i f pkg line
  for f in "${PATHS[@]}"; do mapfile -t -O "${#all[@]}" all < <(candidates "$f"); done
  while IFS= read -r line; do
    pkg="${line%%: *}"; f="${line#*: }"
    [[ "$pkg" == diversion* ]] && continue
    owner[$f]="${pkg%%,*}"
  done < <(dpkg -S "${all[@]}" 2>/dev/null || true)
  for i in "${!PATHS[@]}"; do
    pkg=""
    for f in $(candidates "${PATHS[$i]}"); do
      [ -n "${owner[$f]:-}" ] && { pkg="${owner[$f]}"; break; }
    done
    [ -n "$pkg" ] || fail "${WHATS[$i]} (${PATHS[$i]}) belongs to no Debian package"
    pkg="${pkg%%:*}"  # pkg:arch
    [ -n "${listed[$pkg]:-}" ] || [ -n "${deps[$pkg]:-}" ] || base_package "$pkg" \
      || fail "${WHATS[$i]} comes from '$pkg', which deploy/bootstrap.sh does not install"
  done
}

# Programs the build, tests (argv[0] of RunCommand / BackgroundProcess and
# the sh_tests), deploy/*.sh and the README run.
TOOLS=(
  bazel g++ gcc clang clang-format ld.lld protoc grpc_cpp_plugin python3 git
  ssh sshd ssh-keygen ssh-agent ssh-add scp sftp rsync tmux asciinema script
  setsid timeout pgrep pkill sqlite3 psql openssl curl plink pscp puttygen
  ansible ansible-playbook
  valgrind debootstrap chroot unshare mount systemd-analyze dpkg-deb dpkg-query
  help2man gzip install base64 awk sed grep mktemp readlink
)
for t in "${TOOLS[@]}"; do
  path="$(PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin command -v "$t")" \
    || fail "'$t' is not installed"
  check_file "'$t'" "$path"
done
# Files used by path.
check_file "sftp-server" /usr/lib/openssh/sftp-server
initdb="$(ls /usr/lib/postgresql/*/bin/initdb | head -n 1)"
check_file "initdb" "$initdb"
check_file "the gtest headers" /usr/include/gtest/gtest.h
check_file "libsystemd (sd_notify)" /usr/include/systemd/sd-daemon.h
check_file "libfaketime (tests/harness/fake_wall_clock.h)" /usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1

# Python modules of the interop and load clients (tests/harness/clients),
# imported by Debian's /usr/bin/python3.
for m in paramiko asyncssh; do
  f="$(/usr/bin/python3 -W ignore -c "import $m, os; print(os.path.dirname($m.__file__))" 2>/dev/null)" \
    || fail "/usr/bin/python3 cannot import $m"
  check_file "python module $m" "$f/__init__.py"
done
check_all
echo PASS
