// Fuzz target: certificate parsing and verification. The input is parsed as
// a certificate blob; whatever parses must re-encode to the same bytes,
// survive the "-cert.pub" line round trip and render, and then goes through
// VerifyCertificate against the fixed CA that signed the seed corpus (so
// mutations of the seeds reach the checks after the signature) and against
// its own CA. The input is also tried as a "-cert.pub" line. Any broken
// invariant aborts.
//
// The seeds in testdata/certificate_fuzz_corpus are certificates from
// `ssh-keygen -s` (Ed25519, ECDSA and RSA CAs and subject keys, user and
// host, with options), valid 2020-01-01..2040-01-01.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "ssh/cert/certificate.h"
#include "ssh/cert/render.h"
#include "ssh/cert/verify.h"
#include "ssh/crypto/keys.h"

namespace {

using sallyport::ssh::cert::Bytes;
using sallyport::ssh::cert::Certificate;
using sallyport::ssh::cert::CertificatePermissions;
using sallyport::ssh::cert::CertType;
using sallyport::ssh::cert::VerifyCertificate;
using sallyport::ssh::cert::VerifyOptions;
using sallyport::ssh::crypto::PublicKey;

// The Ed25519 CA that signed most seeds.
constexpr char kSeedCa[] =
    "ssh-ed25519 "
    "AAAAC3NzaC1lZDI1NTE5AAAAIJPUg+XkhUg6Gi2can+JEybDuUC8X4ci6p1JdnOc9eaS";

void Check(bool condition) {
  if (!condition) std::abort();
}

const PublicKey& SeedCa() {
  static const PublicKey* ca = [] {
    auto key = PublicKey::FromAuthorizedKeysLine(kSeedCa);
    Check(key.ok());
    return new PublicKey(*key);
  }();
  return *ca;
}

void CheckPermissions(const absl::StatusOr<CertificatePermissions>& result,
                      const Certificate& cert, const VerifyOptions& options) {
  if (!result.ok()) {
    const auto code = result.status().code();
    Check(code == absl::StatusCode::kUnauthenticated ||
          code == absl::StatusCode::kPermissionDenied);
    return;
  }
  // Whatever is accepted satisfies the rules.
  Check(cert.type == options.expected_type);
  Check(cert.valid_after <= 1900000000 && 1900000000 < cert.valid_before);
  bool listed = false;
  for (const auto& p : cert.principals) listed |= p == options.principal;
  Check(listed);
  if (cert.type == CertType::kHost) Check(cert.critical_options.empty());
  Check(cert.signature_key_blob == options.trusted_cas[0].Blob());
}

void Exercise(const Certificate& cert) {
  Check(cert.Encode() == cert.blob);
  Check(cert.EncodeToBeSigned().size() == cert.signed_length);
  auto again = Certificate::FromLine(cert.ToLine("fuzz"));
  Check(again.ok() && again->blob == cert.blob);
  Check(!sallyport::ssh::cert::Render(cert, absl::UTCTimeZone()).empty());

  for (CertType type : {CertType::kUser, CertType::kHost}) {
    VerifyOptions options;
    options.trusted_cas = {SeedCa()};
    options.expected_type = type;
    options.principal = type == CertType::kUser ? "alice" : "db1.internal";
    options.now = absl::FromUnixSeconds(1900000000);  // 2030
    options.source_address = "127.0.0.1";
    CheckPermissions(VerifyCertificate(cert, options), cert, options);
    if (cert.signature_key.has_value()) {
      options.trusted_cas = {*cert.signature_key};
      options.revocation_check = [](const Certificate&) {
        return absl::OkStatus();
      };
      CheckPermissions(VerifyCertificate(cert, options), cert, options);
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const uint8_t kEmpty = 0;
  const Bytes bytes(size == 0 ? &kEmpty : data, size);

  auto cert = Certificate::Parse(bytes);
  if (cert.ok()) {
    Check(cert->blob == std::vector<uint8_t>(bytes.begin(), bytes.end()));
    Exercise(*cert);
  } else {
    Check(cert.status().code() == absl::StatusCode::kInvalidArgument);
  }

  const std::string_view text(reinterpret_cast<const char*>(bytes.data()),
                              size);
  auto line = Certificate::FromLine(text);
  if (line.ok()) Exercise(*line);
  return 0;
}
