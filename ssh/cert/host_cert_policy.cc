#include "ssh/cert/host_cert_policy.h"

#include <string>
#include <utility>

#include "absl/strings/str_cat.h"

namespace sallyport::ssh::cert {

std::string_view CertTypeForHostKeyAlgorithm(std::string_view algorithm) {
  if (algorithm == kEd25519CertName) return kEd25519CertName;
  if (algorithm == kEcdsaP256CertName) return kEcdsaP256CertName;
  if (algorithm == "rsa-sha2-512-cert-v01@openssh.com" ||
      algorithm == "rsa-sha2-256-cert-v01@openssh.com") {
    return kRsaCertName;
  }
  return "";
}

absl::StatusOr<std::unique_ptr<HostCertificatePolicy>>
HostCertificatePolicy::Create(Options options) {
  if (options.trusted_cas.empty()) {
    return absl::InvalidArgumentError("host certificate policy needs a CA");
  }
  if (options.host_name.empty() ||
      options.host_name.find(',') != std::string::npos) {
    return absl::InvalidArgumentError(
        "host certificate policy needs a host name without ','");
  }
  if (options.clock == nullptr) options.clock = base::Clock::Real();
  return std::unique_ptr<HostCertificatePolicy>(
      new HostCertificatePolicy(std::move(options)));
}

std::vector<std::string> HostCertificatePolicy::Algorithms() const {
  return {std::string(kEd25519CertName), std::string(kEcdsaP256CertName),
          "rsa-sha2-512-cert-v01@openssh.com",
          "rsa-sha2-256-cert-v01@openssh.com"};
}

absl::StatusOr<crypto::PublicKey> HostCertificatePolicy::Check(
    std::string_view algorithm, wire::Bytes host_key_blob) {
  const std::string_view want_type = CertTypeForHostKeyAlgorithm(algorithm);
  if (want_type.empty()) {
    return absl::UnauthenticatedError(absl::StrCat(
        "host key algorithm \"", std::string(algorithm.substr(0, 64)),
        "\" was not offered (host certificates only)"));
  }
  auto cert = Certificate::Parse(host_key_blob);
  if (!cert.ok()) {
    return absl::UnauthenticatedError(
        absl::StrCat("server host key is not a usable host certificate: ",
                     cert.status().message()));
  }
  if (cert->type_name != want_type) {
    return absl::UnauthenticatedError(
        absl::StrCat("server sent a ", cert->type_name,
                     " for host key algorithm ", std::string(algorithm)));
  }
  VerifyOptions verify;
  verify.trusted_cas = options_.trusted_cas;
  verify.expected_type = CertType::kHost;
  verify.principal = options_.host_name;
  verify.now = options_.clock->Now();
  verify.revocation_check = options_.revocation_check;
  auto verified = VerifyCertificate(*cert, verify);
  if (!verified.ok()) return verified.status();
  return cert->key;
}

}  // namespace sallyport::ssh::cert
