// VerifyCertificate refusals (SECURITY.md "Certificates"). Each test starts
// from a certificate that verifies and breaks exactly one rule, and asserts
// that rule's code and message; the order test checks that the checks run
// in the documented order.
#include <openssl/evp.h>
#include <openssl/rsa.h>

#include <algorithm>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "ssh/cert/cert_test_util.h"
#include "ssh/cert/certificate.h"
#include "ssh/cert/verify.h"
#include "ssh/crypto/keys.h"
#include "ssh/wire/writer.h"
#include "tests/harness/sshd_fixture.h"
#include "tests/harness/subprocess.h"
#include "tests/harness/temp_dir.h"

namespace sallyport::ssh::cert {
namespace {

using ::sallyport::ssh::cert::testing::CertFixture;
using ::sallyport::ssh::cert::testing::ExpectRefused;
using ::sallyport::ssh::cert::testing::LoadCertificateFile;
using ::sallyport::ssh::cert::testing::RawCert;
using ::sallyport::ssh::cert::testing::SignatureBlob;

constexpr auto kDenied = absl::StatusCode::kPermissionDenied;
constexpr auto kUnauthenticated = absl::StatusCode::kUnauthenticated;

class VerifyRefusalTest : public CertFixture {
 protected:
  absl::Status Verify(const RawCert& raw, const VerifyOptions& options) {
    return SignAndVerify(raw, options).status();
  }
  absl::Status Verify(const RawCert& raw) { return Verify(raw, BaseOptions()); }
};

TEST_F(VerifyRefusalTest, RefusalsNameKeyIdSerialAndCaFingerprint) {
  RawCert raw = Base();
  raw.signature_key = other_ca_->public_key().Blob();
  auto cert = Certificate::Parse(raw.SignWith(*other_ca_));
  ASSERT_TRUE(cert.ok()) << cert.status();
  ExpectRefused(VerifyCertificate(*cert, BaseOptions()).status(),
                kUnauthenticated,
                absl::StrCat("certificate \"alice@test\" serial 7 CA ",
                             other_ca_->public_key().FingerprintSha256(),
                             ": CA is not trusted"));
  raw = Base();
  raw.key_id = "evil\n\x1b[2J";  // escaped, not printed raw into logs
  raw.valid_before = 1700000001;
  ExpectRefused(
      Verify(raw), kDenied,
      absl::StrCat("certificate \"evil\\n\\x1b[2J\" serial 7 CA ",
                   ca_->public_key().FingerprintSha256(), ": expired"));
}

TEST_F(VerifyRefusalTest, WrongTypeIsRefused) {
  RawCert host = Base();
  host.type = 2;
  ExpectRefused(Verify(host), kDenied,
                "host certificate where a user certificate is required");
  VerifyOptions as_host = BaseOptions();
  as_host.expected_type = CertType::kHost;
  EXPECT_TRUE(Verify(host, as_host).ok());
  ExpectRefused(Verify(Base(), as_host), kDenied,
                "user certificate where a host certificate is required");
}

TEST_F(VerifyRefusalTest, UntrustedCaIsRefused) {
  RawCert raw = Base();
  raw.signature_key = other_ca_->public_key().Blob();
  auto cert = Certificate::Parse(raw.SignWith(*other_ca_));
  ASSERT_TRUE(cert.ok());
  ExpectRefused(VerifyCertificate(*cert, BaseOptions()).status(),
                kUnauthenticated, "CA is not trusted");
  VerifyOptions both = BaseOptions();
  both.trusted_cas.push_back(other_ca_->public_key());
  EXPECT_TRUE(VerifyCertificate(*cert, both).ok());
  VerifyOptions none = BaseOptions();
  none.trusted_cas.clear();
  ExpectRefused(VerifyCertificate(*cert, none).status(), kUnauthenticated,
                "CA is not trusted");
}

TEST_F(VerifyRefusalTest, CaIsComparedByFullBlobNotByTheKeyInside) {
  // Teleport CVE-2025-49825: a certificate-typed authority whose inner key
  // is the trusted CA. Parse refuses it; here we bypass Parse to show that
  // the trust check alone refuses it too.
  auto good = SignAndParse(Base());
  ASSERT_TRUE(good.ok());
  auto ca_cert = Certificate::Parse(
      RawCert::For(ca_->public_key(), ca_->public_key()).SignWith(*ca_));
  ASSERT_TRUE(ca_cert.ok());
  ASSERT_EQ(ca_cert->key, ca_->public_key());
  Certificate forged = *good;
  forged.signature_key_blob = ca_cert->blob;
  forged.signature_key.reset();
  forged.signed_length = forged.EncodeToBeSigned().size();
  auto sig = ca_->Sign(forged.EncodeToBeSigned());
  ASSERT_TRUE(sig.ok());
  forged.signature = *sig;
  forged.blob = forged.Encode();
  ExpectRefused(VerifyCertificate(forged, BaseOptions()).status(),
                kUnauthenticated, "CA is not trusted");
}

TEST_F(VerifyRefusalTest, BadSignatureIsRefused) {
  std::vector<uint8_t> blob = Base().SignWith(*ca_);
  // A byte of the signed part: the key id "alice@test" becomes "blice@test".
  std::vector<uint8_t> signed_flip = blob;
  const std::string key_id = "alice@test";
  auto at = std::search(signed_flip.begin(), signed_flip.end(), key_id.begin(),
                        key_id.end());
  ASSERT_NE(at, signed_flip.end());
  *at ^= 0x03;
  auto cert = Certificate::Parse(signed_flip);
  ASSERT_TRUE(cert.ok()) << cert.status();
  EXPECT_EQ(cert->key_id, "blice@test");
  ExpectRefused(VerifyCertificate(*cert, BaseOptions()).status(),
                kUnauthenticated, "signature does not verify");

  // A byte of the signature itself (its last byte).
  std::vector<uint8_t> sig_flip = blob;
  sig_flip.back() ^= 0x01;
  cert = Certificate::Parse(sig_flip);
  ASSERT_TRUE(cert.ok()) << cert.status();
  ExpectRefused(VerifyCertificate(*cert, BaseOptions()).status(),
                kUnauthenticated, "signature does not verify");

  // Signed by another key but naming the trusted CA.
  cert = Certificate::Parse(Base().SignWith(*other_ca_));
  ASSERT_TRUE(cert.ok()) << cert.status();
  ExpectRefused(VerifyCertificate(*cert, BaseOptions()).status(),
                kUnauthenticated, "signature does not verify");
}

TEST_F(VerifyRefusalTest, AVerifiedSignatureDoesNotVouchForAChangedOne) {
  // CheckSignature remembers signatures that verified (verify.cc): a
  // certificate checked once must not let an altered copy through.
  const std::vector<uint8_t> blob = Base().SignWith(*ca_);
  auto good = Certificate::Parse(blob);
  ASSERT_TRUE(good.ok()) << good.status();
  ASSERT_TRUE(VerifyCertificate(*good, BaseOptions()).ok());
  ASSERT_TRUE(VerifyCertificate(*good, BaseOptions()).ok());  // remembered

  std::vector<uint8_t> sig_flip = blob;
  sig_flip.back() ^= 0x01;
  auto cert = Certificate::Parse(sig_flip);
  ASSERT_TRUE(cert.ok()) << cert.status();
  ExpectRefused(VerifyCertificate(*cert, BaseOptions()).status(),
                kUnauthenticated, "signature does not verify");

  // The same signature over another serial.
  Certificate changed = *good;
  changed.serial = good->serial + 1;
  changed.signed_length = changed.EncodeToBeSigned().size();
  changed.blob = changed.Encode();
  ExpectRefused(VerifyCertificate(changed, BaseOptions()).status(),
                kUnauthenticated, "signature does not verify");

  // The remembered signature under another trusted CA key is checked again.
  Certificate other = *good;
  other.signature_key_blob = other_ca_->public_key().Blob();
  other.signature_key = other_ca_->public_key();
  other.signed_length = other.EncodeToBeSigned().size();
  other.blob = other.Encode();
  VerifyOptions both = BaseOptions();
  both.trusted_cas.push_back(other_ca_->public_key());
  ExpectRefused(VerifyCertificate(other, both).status(), kUnauthenticated,
                "signature does not verify");
  EXPECT_TRUE(VerifyCertificate(*good, BaseOptions()).ok());
}

// The offset just past the signature key of an Ed25519-subject certificate.
size_t SignedLength(Bytes blob) {
  wire::Reader r(blob);
  for (int i = 0; i < 3; ++i) (void)r.ReadString();  // type, nonce, pk
  (void)r.ReadUint64();
  (void)r.ReadUint32();
  (void)r.ReadString();  // key id
  (void)r.ReadString();  // principals
  (void)r.ReadUint64();
  (void)r.ReadUint64();
  for (int i = 0; i < 4; ++i) (void)r.ReadString();  // crit, ext, res, ca
  return r.position();
}

TEST_F(VerifyRefusalTest, SshRsaSha1CaSignatureIsRefused) {
  auto dir = sallyport::testing::TempDir::Create("certsha1");
  ASSERT_TRUE(dir.ok());
  auto ca = sallyport::testing::GenerateKey(dir->path(), "rsa_ca", "rsa");
  auto user = sallyport::testing::GenerateKey(dir->path(), "user", "ed25519");
  ASSERT_TRUE(ca.ok() && user.ok());
  auto path = sallyport::testing::SignWithSshKeygen(
      ca->private_path, user->public_path, "sha1", "alice", "-5m:+1h", false,
      {"-t", "ssh-rsa"});
  ASSERT_TRUE(path.ok()) << path.status();
  const std::string line = sallyport::testing::ReadFileOrEmpty(*path);
  ExpectRefused(Certificate::FromLine(line).status(),
                absl::StatusCode::kInvalidArgument,
                "CA signature algorithm \"ssh-rsa\" is not allowed");

  // Bypass Parse: the same certificate with its real ssh-rsa signature.
  const size_t space = line.find(' ');
  auto blob = crypto::Base64Decode(
      line.substr(space + 1, line.find(' ', space + 1) - space - 1));
  ASSERT_TRUE(blob.ok());
  const size_t signed_length = SignedLength(*blob);
  wire::Reader sr(Bytes(*blob).subspan(signed_length));
  auto sha1_sig_blob = sr.ReadString();
  ASSERT_TRUE(sha1_sig_blob.ok());
  // A twin with a placeholder rsa-sha2-512 signature parses.
  std::vector<uint8_t> twin(blob->begin(), blob->begin() + signed_length);
  wire::Writer(&twin).String(
      SignatureBlob("rsa-sha2-512", std::vector<uint8_t>(256, 1)));
  auto cert = Certificate::Parse(twin);
  ASSERT_TRUE(cert.ok()) << cert.status();
  ASSERT_TRUE(cert->signature_key.has_value());

  // The SHA-1 signature is genuine: OpenSSL verifies it over the signed
  // bytes, so only the algorithm rule stands between it and acceptance.
  wire::Reader inner(*sha1_sig_blob);
  ASSERT_EQ(*inner.ReadStringView(), "ssh-rsa");
  auto raw_sig = inner.ReadString();
  ASSERT_TRUE(raw_sig.ok());
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  EVP_PKEY_CTX* pctx = nullptr;
  ASSERT_EQ(EVP_DigestVerifyInit(ctx, &pctx, EVP_sha1(), nullptr,
                                 cert->signature_key->pkey()),
            1);
  ASSERT_EQ(EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PADDING), 1);
  EXPECT_EQ(
      EVP_DigestVerify(ctx, raw_sig->data(), raw_sig->size(),
                       cert->SignedData().data(), cert->SignedData().size()),
      1);
  EVP_MD_CTX_free(ctx);

