// Certificate::Parse refusals (SECURITY.md "Certificates"). Each test breaks
// one field of an otherwise good certificate that is signed by the trusted
// CA, so it would parse and verify if that one rule were removed; each
// asserts the rule's own message.
#include <openssl/core_names.h>
#include <openssl/evp.h>

#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "ssh/cert/cert_test_util.h"
#include "ssh/cert/certificate.h"
#include "ssh/cert/verify.h"
#include "ssh/crypto/keys.h"
#include "ssh/wire/writer.h"

namespace sallyport::ssh::cert {
namespace {

using ::sallyport::ssh::cert::testing::CertFixture;
using ::sallyport::ssh::cert::testing::ExpectRefused;
using ::sallyport::ssh::cert::testing::KeyFields;
using ::sallyport::ssh::cert::testing::RawCert;
using ::sallyport::ssh::cert::testing::SignatureBlob;

constexpr auto kInvalid = absl::StatusCode::kInvalidArgument;

std::vector<uint8_t> Str(std::string_view s) {
  wire::Writer w;
  w.String(s);
  return w.Take();
}

class ParseRefusalTest : public CertFixture {
 protected:
  void ExpectParseRefused(const RawCert& raw, std::string_view needle) {
    ExpectRefused(SignAndParse(raw).status(), kInvalid, needle);
  }
};

TEST_F(ParseRefusalTest, BaseCertificateParsesAndVerifies) {
  auto cert = SignAndParse(Base());
  ASSERT_TRUE(cert.ok()) << cert.status();
  EXPECT_EQ(cert->key, subject_->public_key());
  EXPECT_TRUE(VerifyCertificate(*cert, BaseOptions()).ok());
}

TEST_F(ParseRefusalTest, EveryTruncationIsRefused) {
  const std::vector<uint8_t> blob = Base().SignWith(*ca_);
  ASSERT_TRUE(Certificate::Parse(blob).ok());
  for (size_t n = 0; n < blob.size(); ++n) {
    EXPECT_FALSE(Certificate::Parse(Bytes(blob).subspan(0, n)).ok()) << n;
  }
}

TEST_F(ParseRefusalTest, TrailingByteAfterSignatureIsRefused) {
  std::vector<uint8_t> blob = Base().SignWith(*ca_);
  blob.push_back(0);
  ExpectRefused(Certificate::Parse(blob).status(), kInvalid,
                "after the signature");
}

TEST_F(ParseRefusalTest, TrailingBytesInsidePackedFieldsAreRefused) {
  RawCert raw = Base();
  raw.principals_trailer = {0, 0, 0};  // half a length
  ExpectParseRefused(raw, "principal");

  raw = Base();
  raw.critical_trailer = Str("verify-required");  // a name without data
  ExpectParseRefused(raw, "critical option \"verify-required\" data");

  raw = Base();
  raw.extensions_trailer = {0};
  ExpectParseRefused(raw, "extension name");
}

TEST_F(ParseRefusalTest, MissingSignatureIsRefused) {
  // Everything up to the signature key, and no signature.
  ExpectRefused(Certificate::Parse(Base().ToBeSigned()).status(), kInvalid,
                "signature");
  // A signature blob with trailing bytes.
  auto sig = ca_->Sign(Base().ToBeSigned());
  ASSERT_TRUE(sig.ok());
  sig->push_back(0);
  ExpectRefused(Certificate::Parse(Base().WithSignature(*sig)).status(),
                kInvalid, "signature");
}

TEST_F(ParseRefusalTest, TypeOtherThanUserOrHostIsRefused) {
  for (uint32_t type : {0u, 3u, 0xffffffffu}) {
    RawCert raw = Base();
    raw.type = type;
    ExpectParseRefused(raw, "is neither user (1) nor host (2)");
  }
}

TEST_F(ParseRefusalTest, MoreThan256PrincipalsAreRefused) {
  RawCert raw = Base();
  for (int i = 0; i < 255; ++i) raw.principals.push_back(absl::StrCat("u", i));
  ASSERT_EQ(raw.principals.size(), 256u);
  EXPECT_TRUE(SignAndVerify(raw, BaseOptions()).ok());
  raw.principals.push_back("one-too-many");
  ExpectParseRefused(raw, "more than 256 principals");
}

TEST_F(ParseRefusalTest, PrincipalWithNulIsRefused) {
  RawCert raw = Base();
  raw.principals.push_back(std::string("root\0x", 6));
  ExpectParseRefused(raw, "principal contains a NUL byte");
}

TEST_F(ParseRefusalTest, KeyIdWithNulIsRefused) {
  RawCert raw = Base();
  raw.key_id = std::string("alice\0root", 10);
  ExpectParseRefused(raw, "key id");
}

TEST_F(ParseRefusalTest, DuplicatedOptionsAreRefused) {
  RawCert raw = Base();
  raw.extensions = {CertOption::Flag(kPermitPty), CertOption::Flag(kPermitPty)};
  ExpectParseRefused(raw, "extension \"permit-pty\" appears twice");

  raw = Base();
  raw.critical_options = {CertOption::WithValue(kForceCommand, "ls"),
                          CertOption::WithValue(kForceCommand, "id")};
  ExpectParseRefused(raw, "critical option \"force-command\" appears twice");
}

TEST_F(ParseRefusalTest, UnsortedOptionsAreRefused) {
  RawCert raw = Base();
  raw.extensions = {CertOption::Flag(kPermitPty),
                    CertOption::Flag(kPermitAgentForwarding)};
  ExpectParseRefused(raw, "out of order");
  // Sorted, the same extensions are fine.
  raw.extensions = {CertOption::Flag(kPermitAgentForwarding),
                    CertOption::Flag(kPermitPty)};
  EXPECT_TRUE(SignAndVerify(raw, BaseOptions()).ok());

  raw = Base();
  raw.critical_options = {CertOption::WithValue(kSourceAddress, "0.0.0.0/0"),
                          CertOption::WithValue(kForceCommand, "ls")};
  ExpectParseRefused(raw, "out of order");
}

TEST_F(ParseRefusalTest, OptionDataWithTrailingBytesIsRefused) {
  RawCert raw = Base();
  CertOption command = CertOption::WithValue(kForceCommand, "ls");
  raw.critical_options = {command};
  EXPECT_TRUE(SignAndVerify(raw, BaseOptions()).ok());
  command.data.push_back('!');
  raw.critical_options = {command};
  ExpectParseRefused(raw, "not exactly one string");

  raw = Base();
  CertOption login = CertOption::WithValue("login@example.com", "alice");
  raw.extensions.insert(raw.extensions.begin(), login);
  EXPECT_TRUE(SignAndVerify(raw, BaseOptions()).ok());
  raw.extensions[0].data.push_back(0);
  ExpectParseRefused(raw, "not exactly one string");

  // Data that is not even a string: "a" unwrapped.
  raw = Base();
  raw.critical_options = {CertOption{std::string(kForceCommand), {'a'}}};
  ExpectParseRefused(raw, "not exactly one string");
}

TEST_F(ParseRefusalTest, EmptyOptionNameIsRefused) {
  RawCert raw = Base();
  raw.extensions.insert(raw.extensions.begin(), CertOption::Flag(""));
  ExpectParseRefused(raw, "empty name");
}

TEST_F(ParseRefusalTest, Ed25519KeyOfWrongLengthIsRefused) {
  for (size_t n : {31u, 33u, 0u}) {
    RawCert raw = Base();
    std::vector<uint8_t> pk = KeyFields(subject_->public_key());
    // string pk: 4-byte length + 32 bytes.
    std::vector<uint8_t> bytes(pk.begin() + 4, pk.end());
    bytes.resize(n, 0x11);
    wire::Writer w;
    w.String(bytes);
    raw.key_fields = w.Take();
    ExpectParseRefused(raw, "certified key");
  }
}

// P-256 subject keys: point checks and curve-name checks.
class EcdsaParseRefusalTest : public ParseRefusalTest {
 protected:
  void SetUp() override {
    ParseRefusalTest::SetUp();
    auto key = crypto::PrivateKey::GenerateEcdsaP256();
    ASSERT_TRUE(key.ok());
    ecdsa_.emplace(*std::move(key));
    // key fields: string "nistp256", string Q.
    const std::vector<uint8_t> fields = KeyFields(ecdsa_->public_key());
    wire::Reader r(fields);
    auto curve = r.ReadString();
    auto q = r.ReadString();
    ASSERT_TRUE(curve.ok() && q.ok());
    point_.assign(q->begin(), q->end());
  }

