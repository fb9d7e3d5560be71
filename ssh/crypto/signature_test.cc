// Signatures: ours verified by OpenSSL and ssh-keygen, theirs verified by
// us, and the refusals (malformed scalars, SHA-1 RSA).
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "ssh/crypto/keys.h"
#include "ssh/crypto/keys_test_util.h"

namespace sallyport::ssh::crypto {
namespace {

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

// Ed25519 Signs share one signing context set up at the first Sign (and
// copied per call): signatures from concurrent threads, from a copy of the
// key, and after the original key is gone all verify, and each equals the
// signature of an independently loaded copy of the key (Ed25519 is
// deterministic), so no call sees another call's state.
TEST_F(KeysTest, Ed25519SignsShareOneContextSafely) {
  auto original = std::make_unique<PrivateKey>(*PrivateKey::GenerateEd25519());
  auto text = original->ToOpenSshFormat();
  ASSERT_TRUE(text.ok());
  auto independent = PrivateKey::Parse(std::string(text->view()));
  ASSERT_TRUE(independent.ok());
  const PublicKey pub = original->public_key();
  const auto check = [&](const PrivateKey& key, const std::string& what) {
    const std::vector<uint8_t> data = ToBytes(what);
    auto sig = key.Sign(data);
    auto want = independent->Sign(data);
    return sig.ok() && want.ok() && *sig == *want &&
           pub.Verify(data, *sig).ok();
  };
  ASSERT_TRUE(check(*original, "first"));
  const PrivateKey copy = *original;
  std::vector<std::thread> threads;
  std::vector<int> good(4, 0);
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 50; ++i) {
        const PrivateKey& key = (i % 2 == 0) ? *original : copy;
        good[t] += check(key, absl::StrCat("thread ", t, " call ", i)) ? 1 : 0;
      }
    });
  }
  for (std::thread& th : threads) th.join();
  EXPECT_EQ(good, std::vector<int>(4, 50));
  original.reset();
  EXPECT_TRUE(check(copy, "after the original is gone"));
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
