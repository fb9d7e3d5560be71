// Shared by the keys tests (public_key_test, private_key_test,
// signature_test): ssh-keygen and OpenSSL helpers, an openssh-key-v1 file
// taken apart for corruption, and the KeysTest fixture with a temp dir.
#ifndef SALLYPORT_SSH_CRYPTO_KEYS_TEST_UTIL_H_
#define SALLYPORT_SSH_CRYPTO_KEYS_TEST_UTIL_H_

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
#include "ssh/crypto/keys.h"
#include "ssh/wire/reader.h"
#include "ssh/wire/writer.h"
#include "tests/harness/sshd_fixture.h"
#include "tests/harness/subprocess.h"
#include "tests/harness/temp_dir.h"

namespace sallyport::ssh::crypto {

using ::sallyport::testing::GenerateKey;
using ::sallyport::testing::KeyPair;
using ::sallyport::testing::ReadFileOrEmpty;
using ::sallyport::testing::RunCommand;
using ::sallyport::testing::RunCommandOk;
using ::sallyport::testing::TempDir;

inline std::vector<uint8_t> ToBytes(std::string_view s) {
  return std::vector<uint8_t>(s.begin(), s.end());
}

inline std::string Trim(const std::string& s) {
  return std::string(absl::StripAsciiWhitespace(s));
}

// "type base64 comment" → the decoded blob.
inline std::vector<uint8_t> BlobOfLine(const std::string& line) {
  std::vector<std::string> parts = absl::StrSplit(line, ' ');
  EXPECT_GE(parts.size(), 2u) << line;
  auto blob = Base64Decode(parts.size() > 1 ? parts[1] : "");
  EXPECT_TRUE(blob.ok()) << blob.status();
  return blob.ok() ? *blob : std::vector<uint8_t>();
}

// The first two fields of a key line ("type base64").
inline std::string TypeAndData(const std::string& line) {
  std::vector<std::string> parts = absl::StrSplit(line, ' ');
  if (parts.size() < 2) return line;
  return parts[0] + " " + parts[1];
}

inline std::vector<uint8_t> SigBlob(std::string_view alg, wire::Bytes sig) {
  wire::Writer w;
  w.String(alg).String(sig);
  return w.Take();
}

// The parts of a signature blob.
struct SigParts {
  std::string alg;
  std::vector<uint8_t> sig;
};
inline SigParts SplitSig(const std::vector<uint8_t>& blob) {
  wire::Reader r(blob);
  SigParts p;
  p.alg = std::string(*r.ReadStringView());
  auto sig = *r.ReadString();
  p.sig.assign(sig.begin(), sig.end());
  return p;
}

// Key material through OpenSSL directly, for inputs ssh-keygen cannot sign.
inline base::EvpPkeyPtr LoadPemWithOpenSsl(const std::string& text) {
  base::BioPtr bio(BIO_new_mem_buf(text.data(), static_cast<int>(text.size())));
  return base::EvpPkeyPtr(
      PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr));
}

inline std::vector<uint8_t> OpenSslSign(EVP_PKEY* pkey, const char* md,
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
inline std::pair<int, std::string> SshKeygenFingerprint(
    const std::string& pub) {
  auto r = RunCommandOk({"ssh-keygen", "-l", "-f", pub});
  EXPECT_TRUE(r.ok()) << r.status();
  if (!r.ok()) return {0, ""};
  std::vector<std::string> parts = absl::StrSplit(Trim(r->out), ' ');
  EXPECT_GE(parts.size(), 2u) << r->out;
  if (parts.size() < 2) return {0, ""};
  return {std::stoi(parts[0]), parts[1]};
}

// A refusal: kInvalidArgument.
inline void ExpectRefused(const absl::Status& s, std::string_view what) {
  EXPECT_FALSE(s.ok()) << what << " was accepted";
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << what << ": " << s;
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

inline constexpr std::string_view kBegin =
    "-----BEGIN OPENSSH PRIVATE KEY-----";
inline constexpr std::string_view kEnd = "-----END OPENSSH PRIVATE KEY-----";

inline KeyFile DecodeKeyFile(const std::string& text) {
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

inline std::string EncodeKeyFile(const KeyFile& k) {
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

}  // namespace sallyport::ssh::crypto

#endif  // SALLYPORT_SSH_CRYPTO_KEYS_TEST_UTIL_H_
