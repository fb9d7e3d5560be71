#include "ssh/cert/cert_test_util.h"

#include <string>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "ssh/wire/writer.h"
#include "tests/harness/subprocess.h"

namespace sallyport::ssh::cert::testing {
namespace {

void WriteOptions(wire::Writer& w, const std::vector<CertOption>& options,
                  const std::vector<uint8_t>& trailer) {
  size_t mark = w.BeginLength();
  for (const CertOption& o : options) w.String(o.name).String(o.data);
  w.Raw(trailer);
  w.FinishLength(mark);
}

}  // namespace

std::vector<uint8_t> KeyFields(const crypto::PublicKey& key) {
  wire::Reader r(key.Blob());
  (void)r.ReadString();
  Bytes rest = r.Rest();
  return std::vector<uint8_t>(rest.begin(), rest.end());
}

std::vector<uint8_t> SignatureBlob(std::string_view algorithm, Bytes sig) {
  wire::Writer w;
  w.String(algorithm).String(sig);
  return w.Take();
}

RawCert RawCert::For(const crypto::PublicKey& key,
                     const crypto::PublicKey& ca) {
  RawCert c;
  c.type_name = std::string(CertTypeForPlainKeyType(key.TypeName()));
  c.nonce.assign(32, 0x5a);
  c.key_fields = KeyFields(key);
  c.serial = 7;
  c.type = 1;
  c.key_id = "alice@test";
  c.principals = {"alice"};
  c.valid_after = 1700000000;
  c.valid_before = 1700003600;
  c.extensions = {CertOption::Flag(kPermitPty)};
  c.signature_key = ca.Blob();
  return c;
}

RawCert RawCert::From(const Certificate& cert) {
  RawCert c;
  c.type_name = cert.type_name;
  c.nonce = cert.nonce;
  c.key_fields = KeyFields(cert.key);
  c.serial = cert.serial;
  c.type = static_cast<uint32_t>(cert.type);
  c.key_id = cert.key_id;
  c.principals = cert.principals;
  c.valid_after = cert.valid_after;
  c.valid_before = cert.valid_before;
  c.critical_options = cert.critical_options;
  c.extensions = cert.extensions;
  c.reserved = cert.reserved;
  c.signature_key = cert.signature_key_blob;
  return c;
}

std::vector<uint8_t> RawCert::ToBeSigned() const {
  wire::Writer w;
  w.String(type_name).String(nonce).Raw(key_fields);
  w.Uint64(serial).Uint32(type).String(key_id);
  size_t mark = w.BeginLength();
  for (const std::string& p : principals) w.String(p);
  w.Raw(principals_trailer);
  w.FinishLength(mark);
  w.Uint64(valid_after).Uint64(valid_before);
  WriteOptions(w, critical_options, critical_trailer);
  WriteOptions(w, extensions, extensions_trailer);
  w.String(reserved).String(signature_key);
  return w.Take();
}

std::vector<uint8_t> RawCert::WithSignature(Bytes signature_blob) const {
  std::vector<uint8_t> out = ToBeSigned();
  wire::Writer w(&out);
  w.String(signature_blob);
  return out;
}

std::vector<uint8_t> RawCert::SignWith(const crypto::PrivateKey& ca) const {
  auto sig = ca.Sign(ToBeSigned());
  EXPECT_TRUE(sig.ok()) << sig.status();
  if (!sig.ok()) return {};
  return WithSignature(*sig);
}

absl::StatusOr<Certificate> LoadCertificateFile(const std::string& path) {
  return Certificate::FromLine(sallyport::testing::ReadFileOrEmpty(path));
}

absl::StatusOr<crypto::PublicKey> LoadPublicKeyFile(const std::string& path) {
  return crypto::PublicKey::FromAuthorizedKeysLine(
      sallyport::testing::ReadFileOrEmpty(path));
}

absl::Status WriteCertificateFile(const std::string& path,
                                  const Certificate& cert) {
  return sallyport::testing::WriteFile(path, cert.ToLine("test") + "\n");
}

absl::StatusOr<std::string> SshKeygenList(const std::string& path) {
  sallyport::testing::RunOptions options;
  options.env["TZ"] = "UTC";
  auto r = sallyport::testing::RunCommandOk({"ssh-keygen", "-L", "-f", path},
                                            options);
  if (!r.ok()) return r.status();
  const size_t first_newline = r->out.find('\n');
  if (first_newline == std::string::npos) {
    return absl::InternalError("ssh-keygen -L printed one line: " + r->out);
  }
  return r->out.substr(first_newline + 1);
}

void CertFixture::SetUp() {
  auto ca = crypto::PrivateKey::GenerateEd25519();
  auto other = crypto::PrivateKey::GenerateEd25519();
  auto subject = crypto::PrivateKey::GenerateEd25519();
  ASSERT_TRUE(ca.ok() && other.ok() && subject.ok());
  ca_.emplace(*std::move(ca));
  other_ca_.emplace(*std::move(other));
  subject_.emplace(*std::move(subject));
}

VerifyOptions CertFixture::BaseOptions() const {
  VerifyOptions options;
  options.trusted_cas = {ca_->public_key()};
  options.expected_type = CertType::kUser;
  options.principal = "alice";
  options.now = absl::FromUnixSeconds(kNow);
  return options;
}

absl::StatusOr<CertificatePermissions> CertFixture::SignAndVerify(
    const RawCert& raw, const VerifyOptions& options) const {
  auto cert = SignAndParse(raw);
  EXPECT_TRUE(cert.ok()) << cert.status();
  if (!cert.ok()) return cert.status();
  return VerifyCertificate(*cert, options);
}

void ExpectRefused(const absl::Status& status, absl::StatusCode code,
                   std::string_view needle) {
  EXPECT_EQ(status.code(), code) << status;
  EXPECT_NE(std::string(status.message()).find(std::string(needle)),
            std::string::npos)
      << "\"" << needle << "\" not in: " << status;
}

}  // namespace sallyport::ssh::cert::testing
