// CheckUserauthProof: each test breaks one part of an otherwise good proof
// (real Ed25519 and P-256 keys and signatures), so every rule is shown to
// matter.
#include "ca/userauth_proof.h"

#include <cstdint>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "gtest/gtest.h"
#include "ssh/auth/signed_data.h"
#include "ssh/cert/sign.h"
#include "ssh/crypto/keys.h"
#include "ssh/wire/reader.h"

namespace sallyport::ca {
namespace {

using ssh::crypto::PrivateKey;

std::string Str(const std::vector<uint8_t>& b) {
  return std::string(b.begin(), b.end());
}

class UserauthProofTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ca_ = *PrivateKey::GenerateEd25519();
    user_key_ = *PrivateKey::GenerateEd25519();
    cert_ = Certify(user_key_);
  }

  ssh::cert::Certificate Certify(const PrivateKey& key) {
    ssh::cert::CertificateRequest r;
    r.public_key = key.public_key();
    r.serial = 7;
    r.key_id = "alice";
    r.principals = {"root"};
    r.valid_after = 1;
    r.valid_before = ssh::cert::kForever;
    absl::StatusOr<ssh::cert::Certificate> c =
        ssh::cert::SignCertificate(r, ca_);
    EXPECT_TRUE(c.ok()) << c.status();
    return *c;
  }

  std::vector<uint8_t> Data(std::string_view user,
                            std::string_view service = "ssh-connection",
                            std::string_view algorithm = "",
                            const ssh::cert::Certificate* cert = nullptr) {
    if (cert == nullptr) cert = &cert_;
    const std::vector<uint8_t> session_id(32, 0xab);
    return ssh::auth::SignedData(
        session_id, user, service,
        algorithm.empty() ? std::string_view(cert->type_name) : algorithm,
        cert->blob);
  }
  std::string Sign(const std::vector<uint8_t>& data, const PrivateKey& key) {
    absl::StatusOr<std::vector<uint8_t>> sig = key.Sign(data);
    EXPECT_TRUE(sig.ok()) << sig.status();
    return Str(*sig);
  }
  absl::Status Check(const std::vector<uint8_t>& data,
                     const std::string& signature,
                     const ssh::cert::Certificate* cert = nullptr) {
    return CheckUserauthProof(Str(data), signature,
                              cert == nullptr ? cert_ : *cert, "root", "web01");
  }
  static void ExpectRefused(const absl::Status& st, std::string_view why) {
    EXPECT_EQ(st.code(), absl::StatusCode::kPermissionDenied) << st;
    EXPECT_TRUE(absl::StrContains(st.message(), std::string(why))) << st;
  }

  PrivateKey ca_ = *PrivateKey::GenerateEd25519();
  PrivateKey user_key_ = *PrivateKey::GenerateEd25519();
  ssh::cert::Certificate cert_{user_key_.public_key()};
};

TEST_F(UserauthProofTest, LoginPlusHostSignedByTheCertifiedKeyIsAccepted) {
  const std::vector<uint8_t> data = Data("root+web01");
  EXPECT_TRUE(Check(data, Sign(data, user_key_)).ok());
}

TEST_F(UserauthProofTest, TheLoginAloneIsAcceptedForAnInnerJumpLogin) {
  const std::vector<uint8_t> data = Data("root");
  EXPECT_TRUE(Check(data, Sign(data, user_key_)).ok());
}

TEST_F(UserauthProofTest, AnEcdsaCertificateWorksToo) {
  const PrivateKey key = *PrivateKey::GenerateEcdsaP256();
  const ssh::cert::Certificate cert = Certify(key);
  const std::vector<uint8_t> data =
      Data("root+web01", "ssh-connection", "", &cert);
  EXPECT_TRUE(Check(data, Sign(data, key), &cert).ok());
}

TEST_F(UserauthProofTest, NoProofIsRefused) {
  ExpectRefused(Check({}, ""), "carries none");
  const std::vector<uint8_t> data = Data("root+web01");
  ExpectRefused(Check(data, ""), "signature is missing");
}

TEST_F(UserauthProofTest, ASignatureByAnotherKeyIsRefused) {
  const std::vector<uint8_t> data = Data("root+web01");
  ExpectRefused(Check(data, Sign(data, *PrivateKey::GenerateEd25519())),
                "does not verify");
  // Nor by the CA, which signed the certificate.
  ExpectRefused(Check(data, Sign(data, ca_)), "does not verify");
}

TEST_F(UserauthProofTest, ASignatureOverOtherDataIsRefused) {
  const std::vector<uint8_t> data = Data("root+web01");
  const std::vector<uint8_t> other = Data("root+web02");
  ExpectRefused(Check(data, Sign(other, user_key_)), "does not verify");
}

TEST_F(UserauthProofTest, AProofForAnotherCertificateIsRefused) {
  // The user's own other certificate, properly signed: still not the one
  // in the request.
  const ssh::cert::Certificate other = Certify(user_key_);
  const std::vector<uint8_t> data =
      Data("root+web01", "ssh-connection", "", &other);
  ExpectRefused(Check(data, Sign(data, user_key_)), "another key");
}

TEST_F(UserauthProofTest, AProofForAnotherUserNameIsRefused) {
  for (std::string_view user :
       {"root+web02", "admin+web01", "admin", "root+web01 ", "", "web01"}) {
    const std::vector<uint8_t> data = Data(user);
    ExpectRefused(Check(data, Sign(data, user_key_)), "user name");
  }
}

TEST_F(UserauthProofTest, AnotherServiceIsRefused) {
  const std::vector<uint8_t> data = Data("root+web01", "ssh-userauth");
  ExpectRefused(Check(data, Sign(data, user_key_)), "service");
}

TEST_F(UserauthProofTest, AnAlgorithmForAnotherKeyTypeIsRefused) {
  for (std::string_view alg :
       {"ecdsa-sha2-nistp256-cert-v01@openssh.com", "ssh-ed25519",
        "rsa-sha2-256-cert-v01@openssh.com"}) {
    const std::vector<uint8_t> data = Data("root+web01", "ssh-connection", alg);
    ExpectRefused(Check(data, Sign(data, user_key_)), "algorithm");
  }
}

TEST_F(UserauthProofTest, MalformedSignedDataIsRefused) {
  const std::vector<uint8_t> good = Data("root+web01");
  // Trailing byte, cut short, another message number, FALSE: each refused
  // though signed by the right key.
  std::vector<uint8_t> trailing = good;
  trailing.push_back(0);
  ExpectRefused(Check(trailing, Sign(trailing, user_key_)), "trailing");
  std::vector<uint8_t> cut(good.begin(), good.end() - 1);
  ExpectRefused(Check(cut, Sign(cut, user_key_)), "key blob");
  std::vector<uint8_t> message = good;
  message[4 + 32] = 51;
  ExpectRefused(Check(message, Sign(message, user_key_)), "message number");
}

TEST_F(UserauthProofTest, ASignatureAtItsLimitIsParsedAndOneByteMoreIsNot) {
  const std::vector<uint8_t> data = Data("root+web01");
  ExpectRefused(Check(data, std::string(ssh::auth::kMaxSignatureBytes, 'x')),
                "does not verify");
  ExpectRefused(
      Check(data, std::string(ssh::auth::kMaxSignatureBytes + 1, 'x')),
      "longer than");
}

}  // namespace
}  // namespace sallyport::ca
