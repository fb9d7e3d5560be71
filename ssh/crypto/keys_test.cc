// Keys against the machine's real ssh-keygen (and, where ssh-keygen cannot
// produce the input, the openssl tool): fingerprints, sizes, blobs, private
// key files both ways, signatures, and every refusal in keys.h.
#include "ssh/crypto/keys.h"

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <sys/stat.h>

#include <algorithm>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "base/openssl_handles.h"
#include "gtest/gtest.h"
#include "ssh/wire/reader.h"
#include "ssh/wire/writer.h"
#include "tests/harness/sshd_fixture.h"
#include "tests/harness/subprocess.h"
#include "tests/harness/temp_dir.h"

namespace sallyport::ssh::crypto {
namespace {

using ::sallyport::testing::GenerateKey;
using ::sallyport::testing::KeyPair;
using ::sallyport::testing::ReadFileOrEmpty;
using ::sallyport::testing::RunCommand;
using ::sallyport::testing::RunCommandOk;
using ::sallyport::testing::TempDir;

std::vector<uint8_t> ToBytes(std::string_view s) {
  return std::vector<uint8_t>(s.begin(), s.end());
}

std::string Trim(const std::string& s) {
  return std::string(absl::StripAsciiWhitespace(s));
}

// "type base64 comment" → the decoded blob.
std::vector<uint8_t> BlobOfLine(const std::string& line) {
  std::vector<std::string> parts = absl::StrSplit(line, ' ');
  EXPECT_GE(parts.size(), 2u) << line;
  auto blob = Base64Decode(parts.size() > 1 ? parts[1] : "");
  EXPECT_TRUE(blob.ok()) << blob.status();
  return blob.ok() ? *blob : std::vector<uint8_t>();
}

// The first two fields of a key line ("type base64").
std::string TypeAndData(const std::string& line) {
  std::vector<std::string> parts = absl::StrSplit(line, ' ');
  if (parts.size() < 2) return line;
  return parts[0] + " " + parts[1];
}

std::vector<uint8_t> SigBlob(std::string_view alg, wire::Bytes sig) {
  wire::Writer w;
  w.String(alg).String(sig);
  return w.Take();
}

// The parts of a signature blob.
struct SigParts {
  std::string alg;
  std::vector<uint8_t> sig;
};
SigParts SplitSig(const std::vector<uint8_t>& blob) {
  wire::Reader r(blob);
  SigParts p;
  p.alg = std::string(*r.ReadStringView());
  auto sig = *r.ReadString();
  p.sig.assign(sig.begin(), sig.end());
  return p;
}

// Key material through OpenSSL directly, for inputs ssh-keygen cannot sign.
base::EvpPkeyPtr LoadPemWithOpenSsl(const std::string& text) {
  base::BioPtr bio(BIO_new_mem_buf(text.data(), static_cast<int>(text.size())));
  return base::EvpPkeyPtr(
      PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr));
}

std::vector<uint8_t> OpenSslSign(EVP_PKEY* pkey, const char* md,
                                 wire::Bytes data) {
  base::EvpMdCtxPtr ctx(EVP_MD_CTX_new());
  EVP_PKEY_CTX* pctx = nullptr;
  EXPECT_EQ(EVP_DigestSignInit_ex(ctx.get(), &pctx, md, nullptr, nullptr, pkey,
                                  nullptr),
            1);
  if (EVP_PKEY_get_base_id(pkey) == EVP_PKEY_RSA) {
    EXPECT_EQ(EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PADDING), 1);
  }
  std::vector<uint8_t> sig(static_cast<size_t>(EVP_PKEY_get_size(pkey)));
  size_t len = sig.size();
  EXPECT_EQ(
      EVP_DigestSign(ctx.get(), sig.data(), &len, data.data(), data.size()), 1);
  sig.resize(len);
  return sig;
}

// `ssh-keygen -l -f pub` → {bits, "SHA256:..."}.
std::pair<int, std::string> SshKeygenFingerprint(const std::string& pub) {
  auto r = RunCommandOk({"ssh-keygen", "-l", "-f", pub});
  EXPECT_TRUE(r.ok()) << r.status();
  if (!r.ok()) return {0, ""};
  std::vector<std::string> parts = absl::StrSplit(Trim(r->out), ' ');
  EXPECT_GE(parts.size(), 2u) << r->out;
  if (parts.size() < 2) return {0, ""};
  return {std::stoi(parts[0]), parts[1]};
}

// An openssh-key-v1 file taken apart so tests can corrupt one thing at a
// time and put it back together (OpenSSH PROTOCOL.key).
struct KeyFile {
  std::string cipher = "none";
  std::string kdf = "none";
  std::vector<uint8_t> kdf_options;
  uint32_t nkeys = 1;
  std::vector<uint8_t> public_blob;
  uint32_t check1 = 0;
  uint32_t check2 = 0;
  // Every string of the private section after the check ints: the type,
  // the type's fields (mpints kept in wire form) and the comment.
  std::vector<std::vector<uint8_t>> fields;
  std::vector<uint8_t> padding;
  bool auto_padding = false;  // replace `padding` by 1, 2, 3, ... to 8
  std::vector<uint8_t> trailing;
};