  cert->signature.assign(sha1_sig_blob->begin(), sha1_sig_blob->end());
  cert->signature_algorithm = "ssh-rsa";
  cert->blob = cert->Encode();
  ASSERT_EQ(cert->blob, *blob);
  VerifyOptions options = BaseOptions();
  options.trusted_cas = {*cert->signature_key};
  options.now = absl::Now();
  ExpectRefused(VerifyCertificate(*cert, options).status(), kUnauthenticated,
                "CA signature algorithm \"ssh-rsa\" is not allowed");
}

TEST_F(VerifyRefusalTest, ValidityBoundaries) {
  const RawCert raw = Base();  // valid [1700000000, 1700003600)
  VerifyOptions options = BaseOptions();
  options.now = absl::FromUnixSeconds(1700000000 - 1);
  ExpectRefused(Verify(raw, options), kDenied, "not yet valid");
  options.now = absl::FromUnixSeconds(1700000000);
  EXPECT_TRUE(Verify(raw, options).ok());
  options.now = absl::FromUnixSeconds(1700003600 - 1) + absl::Milliseconds(999);
  EXPECT_TRUE(Verify(raw, options).ok());
  options.now = absl::FromUnixSeconds(1700003600);
  ExpectRefused(Verify(raw, options), kDenied, "expired");
  options.now = absl::FromUnixSeconds(-5);
  ExpectRefused(Verify(raw, options), kDenied, "not yet valid");
  // "forever" really is.
  RawCert forever = Base();
  forever.valid_after = 0;
  forever.valid_before = kForever;
  options.now = absl::InfiniteFuture();
  EXPECT_TRUE(Verify(forever, options).ok());
}

TEST_F(VerifyRefusalTest, PrincipalMustBeListedExactly) {
  VerifyOptions options = BaseOptions();
  for (const char* who : {"bob", "Alice", "alice ", "alic", "*", ""}) {
    options.principal = who;
    EXPECT_EQ(Verify(Base(), options).code(), kDenied) << who;
  }
  options.principal = "bob";
  ExpectRefused(Verify(Base(), options), kDenied,
                "principal \"bob\" is not listed");
  RawCert wildcard = Base();
  wildcard.principals = {"*", "al?ce"};
  options.principal = "alice";
  ExpectRefused(Verify(wildcard, options), kDenied, "is not listed");
}

TEST_F(VerifyRefusalTest, APrincipalNotListedNamesTheListedOnes) {
  // What the certificate does list, escaped, at most 8 of them.
  RawCert raw = Base();
  raw.principals = {"deploy", "www-data\x1b[2J"};
  VerifyOptions options = BaseOptions();
  options.principal = "root";
  ExpectRefused(Verify(raw, options), kDenied,
                "principal \"root\" is not listed (the certificate lists "
                "\"deploy\", \"www-data\\x1b[2J\")");
  raw.principals.clear();
  for (int i = 0; i < 10; ++i) raw.principals.push_back(absl::StrCat("p", i));
  ExpectRefused(Verify(raw, options), kDenied, "\"p6\", \"p7\" and 2 more)");
}

TEST_F(VerifyRefusalTest, PrincipalsAreNeverSplitOnCommas) {
  RawCert raw = Base();
  raw.principals = {"alice,root"};
  VerifyOptions options = BaseOptions();
  for (const char* who : {"root", "alice"}) {
    options.principal = who;
    ExpectRefused(Verify(raw, options), kDenied, "is not listed");
  }
  options.principal = "alice,root";
  ExpectRefused(Verify(raw, options), kDenied, "is not a valid name");
  // Listed separately, both are authorised.
  raw.principals = {"alice", "root"};
  options.principal = "root";
  EXPECT_TRUE(Verify(raw, options).ok());
}

TEST_F(VerifyRefusalTest, EmptyPrincipalListIsRefused) {
  // ssh-keygen without -n, signed by our CA key.
  auto dir = sallyport::testing::TempDir::Create("certempty");
  ASSERT_TRUE(dir.ok());
  ASSERT_TRUE(ca_->WriteFile(dir->File("ca")).ok());
  auto user = sallyport::testing::GenerateKey(dir->path(), "user", "ed25519");
  ASSERT_TRUE(user.ok());
  auto path = sallyport::testing::SignWithSshKeygen(
      dir->File("ca"), user->public_path, "nobody", "", "-5m:+1h");
  ASSERT_TRUE(path.ok()) << path.status();
  auto cert = LoadCertificateFile(*path);
  ASSERT_TRUE(cert.ok()) << cert.status();
  EXPECT_TRUE(cert->principals.empty());
  VerifyOptions options = BaseOptions();
  options.now = absl::Now();
  ExpectRefused(VerifyCertificate(*cert, options).status(), kDenied,
                "certificate lists no principals");
  options.allow_empty_principals = true;
  EXPECT_TRUE(VerifyCertificate(*cert, options).ok());
}

TEST_F(VerifyRefusalTest, UnknownCriticalOptionIsRefused) {
  RawCert raw = Base();
  raw.critical_options = {CertOption::Flag("no-such-option@example.com")};
  ExpectRefused(Verify(raw), kDenied,
                "unknown critical option \"no-such-option@example.com\"");
  raw.critical_options = {
      CertOption::WithValue("restrict@example.com", "everything")};
  ExpectRefused(Verify(raw), kDenied, "unknown critical option");
  // The same names as extensions are ignored.
  raw = Base();
  raw.extensions.push_back(CertOption::Flag("restrict@example.com"));
  EXPECT_TRUE(Verify(raw).ok());
}

TEST_F(VerifyRefusalTest, KnownCriticalOptionsMustBeWellFormed) {
  RawCert raw = Base();
  raw.critical_options = {CertOption::Flag(kForceCommand)};
  ExpectRefused(Verify(raw), kDenied, "force-command has no command");
  raw.critical_options = {CertOption::WithValue(kForceCommand, "")};
  ExpectRefused(Verify(raw), kDenied, "force-command has no command");
  raw.critical_options = {
      CertOption::WithValue(kForceCommand, std::string("ls\0-la", 6))};
  ExpectRefused(Verify(raw), kDenied, "force-command has no command");
  raw.critical_options = {CertOption::WithValue(kVerifyRequired, "yes")};
  ExpectRefused(Verify(raw), kDenied, "verify-required has data");
  raw.critical_options = {CertOption::Flag(kSourceAddress)};
  ExpectRefused(Verify(raw), kDenied, "source-address has no value");
}

TEST_F(VerifyRefusalTest, HostCertificateWithAnyCriticalOptionIsRefused) {
  RawCert raw = Base();
  raw.type = 2;
  VerifyOptions options = BaseOptions();
  options.expected_type = CertType::kHost;
  EXPECT_TRUE(Verify(raw, options).ok());
  raw.critical_options = {CertOption::Flag(kVerifyRequired)};
  ExpectRefused(Verify(raw, options), kDenied,
                "host certificate has critical option \"verify-required\"");
}

TEST_F(VerifyRefusalTest, ExtensionsAbsentMeansDeniedAndFlagsCarryNoData) {
  RawCert raw = Base();
  raw.extensions.clear();
  auto none = SignAndVerify(raw, BaseOptions());
  ASSERT_TRUE(none.ok());
  EXPECT_FALSE(none->permit_pty || none->permit_port_forwarding ||
               none->permit_agent_forwarding || none->permit_x11_forwarding ||
               none->permit_user_rc);
  raw.extensions = {CertOption::WithValue(kPermitPty, "yes")};
  ExpectRefused(Verify(raw), kDenied, "extension \"permit-pty\" carries data");
  // Unknown extensions are kept, with their data.
  raw.extensions = {CertOption::WithValue("login@github.com", "octocat"),
                    CertOption::Flag(kPermitX11Forwarding)};
  auto kept = SignAndVerify(raw, BaseOptions());
  ASSERT_TRUE(kept.ok()) << kept.status();
  EXPECT_TRUE(kept->permit_x11_forwarding);
  ASSERT_EQ(kept->other_extensions.size(), 1u);
  EXPECT_EQ(*kept->other_extensions[0].Value(), "octocat");
}

TEST_F(VerifyRefusalTest, SourceAddressIsCheckedAgainstThePeer) {
  RawCert raw = Base();
  raw.critical_options = {CertOption::WithValue(
      kSourceAddress, "192.0.2.0/24,198.51.100.7,2001:db8:1::/48")};
  VerifyOptions options = BaseOptions();
  for (const char* ok :
       {"192.0.2.1", "192.0.2.255", "198.51.100.7", "2001:db8:1::1",
        "2001:db8:1:ffff::9", "::ffff:192.0.2.9"}) {
    options.source_address = ok;
    auto permissions = SignAndVerify(raw, options);
    EXPECT_TRUE(permissions.ok()) << ok << " " << permissions.status();
  }
  for (const char* bad :
       {"192.0.3.1", "198.51.100.8", "2001:db8:2::1", "10.0.0.1", "::1"}) {
    options.source_address = bad;
    ExpectRefused(Verify(raw, options), kDenied, "is not in");
  }
  options.source_address = "not-an-address";
  ExpectRefused(Verify(raw, options), kDenied, "source-address");
  options.source_address.reset();
  ExpectRefused(Verify(raw, options), kDenied, "peer address unknown");
  // A list that does not parse refuses whatever the peer.
  raw.critical_options = {CertOption::WithValue(kSourceAddress, "10.0.0.1/8")};
  options.source_address = "10.0.0.1";
  ExpectRefused(Verify(raw, options), kDenied, "below the prefix length");
}

TEST_F(VerifyRefusalTest, RevocationHookErrorRefuses) {
  VerifyOptions options = BaseOptions();
  int calls = 0;
  options.revocation_check = [&](const Certificate& cert) {
    ++calls;
    EXPECT_EQ(cert.serial, 7u);
    return absl::OkStatus();
  };
  EXPECT_TRUE(Verify(Base(), options).ok());
  EXPECT_EQ(calls, 1);
  options.revocation_check = [](const Certificate&) {
    return absl::PermissionDeniedError("serial 7 is revoked");
  };
  ExpectRefused(Verify(Base(), options), kDenied, "serial 7 is revoked");
  // The revocation list could not be read: fail closed.
  options.revocation_check = [](const Certificate&) {
    return absl::UnavailableError("revocation store down");
  };
  ExpectRefused(Verify(Base(), options), kDenied, "revocation store down");
}

TEST_F(VerifyRefusalTest, FieldsChangedAfterParsingAreRefused) {
  auto cert = SignAndParse(Base());
  ASSERT_TRUE(cert.ok());
  cert->principals.push_back("root");
  VerifyOptions options = BaseOptions();
  options.principal = "root";
  ExpectRefused(VerifyCertificate(*cert, options).status(),
                absl::StatusCode::kInvalidArgument,
                "fields do not match the certificate blob");
  // The signed length must cover exactly everything before the signature.
  cert = SignAndParse(Base());
  ASSERT_TRUE(cert.ok());
  cert->signed_length -= 1;
  ExpectRefused(VerifyCertificate(*cert, BaseOptions()).status(),
                absl::StatusCode::kInvalidArgument,
                "fields do not match the certificate blob");
}

TEST_F(VerifyRefusalTest, ChecksRunInTheDocumentedOrder) {
  // Each certificate breaks two adjacent rules; the earlier one is reported.
  VerifyOptions options = BaseOptions();
  RawCert raw = Base();
  raw.type = 2;  // type, and untrusted CA
  raw.signature_key = other_ca_->public_key().Blob();
  auto cert = Certificate::Parse(raw.SignWith(*other_ca_));
  ASSERT_TRUE(cert.ok());
  ExpectRefused(VerifyCertificate(*cert, options).status(), kUnauthenticated,
                "CA is not trusted");

  raw = Base();
  raw.type = 2;  // type, and signature
  cert = Certificate::Parse(raw.SignWith(*other_ca_));
  ASSERT_TRUE(cert.ok());
  ExpectRefused(VerifyCertificate(*cert, options).status(), kDenied,
                "host certificate where a user certificate");

  raw = Base();
  raw.valid_before = 1;  // signature, and validity
  cert = Certificate::Parse(raw.SignWith(*other_ca_));
  ASSERT_TRUE(cert.ok());
  ExpectRefused(VerifyCertificate(*cert, options).status(), kUnauthenticated,
                "signature does not verify");

  raw = Base();
  raw.valid_before = 1;  // validity, and principal
  raw.principals = {"bob"};
  ExpectRefused(Verify(raw), kDenied, "expired");

  raw = Base();
  raw.principals = {"bob"};  // principal, and critical options
  raw.critical_options = {CertOption::Flag("x@example.com")};
  ExpectRefused(Verify(raw), kDenied, "is not listed");

  raw = Base();
  raw.critical_options = {CertOption::Flag("x@example.com")};  // and ext
  raw.extensions = {CertOption::WithValue(kPermitPty, "x")};
  ExpectRefused(Verify(raw), kDenied, "unknown critical option");

  options.revocation_check = [](const Certificate&) {
    return absl::PermissionDeniedError("revoked");
  };
  raw = Base();
  raw.extensions = {CertOption::WithValue(kPermitPty, "x")};  // and revoked
  ExpectRefused(Verify(raw, options), kDenied, "carries data");
}

}  // namespace
}  // namespace sallyport::ssh::cert
