#include "ssh/examples/host_ca.h"

#include "ssh/cert/host_cert_policy.h"
#include "ssh/crypto/key_files.h"

namespace sallyport::ssh::examples {

absl::StatusOr<std::shared_ptr<transport::HostKeyPolicy>> MakeHostCaPolicy(
    const std::string& ca_file, const std::string& host_name) {
  auto cas = crypto::LoadPublicKeys(ca_file);
  if (!cas.ok()) return cas.status();
  cert::HostCertificatePolicy::Options o;
  o.trusted_cas = *cas;
  o.host_name = host_name;
  auto policy = cert::HostCertificatePolicy::Create(std::move(o));
  if (!policy.ok()) return policy.status();
  return std::shared_ptr<transport::HostKeyPolicy>(std::move(*policy));
}

}  // namespace sallyport::ssh::examples
