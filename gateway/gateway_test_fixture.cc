#include "gateway/gateway_test_fixture.h"

namespace sallyport::gateway {

absl::StatusOr<std::string> WriteEnrolledGatewayFiles(
    const ca::EnrolledGateway& gw, const std::string& ca_state_dir,
    const std::string& gw_dir) {
  if (mkdir(gw_dir.c_str(), 0700) != 0)
    return absl::InternalError(absl::StrCat("cannot create ", gw_dir));
  const std::vector<std::pair<std::string, std::string>> files = {
      {"ssh_host_ed25519_key", gw.host_key_pem},
      {"ssh_host_ed25519_key-cert.pub",
       gw.response.host_certificate().ssh_certificate() + "\n"},
      {"gateway_tls.key", gw.tls_key_pem},
      {"gateway_tls.crt", gw.response.tls_client_certificate_pem()}};
  for (const auto& [name, text] : files) {
    if (absl::Status st =
            testing::WriteFile(absl::StrCat(gw_dir, "/", name), text, 0600);
        !st.ok()) {
      return st;
    }
  }
  absl::StatusOr<std::string> pem =
      base::ReadTextFile(ca_state_dir + "/tls.crt");
  if (!pem.ok()) return pem.status();
  // The CA's TLS certificate as enrolment pins it.
  if (absl::Status st = testing::WriteFile(gw_dir + "/ca.pem", *pem); !st.ok())
    return st;
  return CertificatePemFingerprint(*pem);
}

}  // namespace sallyport::gateway