  RawCert WithPoint(std::string_view curve, const std::vector<uint8_t>& q) {
    RawCert raw = RawCert::For(ecdsa_->public_key(), ca_->public_key());
    wire::Writer w;
    w.String(curve).String(q);
    raw.key_fields = w.Take();
    return raw;
  }

  std::optional<crypto::PrivateKey> ecdsa_;
  std::vector<uint8_t> point_;
};

TEST_F(EcdsaParseRefusalTest, GoodPointParses) {
  auto cert = SignAndParse(WithPoint("nistp256", point_));
  ASSERT_TRUE(cert.ok()) << cert.status();
  EXPECT_EQ(cert->type_name, kEcdsaP256CertName);
  EXPECT_EQ(cert->key, ecdsa_->public_key());
}

TEST_F(EcdsaParseRefusalTest, PointOffCurveIsRefused) {
  std::vector<uint8_t> q = point_;
  q.back() ^= 1;
  ExpectParseRefused(WithPoint("nistp256", q), "certified key");
}

TEST_F(EcdsaParseRefusalTest, PointAtInfinityIsRefused) {
  ExpectParseRefused(WithPoint("nistp256", {0x00}), "certified key");
}

TEST_F(EcdsaParseRefusalTest, CompressedPointIsRefused) {
  std::vector<uint8_t> q(point_.begin(), point_.begin() + 33);
  q[0] = 0x02 | (point_.back() & 1);
  ExpectParseRefused(WithPoint("nistp256", q), "certified key");
}

TEST_F(EcdsaParseRefusalTest, CurveNameMismatchIsRefused) {
  ExpectParseRefused(WithPoint("nistp384", point_), "certified key");
}

TEST_F(EcdsaParseRefusalTest, P384PointNamedNistp256IsRefused) {
  EVP_PKEY* raw_key = EVP_EC_gen("P-384");
  ASSERT_NE(raw_key, nullptr);
  std::vector<uint8_t> q(97);
  size_t len = 0;
  ASSERT_EQ(EVP_PKEY_get_octet_string_param(raw_key,
                                            OSSL_PKEY_PARAM_ENCODED_PUBLIC_KEY,
                                            q.data(), q.size(), &len),
            1);
  EVP_PKEY_free(raw_key);
  q.resize(len);
  ASSERT_EQ(q.size(), 97u);
  ExpectParseRefused(WithPoint("nistp256", q), "certified key");
  ExpectParseRefused(WithPoint("nistp384", q), "certified key");
}

TEST_F(ParseRefusalTest, UnsupportedCertificateTypesAreRefused) {
  RawCert raw = Base();
  raw.type_name = "ssh-dss-cert-v01@openssh.com";
  ExpectParseRefused(raw, "unsupported certificate type");
  raw.type_name = "ssh-ed25519-cert-v00@openssh.com";
  ExpectParseRefused(raw, "unsupported certificate type");
  raw.type_name = "ssh-ed25519";
  ExpectParseRefused(raw, "unsupported certificate type");
  // The name says RSA, the fields are Ed25519.
  raw.type_name = std::string(kRsaCertName);
  ExpectParseRefused(raw, "certificate");
}

TEST_F(ParseRefusalTest, CaKeyThatIsACertificateIsRefused) {
  // A certificate for the CA's own key, signed by the CA: what a confused
  // verifier comparing "the key inside" with its trusted key would accept.
  RawCert ca_cert = RawCert::For(ca_->public_key(), ca_->public_key());
  RawCert raw = Base();
  raw.signature_key = ca_cert.SignWith(*ca_);
  ASSERT_TRUE(Certificate::Parse(raw.signature_key).ok());
  ExpectParseRefused(raw, "signature key is itself a certificate");
}

TEST_F(ParseRefusalTest, SignatureAlgorithmNotFittingTheCaKeyIsRefused) {
  auto sig = ca_->Sign(Base().ToBeSigned());
  ASSERT_TRUE(sig.ok());
  wire::Reader r(*sig);
  (void)r.ReadString();
  auto raw_sig = r.ReadString();
  ASSERT_TRUE(raw_sig.ok());
  auto blob =
      Base().WithSignature(SignatureBlob("ecdsa-sha2-nistp256", *raw_sig));
  ExpectRefused(Certificate::Parse(blob).status(), kInvalid,
                "does not fit CA key type ssh-ed25519");
}

TEST_F(ParseRefusalTest, DisallowedSignatureAlgorithmsAreRefused) {
  for (const char* alg : {"ssh-rsa", "ssh-dss", "rsa-sha2-384", "none", ""}) {
    auto blob = Base().WithSignature(SignatureBlob(alg, Bytes()));
    ExpectRefused(Certificate::Parse(blob).status(), kInvalid,
                  "is not allowed");
  }
}

TEST_F(ParseRefusalTest, MalformedCaKeyIsRefused) {
  RawCert raw = Base();
  raw.signature_key.pop_back();  // Ed25519 CA key of 31 bytes, bad length
  ExpectParseRefused(raw, "signature key");
}

}  // namespace
}  // namespace sallyport::ssh::cert
