// Private key files both ways against the machine's real ssh-keygen (and
// the openssl tool for PKCS#8/PEM), and every private key refusal.
#include "gtest/gtest.h"
#include "ssh/crypto/keys.h"
#include "ssh/crypto/keys_test_util.h"

namespace sallyport::ssh::crypto {
namespace {

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
  const std::string text(ours->view());
  std::vector<std::string> b = absl::StrSplit(text, '\n');
  ASSERT_EQ(a.size(), b.size());
  for (size_t i = 0; i < a.size(); ++i)
    EXPECT_EQ(a[i].size(), b[i].size()) << i;
  EXPECT_EQ(a.front(), b.front());
  EXPECT_EQ(a[a.size() - 2], b[b.size() - 2]);
  // Same content apart from the random check ints.
  KeyFile ka = DecodeKeyFile(theirs), kb = DecodeKeyFile(text);
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

}  // namespace
}  // namespace sallyport::ssh::crypto
