// Known-answer tests of ML-KEM-768 against OpenSSL 3.5 in a Debian trixie
// root (tests/harness/trixie_root.h): vectors are produced at test time by
// the real `openssl` from fixed seeds, never stored here.
//  - KeyGen: `openssl genpkey -algorithm ML-KEM-768 -pkeyopt hexseed:d||z`
//    gives the same ek and dk as KeyPairFromSeed(d, z);
//  - Encaps: `openssl pkeyutl -encap -pkeyopt hexikme:m` gives the same
//    ciphertext and shared secret as EncapsulateWithMessage(ek, m);
//  - Decaps: OpenSSL's ciphertexts decapsulate to OpenSSL's secrets, and a
//    modified ciphertext to the implicit-rejection key OpenSSL computes;
//  - malformed keys (a coefficient >= q, wrong lengths) are refused by us,
//    and the coefficient case by OpenSSL too.
#include <string>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "gtest/gtest.h"
#include "ssh/crypto/mlkem768.h"
#include "ssh/crypto/sha3.h"
#include "tests/harness/subprocess.h"
#include "tests/harness/trixie_root.h"

namespace sallyport::ssh::crypto::mlkem768 {
namespace {

using ::sallyport::testing::ReadFileOrEmpty;
using ::sallyport::testing::TrixieRoot;
using ::sallyport::testing::WriteFile;

std::vector<uint8_t> ToBytes(const std::string& s) {
  return std::vector<uint8_t>(s.begin(), s.end());
}
std::string ToString(absl::Span<const uint8_t> b) {
  return std::string(b.begin(), b.end());
}
std::string Hex(absl::Span<const uint8_t> b) {
  return absl::BytesToHexString(ToString(b));
}

// Seeds derived from a label with SHAKE256, so each vector is different.
std::vector<uint8_t> SeedFor(const std::string& label, size_t n) {
  std::vector<uint8_t> out(n);
  Shake256({absl::MakeConstSpan(reinterpret_cast<const uint8_t*>(label.data()),
                                label.size())},
           out.data(), n);
  return out;
}

// One field ("dk:", "ek:") of `openssl pkey -text`: hex bytes with colons on
// indented lines after the field name.
std::vector<uint8_t> TextField(const std::string& text,
                               const std::string& name) {
  std::string hex;
  bool in = false;
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    if (!line.empty() && line[0] != ' ') {
      in = line == name + ":";
      continue;
    }
    if (!in) continue;
    for (char c : line) {
      if (absl::ascii_isxdigit(c)) hex.push_back(c);
    }
  }
  return ToBytes(absl::HexStringToBytes(hex));
}

class MlKemKnownAnswerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto root = TrixieRoot::Get();
    ASSERT_TRUE(root.ok()) << root.status();
    root_.emplace(std::move(*root));
    auto dir = root_->MakeDir("mlkem");
    ASSERT_TRUE(dir.ok()) << dir.status();
    dir_.emplace(std::move(*dir));
  }

  std::string In(const std::string& name) { return dir_->inside + "/" + name; }
  std::string Out(const std::string& name) { return dir_->outside.File(name); }
  std::string Openssl(std::vector<std::string> args) {
    args.insert(args.begin(), "openssl");
    auto r = root_->RunOk(args);
    EXPECT_TRUE(r.ok()) << r.status();
    return r.ok() ? r->out : "";
  }

  // OpenSSL's key pair from d || z: (ek, dk), and key.pem / pub.der on disk.
  std::pair<std::vector<uint8_t>, std::vector<uint8_t>> OpensslKeyGen(
      const std::vector<uint8_t>& d, const std::vector<uint8_t>& z) {
    Openssl({"genpkey", "-algorithm", "ML-KEM-768", "-pkeyopt",
             "hexseed:" + Hex(d) + Hex(z), "-out", In("key.pem")});
    Openssl({"pkey", "-in", In("key.pem"), "-pubout", "-outform", "DER", "-out",
             In("pub.der")});
    std::string text =
        Openssl({"pkey", "-in", In("key.pem"), "-text", "-noout"});
    return {TextField(text, "ek"), TextField(text, "dk")};
  }

  std::optional<TrixieRoot> root_;
  std::optional<TrixieRoot::Dir> dir_;
};

TEST_F(MlKemKnownAnswerTest, KeyGenMatchesOpensslForFixedSeeds) {
  for (std::string label : {"keygen-1", "keygen-2", "keygen-3"}) {
    auto d = SeedFor(label + "/d", 32), z = SeedFor(label + "/z", 32);
    auto [ek, dk] = OpensslKeyGen(d, z);
    ASSERT_EQ(ek.size(), kEncapsulationKeySize) << label;
    ASSERT_EQ(dk.size(), kDecapsulationKeySize) << label;
    // The SubjectPublicKeyInfo ends with the raw key.
    std::string der = ReadFileOrEmpty(Out("pub.der"));
    ASSERT_GT(der.size(), ek.size());
    EXPECT_EQ(ToBytes(der.substr(der.size() - ek.size())), ek);

    auto ours = KeyPairFromSeed(d, z);
    ASSERT_TRUE(ours.ok()) << ours.status();
    EXPECT_EQ(ours->encapsulation_key, ek) << label;
    EXPECT_EQ(ToBytes(ToString(ours->decapsulation_key.span())), dk) << label;
  }
}

