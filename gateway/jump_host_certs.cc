#include "gateway/jump_host_certs.h"

#include <memory>
#include <utility>

#include "absl/strings/str_cat.h"
#include "ssh/cert/host_cert_policy.h"

namespace sallyport::gateway {

std::optional<std::vector<uint8_t>> TargetCertificateCache::Get(
    const std::string& host, const std::string& key_fingerprint,
    absl::Time now) {
  absl::MutexLock lock(&mu_);
  auto it = entries_.find({host, key_fingerprint});
  if (it == entries_.end()) return std::nullopt;
  if (it->second.valid_before - options_.renew_before <= now) {
    entries_.erase(it);
    return std::nullopt;
  }
  return it->second.certificate;
}

void TargetCertificateCache::Put(const std::string& host,
                                 const std::string& key_fingerprint,
                                 std::vector<uint8_t> certificate,
                                 absl::Time valid_before) {
  if (options_.max_entries == 0) return;
  absl::MutexLock lock(&mu_);
  const std::pair<std::string, std::string> key(host, key_fingerprint);
  if (entries_.count(key) == 0 && entries_.size() >= options_.max_entries) {
    // Room: drop the entry that expires first.
    auto first = entries_.begin();
    for (auto it = entries_.begin(); it != entries_.end(); ++it) {
      if (it->second.valid_before < first->second.valid_before) first = it;
    }
    entries_.erase(first);
  }
  entries_[key] = Entry{std::move(certificate), valid_before};
}

size_t TargetCertificateCache::size() const {
  absl::MutexLock lock(&mu_);
  return entries_.size();
}

absl::Status CheckTargetCertificate(
    const ssh::cert::Certificate& certificate,
    const ssh::crypto::PublicKey& key, const std::string& host,
    std::vector<ssh::crypto::PublicKey> host_cas, const base::Clock* clock) {
  ssh::cert::HostCertificatePolicy::Options o;
  o.trusted_cas = std::move(host_cas);
  o.host_name = host;
  o.clock = clock;
  absl::StatusOr<std::unique_ptr<ssh::cert::HostCertificatePolicy>> policy =
      ssh::cert::HostCertificatePolicy::Create(std::move(o));
  if (!policy.ok()) return policy.status();
  // The host key algorithm that carries this certificate type.
  std::string algorithm;
  for (const std::string& a : (*policy)->Algorithms()) {
    if (ssh::cert::CertTypeForHostKeyAlgorithm(a) == certificate.type_name) {
      algorithm = a;
      break;
    }
  }
  if (algorithm.empty()) {
    return absl::UnauthenticatedError(
        absl::StrCat("a certificate of type ", certificate.type_name,
                     " cannot be a host certificate"));
  }
  absl::StatusOr<ssh::crypto::PublicKey> certified =
      (*policy)->Check(algorithm, certificate.blob);
  if (!certified.ok()) return certified.status();
  if (*certified != key) {
    return absl::PermissionDeniedError(
        "it certifies another key than the gateway's host key");
  }
  return absl::OkStatus();
}

}  // namespace sallyport::gateway
