// Test helpers for //ssh/cert: certificates as raw fields (so tests can
// build any blob, including malformed ones, and sign it with a real CA),
// and wrappers around the machine's ssh-keygen.
#ifndef SALLYPORT_SSH_CERT_CERT_TEST_UTIL_H_
#define SALLYPORT_SSH_CERT_CERT_TEST_UTIL_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "gtest/gtest.h"
#include "ssh/cert/certificate.h"
#include "ssh/cert/verify.h"
#include "ssh/crypto/keys.h"
#include "ssh/wire/reader.h"

namespace sallyport::ssh::cert::testing {

// Every field of a certificate as bytes, written exactly as given: no
// sorting, no validation.
struct RawCert {
  std::string type_name;
  std::vector<uint8_t> nonce;
  // The certified key's fields as they follow the nonce (e.g. string pk).
  std::vector<uint8_t> key_fields;
  uint64_t serial = 0;
  uint32_t type = 1;
  std::string key_id;
  std::vector<std::string> principals;
  // Raw bytes appended inside the packed principals string.
  std::vector<uint8_t> principals_trailer;
  uint64_t valid_after = 0;
  uint64_t valid_before = kForever;
  std::vector<CertOption> critical_options;
  std::vector<uint8_t> critical_trailer;
  std::vector<CertOption> extensions;
  std::vector<uint8_t> extensions_trailer;
  std::vector<uint8_t> reserved;
  std::vector<uint8_t> signature_key;

  // A user certificate for `key` signed by `ca` would have these fields:
  // principal "alice", permit-pty, valid [valid_after, valid_before).
  static RawCert For(const crypto::PublicKey& key, const crypto::PublicKey& ca);
  // The fields of a parsed certificate.
  static RawCert From(const Certificate& cert);

  // Everything the signature covers.
  std::vector<uint8_t> ToBeSigned() const;
  // ToBeSigned() + string(signature_blob).
  std::vector<uint8_t> WithSignature(Bytes signature_blob) const;
  // Signed by `ca` (which need not match signature_key). Aborts the test on
  // signing failure.
  std::vector<uint8_t> SignWith(const crypto::PrivateKey& ca) const;
};

// The key fields of a plain key (its blob without the type name).
std::vector<uint8_t> KeyFields(const crypto::PublicKey& key);

// An SSH signature blob: string algorithm, string signature.
std::vector<uint8_t> SignatureBlob(std::string_view algorithm, Bytes sig);

// Reads a "-cert.pub" file.
absl::StatusOr<Certificate> LoadCertificateFile(const std::string& path);
// Reads a ".pub" file.
absl::StatusOr<crypto::PublicKey> LoadPublicKeyFile(const std::string& path);
// Writes cert.ToLine() to `path`.
absl::Status WriteCertificateFile(const std::string& path,
                                  const Certificate& cert);

// `ssh-keygen -L -f path` with TZ=UTC, without its first ("path:") line.
absl::StatusOr<std::string> SshKeygenList(const std::string& path);

// A trusted Ed25519 CA, an untrusted one, a subject key, and a good user
// certificate (RawCert::For) that refusal tests break one field at a time.
class CertFixture : public ::testing::Test {
 protected:
  // Inside the base certificate's validity.
  static constexpr uint64_t kNow = 1700000100;

  void SetUp() override;

  // The good certificate's fields.
  RawCert Base() const {
    return RawCert::For(subject_->public_key(), ca_->public_key());
  }
  // Options under which Base() signed by ca_ verifies.
  VerifyOptions BaseOptions() const;

  // Signs raw with ca_ and parses.
  absl::StatusOr<Certificate> SignAndParse(const RawCert& raw) const {
    return Certificate::Parse(raw.SignWith(*ca_));
  }
  // Signs raw with ca_, parses (must succeed) and verifies.
  absl::StatusOr<CertificatePermissions> SignAndVerify(
      const RawCert& raw, const VerifyOptions& options) const;

  std::optional<crypto::PrivateKey> ca_;
  std::optional<crypto::PrivateKey> other_ca_;
  std::optional<crypto::PrivateKey> subject_;
};

// Expects `status` to have `code` and a message containing `needle`.
void ExpectRefused(const absl::Status& status, absl::StatusCode code,
                   std::string_view needle);

}  // namespace sallyport::ssh::cert::testing

#endif  // SALLYPORT_SSH_CERT_CERT_TEST_UTIL_H_