TEST_F(MlKemKnownAnswerTest, EncapsMatchesOpensslForFixedMessages) {
  auto [ek, dk] =
      OpensslKeyGen(SeedFor("encaps/d", 32), SeedFor("encaps/z", 32));
  ASSERT_EQ(ek.size(), kEncapsulationKeySize);
  for (std::string label : {"m-1", "m-2", "m-3"}) {
    auto m = SeedFor(label, 32);
    Openssl({"pkeyutl", "-encap", "-pubin", "-inkey", In("pub.der"), "-keyform",
             "DER", "-pkeyopt", "hexikme:" + Hex(m), "-out", In("ct.bin"),
             "-secret", In("ss.bin")});
    auto ct = ToBytes(ReadFileOrEmpty(Out("ct.bin")));
    auto ss = ToBytes(ReadFileOrEmpty(Out("ss.bin")));
    ASSERT_EQ(ct.size(), kCiphertextSize);
    ASSERT_EQ(ss.size(), kSharedSecretSize);

    auto ours = EncapsulateWithMessage(ek, m);
    ASSERT_TRUE(ours.ok()) << ours.status();
    EXPECT_EQ(ours->ciphertext, ct) << label;
    EXPECT_EQ(ToBytes(ToString(ours->shared_secret.span())), ss) << label;
  }
}

TEST_F(MlKemKnownAnswerTest, DecapsOfOpensslCiphertextsAndImplicitRejection) {
  auto d = SeedFor("decaps/d", 32), z = SeedFor("decaps/z", 32);
  OpensslKeyGen(d, z);
  auto ours = KeyPairFromSeed(d, z);
  ASSERT_TRUE(ours.ok());
  for (int round = 0; round < 3; ++round) {
    // OpenSSL encapsulates with its own randomness.
    Openssl({"pkeyutl", "-encap", "-pubin", "-inkey", In("pub.der"), "-keyform",
             "DER", "-out", In("ct.bin"), "-secret", In("ss.bin")});
    auto ct = ToBytes(ReadFileOrEmpty(Out("ct.bin")));
    auto ss = ToBytes(ReadFileOrEmpty(Out("ss.bin")));
    ASSERT_EQ(ct.size(), kCiphertextSize);
    auto got = Decapsulate(ours->decapsulation_key.span(), ct);
    ASSERT_TRUE(got.ok()) << got.status();
    EXPECT_EQ(ToBytes(ToString(got->span())), ss);

    // A modified ciphertext: OpenSSL's decapsulation gives the rejection
    // key J(z || c'), and so must ours.
    for (size_t offset : {size_t{0}, size_t{961}, kCiphertextSize - 1}) {
      std::vector<uint8_t> bad = ct;
      bad[offset] ^= static_cast<uint8_t>(1 << (round + 1));
      ASSERT_TRUE(WriteFile(Out("bad.bin"), ToString(bad)).ok());
      Openssl({"pkeyutl", "-decap", "-inkey", In("key.pem"), "-in",
               In("bad.bin"), "-secret", In("rej.bin")});
      auto rejection = ToBytes(ReadFileOrEmpty(Out("rej.bin")));
      ASSERT_EQ(rejection.size(), kSharedSecretSize);
      EXPECT_NE(rejection, ss);
      auto ours_rej = Decapsulate(ours->decapsulation_key.span(), bad);
      ASSERT_TRUE(ours_rej.ok()) << ours_rej.status();
      EXPECT_EQ(ToBytes(ToString(ours_rej->span())), rejection) << offset;
    }
  }
}

TEST_F(MlKemKnownAnswerTest, MalformedEncapsulationKeysAreRefusedLikeOpenssl) {
  auto [ek, dk] = OpensslKeyGen(SeedFor("bad/d", 32), SeedFor("bad/z", 32));
  ASSERT_EQ(ek.size(), kEncapsulationKeySize);
  std::string der = ReadFileOrEmpty(Out("pub.der"));
  const size_t key_at = der.size() - ek.size();
  // Coefficient 0 := q (0xd01) and coefficient 511 := 4095.
  for (auto [byte, value0, value1] : {std::tuple{size_t{0}, 0x01, 0x0d},
                                      std::tuple{size_t{766}, 0xf0, 0xff}}) {
    std::vector<uint8_t> bad = ek;
    if (byte == 0) {
      bad[0] = static_cast<uint8_t>(value0);
      bad[1] = static_cast<uint8_t>((bad[1] & 0xf0) | value1);
    } else {
      bad[byte] = static_cast<uint8_t>((bad[byte] & 0x0f) | value0);
      bad[byte + 1] = static_cast<uint8_t>(value1);
    }
    auto ours = Encapsulate(bad);
    EXPECT_EQ(ours.status().code(), absl::StatusCode::kInvalidArgument) << byte;
    std::string bad_der = der.substr(0, key_at) + ToString(bad);
    ASSERT_TRUE(WriteFile(Out("bad.der"), bad_der).ok());
    auto theirs = root_->Run({"openssl", "pkeyutl", "-encap", "-pubin",
                              "-inkey", In("bad.der"), "-keyform", "DER",
                              "-out", In("x.bin"), "-secret", In("y.bin")});
    ASSERT_TRUE(theirs.ok());
    EXPECT_NE(theirs->exit_code, 0) << "OpenSSL accepted it: " << byte;
  }
  // Wrong lengths of OpenSSL's own key and ciphertext.
  std::vector<uint8_t> short_ek(ek.begin(), ek.end() - 1);
  EXPECT_FALSE(Encapsulate(short_ek).ok());
  std::vector<uint8_t> long_dk = dk;
  long_dk.push_back(0);
  EXPECT_FALSE(
      Decapsulate(long_dk, std::vector<uint8_t>(kCiphertextSize)).ok());
  EXPECT_FALSE(Decapsulate(dk, std::vector<uint8_t>(kCiphertextSize + 1)).ok());
  EXPECT_TRUE(Decapsulate(dk, std::vector<uint8_t>(kCiphertextSize)).ok());
}

}  // namespace
}  // namespace sallyport::ssh::crypto::mlkem768
