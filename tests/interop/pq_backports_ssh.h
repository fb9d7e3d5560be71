// The newest OpenSSH `ssh` from Debian trixie-backports (10.1 or later: it
// has WarnWeakCrypto and warns about key exchanges that are not
// post-quantum, which trixie's 10.0 does not), unpacked (not installed) into
// the trixie root (tests/harness/trixie_root.h) under
// /opt/sallyport-openssh-backports. It runs on the root's own libraries.
// Fetched once with the root's apt-get (separate lists and cache, so the
// root's package state is untouched) and cached inside the root; concurrent
// callers serialise on a lock file and the directory appears by an atomic
// rename. Needs http://deb.debian.org the first time.
#ifndef SALLYPORT_TESTS_INTEROP_PQ_BACKPORTS_SSH_H_
#define SALLYPORT_TESTS_INTEROP_PQ_BACKPORTS_SSH_H_

#include <string>

#include "absl/status/statusor.h"
#include "tests/harness/trixie_root.h"

namespace sallyport::testing {

// The path of the backports `ssh` as programs in the root see it.
absl::StatusOr<std::string> BackportsSsh(const TrixieRoot& root);

}  // namespace sallyport::testing

#endif  // SALLYPORT_TESTS_INTEROP_PQ_BACKPORTS_SSH_H_