constexpr std::string_view kBegin = "-----BEGIN OPENSSH PRIVATE KEY-----";
constexpr std::string_view kEnd = "-----END OPENSSH PRIVATE KEY-----";

KeyFile DecodeKeyFile(const std::string& text) {
  KeyFile k;
  std::string body(text);
  size_t b = body.find(kBegin);
  size_t e = body.find(kEnd);
  EXPECT_NE(b, std::string::npos);
  EXPECT_NE(e, std::string::npos);
  if (b == std::string::npos || e == std::string::npos) return k;
  body = body.substr(b + kBegin.size(), e - b - kBegin.size());
  body.erase(std::remove(body.begin(), body.end(), '\n'), body.end());
  auto bin = Base64Decode(body);
  EXPECT_TRUE(bin.ok()) << bin.status();
  if (!bin.ok()) return k;
  wire::Reader r(*bin);
  EXPECT_TRUE(r.ReadRaw(15).ok());
  k.cipher = std::string(*r.ReadStringView());
  k.kdf = std::string(*r.ReadStringView());
  auto opts = *r.ReadString();
  k.kdf_options.assign(opts.begin(), opts.end());
  k.nkeys = *r.ReadUint32();
  auto pub = *r.ReadString();
  k.public_blob.assign(pub.begin(), pub.end());
  auto section = *r.ReadString();
  EXPECT_TRUE(r.ExpectEnd().ok());
  wire::Reader s(section);
  k.check1 = *s.ReadUint32();
  k.check2 = *s.ReadUint32();
  auto type = *s.ReadStringView();
  const int count = type == "ssh-ed25519" ? 4 : 5;
  k.fields.push_back(ToBytes(type));
  for (int i = 1; i < count; ++i) {
    auto f = *s.ReadString();
    k.fields.emplace_back(f.begin(), f.end());
  }
  auto rest = s.Rest();
  k.padding.assign(rest.begin(), rest.end());
  return k;
}

std::string EncodeKeyFile(const KeyFile& k) {
  wire::Writer s;
  s.Uint32(k.check1).Uint32(k.check2);
  for (const auto& f : k.fields) s.String(f);
  if (k.auto_padding) {
    for (uint8_t i = 1; s.size() % 8 != 0; ++i) s.Byte(i);
  } else {
    s.Raw(k.padding);
  }
  wire::Writer f;
  f.Raw(std::string_view("openssh-key-v1\0", 15))
      .String(k.cipher)
      .String(k.kdf)
      .String(k.kdf_options)
      .Uint32(k.nkeys)
      .String(k.public_blob)
      .String(s.data())
      .Raw(k.trailing);
  std::string b64 = Base64Encode(f.data());
  std::string out = std::string(kBegin) + "\n";
  for (size_t i = 0; i < b64.size(); i += 70) {
    out += b64.substr(i, 70) + "\n";
  }
  return out + std::string(kEnd) + "\n";
}

class KeysTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto d = TempDir::Create("spkeys");
    ASSERT_TRUE(d.ok()) << d.status();
    dir_ = std::make_unique<TempDir>(std::move(*d));
  }
  std::string File(const std::string& name) const { return dir_->File(name); }

  KeyPair Keygen(const std::string& name, const std::string& type,
                 const std::string& bits = "") {
    KeyPair k;
    k.private_path = File(name);
    k.public_path = k.private_path + ".pub";
    std::vector<std::string> argv = {
        "ssh-keygen", "-q", "-t", type, "-N",
        "",           "-C", name, "-f", k.private_path};
    if (!bits.empty()) {
      argv.push_back("-b");
      argv.push_back(bits);
    }
    auto r = RunCommandOk(argv);
    EXPECT_TRUE(r.ok()) << r.status();
    k.public_line = Trim(ReadFileOrEmpty(k.public_path));
    return k;
  }

  PrivateKey ParseFile(const std::string& path) {
    auto key = PrivateKey::LoadFile(path);
    EXPECT_TRUE(key.ok()) << key.status();
    return std::move(key).value();
  }

  std::unique_ptr<TempDir> dir_;
};

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

