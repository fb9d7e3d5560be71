// Host certificates for inventory names (recorded ProxyJump, issue 13):
// the gateway's inner SSH server presents, for `ssh -J gw web01`, its own
// host key certified by the host CA for "web01"
// (IssueHostCertificateForTarget, which certifies only the key the
// gateway enrolled with). Certificates are kept per (host, host
// key) until `renew_before` their expiry, so a connection normally costs no
// CA call. The cache is bounded (max_entries, kDefaultMaxEntries): when
// full, the entry that expires first makes room. Thread-safe.
#ifndef SALLYPORT_GATEWAY_JUMP_HOST_CERTS_H_
#define SALLYPORT_GATEWAY_JUMP_HOST_CERTS_H_

#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "base/clock.h"
#include "ssh/cert/certificate.h"
#include "ssh/crypto/keys.h"

namespace sallyport::gateway {

class TargetCertificateCache {
 public:
  static constexpr size_t kDefaultMaxEntries = 4096;
  static constexpr absl::Duration kDefaultRenewBefore = absl::Minutes(10);

  struct Options {
    // Hosts (× gateway host keys) kept at most.
    size_t max_entries = kDefaultMaxEntries;
    // A certificate is not handed out once it expires within this.
    absl::Duration renew_before = kDefaultRenewBefore;
  };

  TargetCertificateCache() : TargetCertificateCache(Options()) {}
  explicit TargetCertificateCache(Options options) : options_(options) {}

  // The certificate blob (wire format) for `host` and the gateway host key
  // with fingerprint `key_fingerprint`, if one is cached and valid beyond
  // now + renew_before.
  std::optional<std::vector<uint8_t>> Get(const std::string& host,
                                          const std::string& key_fingerprint,
                                          absl::Time now);
  // Keeps `certificate` (wire format) valid until `valid_before`.
  void Put(const std::string& host, const std::string& key_fingerprint,
           std::vector<uint8_t> certificate, absl::Time valid_before);
  size_t size() const;
  const Options& options() const { return options_; }

 private:
  struct Entry {
    std::vector<uint8_t> certificate;
    absl::Time valid_before;
  };
  const Options options_;
  mutable absl::Mutex mu_;
  std::map<std::pair<std::string, std::string>, Entry> entries_
      ABSL_GUARDED_BY(mu_);
};

// Whether `certificate` (from the CA's IssueHostCertificateForTarget) may
// be presented by the inner server of a recorded ProxyJump to `host`: a
// HOST certificate signed by one of `host_cas`, listing `host` as a
// principal, valid at `clock`'s now, without critical options (the checks
// of ssh::cert::HostCertificatePolicy, which the user's ssh makes too),
// and certifying `key`, the gateway's host key it was asked for.
// kPermissionDenied or kUnauthenticated saying what is wrong.
absl::Status CheckTargetCertificate(
    const ssh::cert::Certificate& certificate,
    const ssh::crypto::PublicKey& key, const std::string& host,
    std::vector<ssh::crypto::PublicKey> host_cas, const base::Clock* clock);

}  // namespace sallyport::gateway

#endif  // SALLYPORT_GATEWAY_JUMP_HOST_CERTS_H_
