// Public keys against the machine's real ssh-keygen: base64, fingerprints,
// sizes, blobs and authorized_keys lines, and every blob refusal in keys.h.
#include <openssl/evp.h>

#include <vector>

#include "gtest/gtest.h"
#include "ssh/crypto/keys.h"
#include "ssh/crypto/keys_test_util.h"

namespace sallyport::ssh::crypto {
namespace {

// ---------------------------------------------------------------- base64

TEST(Base64Test, Rfc4648Vectors) {
  const std::pair<std::string, std::string> kVectors[] = {
      {"", ""},
      {"f", "Zg=="},
      {"fo", "Zm8="},
      {"foo", "Zm9v"},
      {"foob", "Zm9vYg=="},
      {"fooba", "Zm9vYmE="},
      {"foobar", "Zm9vYmFy"}};
  for (const auto& [plain, encoded] : kVectors) {
    EXPECT_EQ(Base64Encode(ToBytes(plain)), encoded);
    auto d = Base64Decode(encoded);
    ASSERT_TRUE(d.ok()) << encoded << ": " << d.status();
    EXPECT_EQ(*d, ToBytes(plain));
    std::string unpadded(
        absl::StripSuffix(absl::StripSuffix(encoded, "="), "="));
    auto u = Base64Decode(unpadded);
    ASSERT_TRUE(u.ok()) << unpadded << ": " << u.status();
    EXPECT_EQ(*u, ToBytes(plain));
  }
  std::vector<uint8_t> all(256);
  for (int i = 0; i < 256; ++i) all[i] = static_cast<uint8_t>(i);
  EXPECT_EQ(*Base64Decode(Base64Encode(all)), all);
}

TEST(Base64Test, RefusesMalformedInput) {
  for (const std::string& bad : std::vector<std::string>{
           "Zg=", "Z", "Zm9vY", "Zg===", "Zh==", "Zm9=", "Zg==Zg==", "Zm 9v",
           "Zm9v\n", "Zm-v", "Zm_v", "=Zm9",
           "Zm9v=", std::string("Zm\0v", 4)}) {
    auto d = Base64Decode(bad);
    EXPECT_FALSE(d.ok()) << "accepted \"" << bad << "\"";
    if (!d.ok()) {
      EXPECT_EQ(d.status().code(), absl::StatusCode::kInvalidArgument);
    }
  }
}

// ---------------------------------------------------- public keys vs
// ssh-keygen

struct KeygenCase {
  const char* type;
  const char* bits;
  KeyType key_type;
  const char* name;
};

class PublicKeyInteropTest : public KeysTest,
                             public ::testing::WithParamInterface<KeygenCase> {
};

TEST_P(PublicKeyInteropTest, MatchesSshKeygen) {
  const KeygenCase& c = GetParam();
  KeyPair kp = Keygen("key", c.type, c.bits);
  auto key = PublicKey::FromAuthorizedKeysLine(kp.public_line);
  ASSERT_TRUE(key.ok()) << key.status() << " for " << kp.public_line;
  EXPECT_EQ(key->type(), c.key_type);
  EXPECT_EQ(key->TypeName(),
            kp.public_line.substr(0, kp.public_line.find(' ')));

  auto [bits, fingerprint] = SshKeygenFingerprint(kp.public_path);
  EXPECT_EQ(key->FingerprintSha256(), fingerprint);
  EXPECT_EQ(key->Bits(), bits);

  // The blob is the one in the file and round-trips.
  std::vector<uint8_t> blob = BlobOfLine(kp.public_line);
  EXPECT_EQ(key->Blob(), blob);
  auto again = PublicKey::FromBlob(key->Blob());
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(*again, *key);
  EXPECT_EQ(key->ToAuthorizedKeysLine("key"), kp.public_line);
  EXPECT_EQ(key->ToAuthorizedKeysLine(), TypeAndData(kp.public_line));

  // A trailing byte after a valid blob is refused.
  std::vector<uint8_t> longer = blob;
  longer.push_back(0);
  auto trailing = PublicKey::FromBlob(longer);
  ASSERT_FALSE(trailing.ok());
  EXPECT_EQ(trailing.status().code(), absl::StatusCode::kInvalidArgument);
  // Every truncation is refused.
  for (size_t n = 0; n < blob.size(); ++n) {
    EXPECT_FALSE(PublicKey::FromBlob(wire::Bytes(blob.data(), n)).ok()) << n;
  }
}

INSTANTIATE_TEST_SUITE_P(
    AllTypes, PublicKeyInteropTest,
    ::testing::Values(KeygenCase{"ed25519", "", KeyType::kEd25519, "ed25519"},
                      KeygenCase{"ecdsa", "256", KeyType::kEcdsaP256, "ecdsa"},
                      KeygenCase{"rsa", "2048", KeyType::kRsa, "rsa2048"},
                      KeygenCase{"rsa", "4096", KeyType::kRsa, "rsa4096"}),
    [](const ::testing::TestParamInfo<KeygenCase>& info) {
      return std::string(info.param.name);
    });

TEST_F(KeysTest, AuthorizedKeysLineForms) {
  KeyPair kp = Keygen("k", "ed25519");
  std::string data = TypeAndData(kp.public_line);
  auto plain = PublicKey::FromAuthorizedKeysLine(data);
  ASSERT_TRUE(plain.ok()) << plain.status();
  for (std::string line : {data + " a comment with spaces\n",
                           "  " + data + "\tx\r\n", data + "\n"}) {
    auto k = PublicKey::FromAuthorizedKeysLine(line);
    ASSERT_TRUE(k.ok()) << line << ": " << k.status();
    EXPECT_EQ(*k, *plain);
  }
  std::string b64 = data.substr(data.find(' ') + 1);
  for (std::string bad :
       {std::string(""), std::string("ssh-ed25519"), "ssh-rsa " + b64,
        "ecdsa-sha2-nistp256 " + b64, "no-pty " + data, "ssh-dss " + b64,
        "ssh-ed25519 " + b64 + "=", "ssh-ed25519 " + b64.substr(1),
        data + " comment\nssh-ed25519 " + b64}) {
    auto k = PublicKey::FromAuthorizedKeysLine(bad);
    EXPECT_FALSE(k.ok()) << "accepted: " << bad;
    if (!k.ok()) {
      EXPECT_EQ(k.status().code(), absl::StatusCode::kInvalidArgument);
    }
  }
}

// ------------------------------------------------------- blob refusals

absl::Status BlobStatus(const std::vector<uint8_t>& blob) {
  return PublicKey::FromBlob(blob).status();
}

TEST_F(KeysTest, RefusesRsaUnder2048Bits) {
  KeyPair kp = Keygen("small", "rsa", "1024");
  ExpectRefused(BlobStatus(BlobOfLine(kp.public_line)), "RSA-1024 blob");
  auto line = PublicKey::FromAuthorizedKeysLine(kp.public_line);
  ExpectRefused(line.status(), "RSA-1024 line");
  EXPECT_NE(line.status().message().find("2048"), std::string::npos)
      << line.status();
}

TEST_F(KeysTest, RefusesBadRsaExponentsAndModuli) {
  KeyPair kp = Keygen("rsa", "rsa", "2048");
  const std::vector<uint8_t> blob = BlobOfLine(kp.public_line);
  wire::Reader r(blob);
  ASSERT_TRUE(r.ReadString().ok());
  auto e = *r.ReadMpint();
  auto n = *r.ReadMpint();
  auto build = [](wire::Bytes e, wire::Bytes n) {
    wire::Writer w;
    w.String("ssh-rsa").Mpint(e).Mpint(n);
    return w.Take();
  };
  ASSERT_TRUE(BlobStatus(build(e, n)).ok());
  const uint8_t kTwo[] = {2}, kOne[] = {1}, kEven[] = {1, 0, 0};
  ExpectRefused(BlobStatus(build(kTwo, n)), "e = 2");
  ExpectRefused(BlobStatus(build(kOne, n)), "e = 1");
  ExpectRefused(BlobStatus(build({}, n)), "e = 0");
  ExpectRefused(BlobStatus(build(kEven, n)), "even e");
  std::vector<uint8_t> even_n(n.begin(), n.end());
  even_n.back() &= 0xfe;
  ExpectRefused(BlobStatus(build(e, even_n)), "even n");
  std::vector<uint8_t> huge_n(2049, 0xff);
  ExpectRefused(BlobStatus(build(e, huge_n)), "16392-bit n");
  std::vector<uint8_t> big_e(9, 0xff);
  ExpectRefused(BlobStatus(build(big_e, n)), "72-bit e");
}

TEST_F(KeysTest, RefusesEd25519OfWrongLength) {
  KeyPair kp = Keygen("ed", "ed25519");
  std::vector<uint8_t> blob = BlobOfLine(kp.public_line);
  wire::Reader r(blob);
  ASSERT_TRUE(r.ReadString().ok());
  auto pk = *r.ReadString();
  std::vector<uint8_t> pk31(pk.begin(), pk.end() - 1);
  std::vector<uint8_t> pk33(pk.begin(), pk.end());
  pk33.push_back(0);
  wire::Writer w31, w33, w0;
  w31.String("ssh-ed25519").String(pk31);
  w33.String("ssh-ed25519").String(pk33);
  w0.String("ssh-ed25519");
  ExpectRefused(BlobStatus(w31.Take()), "31-byte Ed25519 key");
  ExpectRefused(BlobStatus(w33.Take()), "33-byte Ed25519 key");
  ExpectRefused(BlobStatus(w0.Take()), "Ed25519 key without key");
}

TEST_F(KeysTest, ABlobParsedAgainGivesItsOwnKey) {
  // FromBlob reuses keys it parsed before (keys.cc ParsedKeys): the same
  // blob gives an equal key; a blob one bit away gives that blob's key.
  KeyPair kp = Keygen("ed", "ed25519");
  const std::vector<uint8_t> blob = BlobOfLine(kp.public_line);
  auto first = PublicKey::FromBlob(blob);
  auto again = PublicKey::FromBlob(blob);
  ASSERT_TRUE(first.ok() && again.ok());
  EXPECT_EQ(*again, *first);
  EXPECT_EQ(again->Blob(), blob);
  std::vector<uint8_t> near = blob;
  near.back() ^= 0x01;
  auto other = PublicKey::FromBlob(near);
  ASSERT_TRUE(other.ok()) << other.status();
  EXPECT_NE(*other, *first);
  EXPECT_EQ(other->Blob(), near);
  uint8_t raw[32];
  size_t len = sizeof raw;
  ASSERT_EQ(EVP_PKEY_get_raw_public_key(other->pkey(), raw, &len), 1);
  EXPECT_EQ(std::vector<uint8_t>(raw, raw + len),
            std::vector<uint8_t>(near.end() - 32, near.end()));
}

class EcdsaBlobTest : public KeysTest {
 protected:
  void SetUp() override {
    KeysTest::SetUp();
    KeyPair kp = Keygen("ec", "ecdsa", "256");
    const std::vector<uint8_t> blob = BlobOfLine(kp.public_line);
    wire::Reader r(blob);
    ASSERT_TRUE(r.ReadString().ok());
    ASSERT_TRUE(r.ReadString().ok());
    auto q = *r.ReadString();
    q_.assign(q.begin(), q.end());
    ASSERT_EQ(q_.size(), 65u);
    ASSERT_TRUE(BlobStatus(Blob("ecdsa-sha2-nistp256", "nistp256", q_)).ok());
  }
  static std::vector<uint8_t> Blob(std::string_view type,
                                   std::string_view curve,
                                   const std::vector<uint8_t>& q) {
    wire::Writer w;
    w.String(type).String(curve).String(q);
    return w.Take();
  }
  std::vector<uint8_t> q_;
};

TEST_F(EcdsaBlobTest, RefusesOffCurvePoint) {
  std::vector<uint8_t> q = q_;
  q[64] ^= 0x01;
  ExpectRefused(BlobStatus(Blob("ecdsa-sha2-nistp256", "nistp256", q)),
                "off-curve point");
}

TEST_F(EcdsaBlobTest, RefusesCompressedPoint) {
  std::vector<uint8_t> q(q_.begin(), q_.begin() + 33);
  q[0] = 0x02 | (q_[64] & 1);  // a correct compressed encoding of Q
  ExpectRefused(BlobStatus(Blob("ecdsa-sha2-nistp256", "nistp256", q)),
                "compressed point");
}

TEST_F(EcdsaBlobTest, RefusesHybridPoint) {
  std::vector<uint8_t> q = q_;
  q[0] = 0x06 | (q_[64] & 1);
  ExpectRefused(BlobStatus(Blob("ecdsa-sha2-nistp256", "nistp256", q)),
                "hybrid point");
}

TEST_F(EcdsaBlobTest, RefusesInfinity) {
  ExpectRefused(BlobStatus(Blob("ecdsa-sha2-nistp256", "nistp256", {0x00})),
                "point at infinity");
  std::vector<uint8_t> zeros(65, 0);
  zeros[0] = 0x04;
  ExpectRefused(BlobStatus(Blob("ecdsa-sha2-nistp256", "nistp256", zeros)),
                "(0, 0)");
}

TEST_F(EcdsaBlobTest, RefusesWrongCurveName) {
  ExpectRefused(BlobStatus(Blob("ecdsa-sha2-nistp256", "nistp384", q_)),
                "curve nistp384 under nistp256");
  ExpectRefused(BlobStatus(Blob("ecdsa-sha2-nistp256", "", q_)), "no curve");
}

TEST_F(EcdsaBlobTest, RefusesP384PointNamedNistp256) {
  KeyPair kp = Keygen("ec384", "ecdsa", "384");
  std::vector<uint8_t> blob384 = BlobOfLine(kp.public_line);
  ExpectRefused(BlobStatus(blob384), "ecdsa-sha2-nistp384 key");
  wire::Reader r(blob384);
  ASSERT_TRUE(r.ReadString().ok());
  ASSERT_TRUE(r.ReadString().ok());
  auto q = *r.ReadString();
  std::vector<uint8_t> q384(q.begin(), q.end());
  ASSERT_EQ(q384.size(), 97u);
  ExpectRefused(BlobStatus(Blob("ecdsa-sha2-nistp256", "nistp256", q384)),
                "P-384 point named nistp256");
  ExpectRefused(BlobStatus(Blob("ecdsa-sha2-nistp256", "nistp384", q384)),
                "P-384 point and curve named ecdsa-sha2-nistp256");
}

TEST_F(EcdsaBlobTest, RefusesTrailingByte) {
  std::vector<uint8_t> blob = Blob("ecdsa-sha2-nistp256", "nistp256", q_);
  blob.push_back(0);
  ExpectRefused(BlobStatus(blob), "trailing byte");
}

TEST_F(KeysTest, RefusesCertificatesAndUnknownTypes) {
  KeyPair ca = Keygen("ca", "ed25519");
  KeyPair user = Keygen("user", "ed25519");
  auto cert_path = ::sallyport::testing::SignWithSshKeygen(
      ca.private_path, user.public_path, "id", "alice");
  ASSERT_TRUE(cert_path.ok()) << cert_path.status();
  std::string cert_line = Trim(ReadFileOrEmpty(*cert_path));
  ASSERT_EQ(cert_line.rfind("ssh-ed25519-cert-v01@openssh.com ", 0), 0u);
  auto from_line = PublicKey::FromAuthorizedKeysLine(cert_line);
  ExpectRefused(from_line.status(), "certificate line");
  EXPECT_NE(from_line.status().message().find("certificate, not a plain key"),
            std::string::npos);
  auto from_blob = PublicKey::FromBlob(BlobOfLine(cert_line));
  ExpectRefused(from_blob.status(), "certificate blob");
  EXPECT_NE(from_blob.status().message().find("certificate, not a plain key"),
            std::string::npos);

  wire::Writer dss, empty;
  dss.String("ssh-dss").String("x");
  ExpectRefused(BlobStatus(dss.Take()), "ssh-dss");
  ExpectRefused(BlobStatus({}), "empty blob");
  empty.String("");
  ExpectRefused(BlobStatus(empty.Take()), "empty type");
}

}  // namespace
}  // namespace sallyport::ssh::crypto