void ExpectRefused(const absl::Status& s, std::string_view what) {
  EXPECT_FALSE(s.ok()) << what << " was accepted";
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << what << ": " << s;
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

// --------------------------------------------------------- private keys

TEST_F(KeysTest, ParsesSshKeygenOpenSshKeys) {
  for (const char* type : {"ed25519", "ecdsa"}) {
    KeyPair kp = Keygen(std::string("id_") + type, type);
    PrivateKey key = ParseFile(kp.private_path);
    auto pub = PublicKey::FromAuthorizedKeysLine(kp.public_line);
    ASSERT_TRUE(pub.ok()) << pub.status();
    EXPECT_EQ(key.public_key(), *pub) << type;
    auto sig = key.Sign(ToBytes("hello"));
    ASSERT_TRUE(sig.ok()) << sig.status();
    EXPECT_TRUE(pub->Verify(ToBytes("hello"), *sig).ok()) << type;
  }
}

TEST_F(KeysTest, ParsesPkcs8AndTraditionalPem) {
  // ECDSA: PKCS#8 and "EC PRIVATE KEY", both written by ssh-keygen.
  for (const char* format : {"PKCS8", "PEM"}) {
    KeyPair kp = Keygen(std::string("ec_") + format, "ecdsa");
    ASSERT_TRUE(RunCommandOk({"ssh-keygen", "-q", "-p", "-m", format, "-N", "",
                              "-f", kp.private_path})
                    .ok());
    std::string text = ReadFileOrEmpty(kp.private_path);
    EXPECT_EQ(text.rfind(std::string(format) == "PKCS8"
                             ? "-----BEGIN PRIVATE KEY-----"
                             : "-----BEGIN EC PRIVATE KEY-----",
                         0),
              0u)
        << text.substr(0, 40);
    PrivateKey key = ParseFile(kp.private_path);
    EXPECT_EQ(key.public_key(),
              *PublicKey::FromAuthorizedKeysLine(kp.public_line));
  }
  // Ed25519: ssh-keygen 9.x silently keeps the OpenSSH format for -m PKCS8,
  // which must parse too; a real PKCS#8 Ed25519 key comes from openssl.
  KeyPair ed = Keygen("ed_pkcs8", "ed25519");
  ASSERT_TRUE(RunCommandOk({"ssh-keygen", "-q", "-p", "-m", "PKCS8", "-N", "",
                            "-f", ed.private_path})
                  .ok());
  EXPECT_EQ(ParseFile(ed.private_path).public_key(),
            *PublicKey::FromAuthorizedKeysLine(ed.public_line));

  const std::string pem = File("openssl_ed25519.pem");
  const std::string der = File("openssl_ed25519.pub.der");
  ASSERT_TRUE(
      RunCommandOk({"openssl", "genpkey", "-algorithm", "ed25519", "-out", pem})
          .ok());
  ASSERT_TRUE(RunCommandOk({"openssl", "pkey", "-in", pem, "-pubout",
                            "-outform", "DER", "-out", der})
                  .ok());
  ASSERT_EQ(ReadFileOrEmpty(pem).rfind("-----BEGIN PRIVATE KEY-----", 0), 0u);
  std::string spki = ReadFileOrEmpty(der);
  ASSERT_EQ(spki.size(), 44u);  // 12-byte SPKI header + 32-byte key
  PrivateKey key = ParseFile(pem);
  wire::Writer expected;
  expected.String("ssh-ed25519").String(spki.substr(12));
  EXPECT_EQ(key.public_key().Blob(), expected.data());
  // ssh-keygen agrees once we write it in OpenSSH format.
  const std::string ours = File("ours_from_pkcs8");
  ASSERT_TRUE(key.WriteFile(ours).ok());
  auto y = RunCommandOk({"ssh-keygen", "-y", "-f", ours});
  ASSERT_TRUE(y.ok()) << y.status();
  EXPECT_EQ(TypeAndData(Trim(y->out)), key.public_key().ToAuthorizedKeysLine());
}

TEST_F(KeysTest, WrittenKeysAreReadBySshKeygen) {
  for (bool ed : {true, false}) {
    auto key =
        ed ? PrivateKey::GenerateEd25519() : PrivateKey::GenerateEcdsaP256();
    ASSERT_TRUE(key.ok()) << key.status();
    const std::string path = File(ed ? "ours_ed" : "ours_ec");
    // An existing, world-readable file is truncated and tightened.
    ASSERT_TRUE(
        ::sallyport::testing::WriteFile(path, "old contents", 0644).ok());
    ASSERT_TRUE(key->WriteFile(path, "sallyport test").ok());
    struct stat st;
    ASSERT_EQ(stat(path.c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 07777, 0600u);
    auto y = RunCommandOk({"ssh-keygen", "-y", "-f", path});
    ASSERT_TRUE(y.ok()) << y.status();
    EXPECT_EQ(TypeAndData(Trim(y->out)),
              key->public_key().ToAuthorizedKeysLine());
    // ssh-keygen can sign with it, so it read the private half too.
    const std::string msg = File(ed ? "msg_ed" : "msg_ec");
    ASSERT_TRUE(::sallyport::testing::WriteFile(msg, "m").ok());
    EXPECT_TRUE(RunCommandOk(
                    {"ssh-keygen", "-Y", "sign", "-f", path, "-n", "file", msg})
                    .ok());
    EXPECT_NE(ReadFileOrEmpty(msg + ".sig").find("BEGIN SSH SIGNATURE"),
              std::string::npos);
    // And we read it back.
    PrivateKey back = ParseFile(path);
    EXPECT_EQ(back.public_key(), key->public_key());
    auto sig = back.Sign(ToBytes("x"));
    ASSERT_TRUE(sig.ok());
    EXPECT_TRUE(key->public_key().Verify(ToBytes("x"), *sig).ok());
  }
  // A fresh file is created 0600 as well.
  auto key = PrivateKey::GenerateEd25519();
  ASSERT_TRUE(key.ok());
  ASSERT_TRUE(key->WriteFile(File("fresh")).ok());
  struct stat st;
  ASSERT_EQ(stat(File("fresh").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0600u);
}

TEST_F(KeysTest, OpenSshFormatHasSshKeygenLayout) {
  KeyPair kp = Keygen("layout", "ed25519");
  std::string theirs = ReadFileOrEmpty(kp.private_path);
  PrivateKey key = ParseFile(kp.private_path);
  auto ours = key.ToOpenSshFormat("layout");
  ASSERT_TRUE(ours.ok()) << ours.status();
  std::vector<std::string> a = absl::StrSplit(theirs, '\n');
  std::vector<std::string> b = absl::StrSplit(*ours, '\n');
  ASSERT_EQ(a.size(), b.size());
  for (size_t i = 0; i < a.size(); ++i)
    EXPECT_EQ(a[i].size(), b[i].size()) << i;
  EXPECT_EQ(a.front(), b.front());
  EXPECT_EQ(a[a.size() - 2], b[b.size() - 2]);
  // Same content apart from the random check ints.
  KeyFile ka = DecodeKeyFile(theirs), kb = DecodeKeyFile(*ours);
  EXPECT_EQ(ka.public_blob, kb.public_blob);
  EXPECT_EQ(ka.fields, kb.fields);
  EXPECT_EQ(ka.padding, kb.padding);
  EXPECT_EQ(kb.check1, kb.check2);
}

TEST_F(KeysTest, LoadFileErrors) {
  auto missing = PrivateKey::LoadFile(File("nope"));
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.status().code(), absl::StatusCode::kNotFound);
  auto dir = PrivateKey::LoadFile(dir_->path());
  EXPECT_FALSE(dir.ok());
  ASSERT_TRUE(::sallyport::testing::WriteFile(File("junk"), "hello").ok());
  auto junk = PrivateKey::LoadFile(File("junk"));
  ExpectRefused(junk.status(), "junk file");
}

TEST_F(KeysTest, RefusesEncryptedKeys) {
  KeyPair kp = Keygen("plain", "ed25519");
  ASSERT_TRUE(RunCommandOk({"ssh-keygen", "-q", "-t", "ed25519", "-N", "secret",
                            "-f", File("enc")})
                  .ok());
  auto enc = PrivateKey::LoadFile(File("enc"));
  ExpectRefused(enc.status(), "encrypted openssh key");
  EXPECT_NE(
      enc.status().message().find("encrypted private keys are not supported"),
      std::string::npos)
      << enc.status();

  // Encrypted traditional PEM (Proc-Type header) from ssh-keygen.
  KeyPair ec = Keygen("ec_enc", "ecdsa");
  ASSERT_TRUE(RunCommandOk({"ssh-keygen", "-q", "-p", "-m", "PEM", "-N",
                            "secret", "-f", ec.private_path})
                  .ok());
  auto pem = PrivateKey::LoadFile(ec.private_path);
  ExpectRefused(pem.status(), "encrypted EC PEM");
  EXPECT_NE(pem.status().message().find("encrypted"), std::string::npos);

  // Encrypted PKCS#8 from openssl.
  ASSERT_TRUE(
      RunCommandOk({"openssl", "genpkey", "-algorithm", "ed25519", "-aes256",
                    "-pass", "pass:secret", "-out", File("enc8")})
          .ok());
  auto p8 = PrivateKey::LoadFile(File("enc8"));
  ExpectRefused(p8.status(), "encrypted PKCS#8");
  EXPECT_NE(p8.status().message().find("encrypted"), std::string::npos);
}

TEST_F(KeysTest, RefusesRsaAndOtherPrivateKeys) {
  KeyPair rsa = Keygen("rsa", "rsa", "2048");
  auto openssh = PrivateKey::LoadFile(rsa.private_path);
  ExpectRefused(openssh.status(), "RSA openssh key");
  EXPECT_NE(openssh.status().message().find(
                "RSA private keys are not used for signing"),
            std::string::npos);
  for (const char* format : {"PKCS8", "PEM"}) {
    ASSERT_TRUE(RunCommandOk({"ssh-keygen", "-q", "-p", "-m", format, "-N", "",
                              "-f", rsa.private_path})
                    .ok());
    auto k = PrivateKey::LoadFile(rsa.private_path);
    ExpectRefused(k.status(), std::string("RSA ") + format);
    EXPECT_NE(k.status().message().find("RSA private keys"), std::string::npos)
        << k.status();
  }
  KeyPair p384 = Keygen("p384", "ecdsa", "384");
  ExpectRefused(PrivateKey::LoadFile(p384.private_path).status(),
                "P-384 openssh key");
  ASSERT_TRUE(RunCommandOk({"ssh-keygen", "-q", "-p", "-m", "PKCS8", "-N", "",
                            "-f", p384.private_path})
                  .ok());
  ExpectRefused(PrivateKey::LoadFile(p384.private_path).status(),
                "P-384 PKCS#8 key");
}

class OpenSshFileTest : public KeysTest {
 protected:
  // A decoded ssh-keygen key of `type` that re-encodes to a valid key.
  KeyFile Valid(const std::string& type, const std::string& name) {
    KeyPair kp = Keygen(name, type);
    pub_ = PublicKey::FromAuthorizedKeysLine(kp.public_line).value();
    KeyFile k = DecodeKeyFile(ReadFileOrEmpty(kp.private_path));
    auto again = PrivateKey::Parse(EncodeKeyFile(k));
    EXPECT_TRUE(again.ok()) << again.status();
    if (again.ok()) {
      EXPECT_EQ(again->public_key(), *pub_);
    }
    return k;
  }
  void ExpectFileRefused(const KeyFile& k, std::string_view what) {
    ExpectRefused(PrivateKey::Parse(EncodeKeyFile(k)).status(), what);
  }
  std::optional<PublicKey> pub_;
};

TEST_F(OpenSshFileTest, RefusesDifferingCheckInts) {
  KeyFile k = Valid("ed25519", "k");
  k.check2 = k.check1 ^ 1;
  ExpectFileRefused(k, "check ints differ");
}

TEST_F(OpenSshFileTest, RefusesBadPadding) {
  // Comment "k": the Ed25519 section is 132 bytes, so 4 bytes of padding.
  KeyFile k = Valid("ed25519", "k");
  ASSERT_EQ(k.padding, (std::vector<uint8_t>{1, 2, 3, 4}));
  k.padding.back() = 5;
  ExpectFileRefused(k, "padding 1 2 3 5");
  k.padding = {0, 0, 0, 0};
  ExpectFileRefused(k, "zero padding");
  k.padding = {};
  ExpectFileRefused(k, "no padding (section not a multiple of 8)");
  k.padding = {1, 2, 3, 4, 5};
  ExpectFileRefused(k, "padding past the block");
}

TEST_F(OpenSshFileTest, RefusesMismatchedEd25519Halves) {
  KeyFile k = Valid("ed25519", "k");
  KeyFile bad = k;
  bad.fields[2][63] ^= 1;  // the public half of sk
  ExpectFileRefused(bad, "sk public half differs");
  bad = k;
  bad.fields[1][0] ^= 1;  // pk in the private section
  ExpectFileRefused(bad, "private-section pk differs");
  bad = k;
  bad.fields[2][0] ^= 1;  // the seed: derives another public key
  ExpectFileRefused(bad, "seed of another key");
  bad = k;
  bad.fields[2].pop_back();
  ExpectFileRefused(bad, "63-byte sk");
}

TEST_F(OpenSshFileTest, RefusesEcdsaScalarOfAnotherKey) {
  KeyFile a = Valid("ecdsa", "a");
  KeyFile b = Valid("ecdsa", "b");
  KeyFile bad = a;
  bad.fields[3] = b.fields[3];  // d of key b under Q of key a
  bad.auto_padding = true;
  ExpectFileRefused(bad, "d of another key");
  bad.fields[3] = {};  // d = 0
  ExpectFileRefused(bad, "d = 0");
  // d = n, the group order (not a valid scalar).
  bad.fields[3] = {0x00, 0xff, 0xff, 0xff, 0xff, 0x00, 0x00, 0x00, 0x00,
                   0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xbc,
                   0xe6, 0xfa, 0xad, 0xa7, 0x17, 0x9e, 0x84, 0xf3, 0xb9,
                   0xca, 0xc2, 0xfc, 0x63, 0x25, 0x51};
  ExpectFileRefused(bad, "d = n");
  bad = a;
  bad.fields[1] = ToBytes("nistp384");
  bad.auto_padding = true;
  ExpectFileRefused(bad, "curve nistp384 in the private section");
}

TEST_F(OpenSshFileTest, RefusesStructuralDamage) {
  KeyFile k = Valid("ed25519", "k");
  KeyFile bad = k;
  bad.cipher = "aes256-ctr";
  bad.kdf = "bcrypt";
  auto enc = PrivateKey::Parse(EncodeKeyFile(bad));
  ExpectRefused(enc.status(), "cipher aes256-ctr");
  EXPECT_NE(enc.status().message().find("encrypted private keys"),
            std::string::npos);
  bad = k;
  bad.kdf_options = {0, 0, 0, 0};
  ExpectFileRefused(bad, "kdf options");
  bad = k;
  bad.nkeys = 2;
  ExpectFileRefused(bad, "nkeys = 2");
  bad = k;
  bad.nkeys = 0;
  ExpectFileRefused(bad, "nkeys = 0");
  bad = k;
  bad.trailing = {0};
  ExpectFileRefused(bad, "byte after the private section");
  bad = k;
  bad.fields[0] = ToBytes("ecdsa-sha2-nistp256");
  bad.auto_padding = true;
  ExpectFileRefused(bad, "private type differs from public type");
  bad = k;
  KeyFile other = Valid("ed25519", "other");
  bad.public_blob = other.public_blob;
  ExpectFileRefused(bad, "public blob of another key");

  std::string text = EncodeKeyFile(k);
  ExpectRefused(PrivateKey::Parse(text + "junk").status(), "data after END");
  ExpectRefused(PrivateKey::Parse(text.substr(0, text.size() - 10)).status(),
                "no END line");
  std::string spaced = text;
  spaced.insert(spaced.find('\n') + 5, " ");
  ExpectRefused(PrivateKey::Parse(spaced).status(), "space in the body");
  // CRLF line ends and leading blank lines are fine.
  std::string crlf;
  for (char c : text) {
    if (c == '\n') crlf += '\r';
    crlf += c;
  }
  EXPECT_TRUE(PrivateKey::Parse("\n" + crlf).ok());
}

// ------------------------------------------------------------ signatures

TEST_F(KeysTest, SignAndVerifyEd25519AndEcdsa) {
  auto ed = PrivateKey::GenerateEd25519();
  auto ec = PrivateKey::GenerateEcdsaP256();
  ASSERT_TRUE(ed.ok() && ec.ok());
  const std::vector<uint8_t> data = ToBytes("session id and friends");
  for (const PrivateKey* key : {&*ed, &*ec}) {
    const PublicKey& pub = key->public_key();
    auto sig = key->Sign(data);
    ASSERT_TRUE(sig.ok()) << sig.status();
    SigParts parts = SplitSig(*sig);
    EXPECT_EQ(parts.alg, key->SignatureAlgorithm());
    EXPECT_TRUE(pub.Verify(data, *sig).ok());
    EXPECT_TRUE(pub.Verify(data, *sig, key->SignatureAlgorithm()).ok());
    auto empty_sig = key->Sign({});
    ASSERT_TRUE(empty_sig.ok());
    EXPECT_TRUE(pub.Verify({}, *empty_sig).ok());

    // Other data.
    EXPECT_EQ(pub.Verify(ToBytes("other"), *sig).code(),
              absl::StatusCode::kUnauthenticated);
    // A flipped bit in the signature.
    std::vector<uint8_t> flipped = *sig;
    flipped.back() ^= 0x01;
    EXPECT_EQ(pub.Verify(data, flipped).code(),
              absl::StatusCode::kUnauthenticated);
    // Another key of the same type.
    auto other = key->type() == KeyType::kEd25519
                     ? PrivateKey::GenerateEd25519()
                     : PrivateKey::GenerateEcdsaP256();
    EXPECT_EQ(other->public_key().Verify(data, *sig).code(),
              absl::StatusCode::kUnauthenticated);
    // Not the algorithm the caller required.
    ExpectRefused(pub.Verify(data, *sig, "rsa-sha2-256"), "wrong allowed alg");
    // Trailing bytes, truncation.
    std::vector<uint8_t> longer = *sig;
    longer.push_back(0);
    ExpectRefused(pub.Verify(data, longer), "trailing byte");
    for (size_t n = 0; n < sig->size(); ++n) {
      EXPECT_FALSE(pub.Verify(data, wire::Bytes(sig->data(), n)).ok()) << n;
    }
  }
  // Each key's signature, relabelled or not, under the other key type.
  auto ed_sig = *ed->Sign(data);
  auto ec_sig = *ec->Sign(data);
  ExpectRefused(ec->public_key().Verify(data, ed_sig), "Ed25519 sig on ECDSA");
  ExpectRefused(ed->public_key().Verify(data, ec_sig), "ECDSA sig on Ed25519");
  ExpectRefused(ec->public_key().Verify(
                    data, SigBlob("ssh-ed25519", SplitSig(ec_sig).sig)),
                "ECDSA sig labelled ssh-ed25519 on ECDSA");
  ExpectRefused(ed->public_key().Verify(
                    data, SigBlob("rsa-sha2-256", SplitSig(ed_sig).sig)),
                "rsa-sha2-256 on Ed25519");
  ExpectRefused(
      ed->public_key().Verify(
          data,
          SigBlob("ssh-ed25519", wire::Bytes(SplitSig(ed_sig).sig.data(), 63))),
      "63-byte Ed25519 signature");
}

TEST_F(KeysTest, RefusesMalformedEcdsaSignatureScalars) {
  auto ec = PrivateKey::GenerateEcdsaP256();
  ASSERT_TRUE(ec.ok());
  const std::vector<uint8_t> data = ToBytes("d");
  auto sig = *ec->Sign(data);
  const std::vector<uint8_t> inner_blob = SplitSig(sig).sig;
  wire::Reader inner(inner_blob);
  auto r = *inner.ReadMpint();
  auto s = *inner.ReadMpint();
  std::vector<uint8_t> rv(r.begin(), r.end()), sv(s.begin(), s.end());
  auto build = [&](auto write_r, auto write_s) {
    wire::Writer w;
    write_r(w);
    write_s(w);
    return SigBlob("ecdsa-sha2-nistp256", w.data());
  };
  auto mp = [](const std::vector<uint8_t>& v) {
    return [v](wire::Writer& w) { w.Mpint(v); };
  };
  auto raw = [](std::vector<uint8_t> v) {
    return [v](wire::Writer& w) { w.String(v); };
  };
  ASSERT_TRUE(ec->public_key().Verify(data, build(mp(rv), mp(sv))).ok());
  ExpectRefused(ec->public_key().Verify(data, build(mp({}), mp(sv))), "r = 0");
  ExpectRefused(ec->public_key().Verify(data, build(mp(rv), mp({}))), "s = 0");
  // Negative: the magnitude's bytes without the 0x00 sign byte, top bit set.
  std::vector<uint8_t> neg = {0x80, 0x01};
  ExpectRefused(ec->public_key().Verify(data, build(raw(neg), mp(sv))),
                "r negative");
  ExpectRefused(ec->public_key().Verify(data, build(mp(rv), raw(neg))),
                "s negative");
  std::vector<uint8_t> too_big(33, 0x7f);
  ExpectRefused(ec->public_key().Verify(data, build(raw(too_big), mp(sv))),
                "r of 33 bytes");
  // r = n (out of range but well formed): a bad signature.
  std::vector<uint8_t> n = {0xff, 0xff, 0xff, 0xff, 0x00, 0x00, 0x00, 0x00,
                            0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
                            0xbc, 0xe6, 0xfa, 0xad, 0xa7, 0x17, 0x9e, 0x84,
                            0xf3, 0xb9, 0xca, 0xc2, 0xfc, 0x63, 0x25, 0x51};
  EXPECT_FALSE(ec->public_key().Verify(data, build(mp(n), mp(sv))).ok());
  // Trailing bytes inside the inner blob.
  std::vector<uint8_t> inner_long;
  {
    wire::Writer w;
    w.Mpint(rv).Mpint(sv).Byte(0);
    inner_long = w.Take();
  }
  ExpectRefused(
      ec->public_key().Verify(data, SigBlob("ecdsa-sha2-nistp256", inner_long)),
      "trailing byte in ECDSA signature");
}

TEST_F(KeysTest, VerifiesRsaSha2SignaturesAndRefusesSha1) {
  KeyPair kp = Keygen("rsa", "rsa", "2048");
  auto pub = PublicKey::FromAuthorizedKeysLine(kp.public_line);
  ASSERT_TRUE(pub.ok()) << pub.status();
  ASSERT_TRUE(RunCommandOk({"ssh-keygen", "-q", "-p", "-m", "PKCS8", "-N", "",
                            "-f", kp.private_path})
                  .ok());
  base::EvpPkeyPtr rsa = LoadPemWithOpenSsl(ReadFileOrEmpty(kp.private_path));
  ASSERT_NE(rsa, nullptr);
  const std::vector<uint8_t> data = ToBytes("signed by OpenSSL");

  auto s256 = OpenSslSign(rsa.get(), "SHA256", data);
  auto s512 = OpenSslSign(rsa.get(), "SHA512", data);
  auto s1 = OpenSslSign(rsa.get(), "SHA1", data);
  ASSERT_EQ(s256.size(), 256u);
  EXPECT_TRUE(pub->Verify(data, SigBlob("rsa-sha2-256", s256)).ok());
  EXPECT_TRUE(pub->Verify(data, SigBlob("rsa-sha2-512", s512)).ok());
  EXPECT_TRUE(
      pub->Verify(data, SigBlob("rsa-sha2-512", s512), "rsa-sha2-512").ok());
  ExpectRefused(
      pub->Verify(data, SigBlob("rsa-sha2-256", s256), "rsa-sha2-512"),
      "rsa-sha2-256 where rsa-sha2-512 required");
  // Labels that do not match the hash.
  EXPECT_EQ(pub->Verify(data, SigBlob("rsa-sha2-512", s256)).code(),
            absl::StatusCode::kUnauthenticated);
  EXPECT_EQ(pub->Verify(data, SigBlob("rsa-sha2-256", s1)).code(),
            absl::StatusCode::kUnauthenticated);
  // ssh-rsa (SHA-1) is refused even though the bytes are a valid signature.
  auto sha1 = pub->Verify(data, SigBlob("ssh-rsa", s1));
  ExpectRefused(sha1, "ssh-rsa signature");
  EXPECT_FALSE(pub->Verify(data, SigBlob("ssh-rsa", s1), "ssh-rsa").ok());
  // A flipped bit, other data.
  std::vector<uint8_t> flipped = s256;
  flipped[100] ^= 0x10;
  EXPECT_EQ(pub->Verify(data, SigBlob("rsa-sha2-256", flipped)).code(),
            absl::StatusCode::kUnauthenticated);
  EXPECT_EQ(pub->Verify(ToBytes("x"), SigBlob("rsa-sha2-256", s256)).code(),
            absl::StatusCode::kUnauthenticated);
  // Longer than the modulus; empty.
  std::vector<uint8_t> longer = s256;
  longer.insert(longer.begin(), 0);
  ExpectRefused(pub->Verify(data, SigBlob("rsa-sha2-256", longer)),
                "257-byte signature");
  ExpectRefused(pub->Verify(data, SigBlob("rsa-sha2-256", {})),
                "empty signature");
  // Wrong algorithms for an RSA key.
  ExpectRefused(pub->Verify(data, SigBlob("ssh-ed25519", s256)),
                "ssh-ed25519 on RSA");
  ExpectRefused(pub->Verify(data, SigBlob("ecdsa-sha2-nistp256", s256)),
                "ecdsa on RSA");

  // OpenSSH drops leading zero bytes: find a signature that starts with one
  // (1 in 256) and check the shortened form verifies.
  bool found = false;
  for (int i = 0; i < 4000 && !found; ++i) {
    std::vector<uint8_t> msg = ToBytes(absl::StrCat("message ", i));
    auto sig = OpenSslSign(rsa.get(), "SHA256", msg);
    if (sig[0] != 0) continue;
    found = true;
    std::vector<uint8_t> shortened(sig.begin() + 1, sig.end());
    EXPECT_TRUE(pub->Verify(msg, SigBlob("rsa-sha2-256", shortened)).ok());
    EXPECT_TRUE(pub->Verify(msg, SigBlob("rsa-sha2-256", sig)).ok());
  }
  EXPECT_TRUE(found) << "no signature with a leading zero byte in 4000 tries";
}

TEST_F(KeysTest, VerifiesSignaturesFromSshKeygenKeys) {
  // Our signer with an ssh-keygen key, checked by OpenSSL directly through
  // the PKCS#8 form of the same key: the wire format is not just
  // self-consistent.
  KeyPair kp = Keygen("ec", "ecdsa");
  PrivateKey ours = ParseFile(kp.private_path);
  const std::vector<uint8_t> data = ToBytes("cross-check");
  auto sig = ours.Sign(data);
  ASSERT_TRUE(sig.ok());
  ASSERT_TRUE(RunCommandOk({"ssh-keygen", "-q", "-p", "-m", "PKCS8", "-N", "",
                            "-f", kp.private_path})
                  .ok());
  base::EvpPkeyPtr theirs =
      LoadPemWithOpenSsl(ReadFileOrEmpty(kp.private_path));
  ASSERT_NE(theirs, nullptr);
  // Convert (mpint r, mpint s) to DER by hand and verify with OpenSSL.
  const std::vector<uint8_t> inner_blob = SplitSig(*sig).sig;
  wire::Reader inner(inner_blob);
  auto r = *inner.ReadMpint();
  auto s = *inner.ReadMpint();
  base::EcdsaSigPtr es(ECDSA_SIG_new());
  ECDSA_SIG_set0(es.get(),
                 BN_bin2bn(r.data(), static_cast<int>(r.size()), nullptr),
                 BN_bin2bn(s.data(), static_cast<int>(s.size()), nullptr));
  unsigned char* der = nullptr;
  int der_len = i2d_ECDSA_SIG(es.get(), &der);
  ASSERT_GT(der_len, 0);
  base::EvpMdCtxPtr ctx(EVP_MD_CTX_new());
  ASSERT_EQ(EVP_DigestVerifyInit_ex(ctx.get(), nullptr, "SHA256", nullptr,
                                    nullptr, theirs.get(), nullptr),
            1);
  EXPECT_EQ(EVP_DigestVerify(ctx.get(), der, static_cast<size_t>(der_len),
                             data.data(), data.size()),
            1);
  OPENSSL_free(der);
  // And the other way: OpenSSL's Ed25519 signature, verified by us.
  auto ed = PrivateKey::GenerateEd25519();
  ASSERT_TRUE(ed.ok());
  auto raw = OpenSslSign(ed->pkey(), nullptr, data);
  EXPECT_TRUE(ed->public_key().Verify(data, SigBlob("ssh-ed25519", raw)).ok());
}

}  // namespace
}  // namespace sallyport::ssh::crypto
