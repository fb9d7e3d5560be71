// Key agreement (X25519, ECDH P-256) and hashes.
#include "ssh/crypto/key_agreement.h"

#include <openssl/core_names.h>
#include <openssl/evp.h>

#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "absl/strings/escaping.h"
#include "gtest/gtest.h"
#include "ssh/crypto/hash.h"

namespace sallyport::ssh::crypto {
namespace {

using Curve = KeyAgreement::Curve;

std::vector<uint8_t> Hex(const std::string& hex) {
  std::string bytes = absl::HexStringToBytes(hex);
  return std::vector<uint8_t>(bytes.begin(), bytes.end());
}

std::string ToHex(const std::vector<uint8_t>& v) {
  return absl::BytesToHexString(
      absl::string_view(reinterpret_cast<const char*>(v.data()), v.size()));
}

std::vector<uint8_t> B(const std::string& s) {
  return std::vector<uint8_t>(s.begin(), s.end());
}

std::unique_ptr<KeyAgreement> Make(Curve curve) {
  auto ka = KeyAgreement::Generate(curve);
  EXPECT_TRUE(ka.ok()) << ka.status();
  return ka.ok() ? std::move(*ka) : nullptr;
}

void ExpectRefused(const KeyAgreement& ka, const std::vector<uint8_t>& peer,
                   const std::string& what) {
  auto s = ka.Compute(peer);
  EXPECT_FALSE(s.ok()) << what << " was accepted";
  if (!s.ok()) {
    EXPECT_EQ(s.status().code(), absl::StatusCode::kInvalidArgument) << what;
  }
}

// ------------------------------------------------------------------ hashes

TEST(HashTest, KnownAnswers) {
  EXPECT_EQ(ToHex(Sha256(B("abc"))),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(ToHex(Sha512(B("abc"))),
            "ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a"
            "2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f");
  EXPECT_EQ(ToHex(Sha256({})),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(ToHex(Hash(HashAlgorithm::kSha512, {})),
            "cf83e1357eefb8bdf1542850d66d8007d620e4050b5715dc83f4a921d36ce9ce"
            "47d0d13c5d85f2b0ff8318d2877eec2f63b931bd47417a81a538327af927da3e");
  EXPECT_EQ(DigestLength(HashAlgorithm::kSha256), 32u);
  EXPECT_EQ(DigestLength(HashAlgorithm::kSha512), 64u);
}

TEST(HashTest, IncrementalMatchesOneShot) {
  // One million 'a's, fed in uneven pieces.
  const std::vector<uint8_t> a(1000000, 'a');
  Hasher h256(HashAlgorithm::kSha256);
  Hasher h512(HashAlgorithm::kSha512);
  size_t pos = 0;
  for (size_t step = 0; pos < a.size(); ++step) {
    size_t n = std::min(a.size() - pos, step % 1000);
    h256.Update(absl::MakeConstSpan(a).subspan(pos, n));
    h512.Update(absl::MakeConstSpan(a).subspan(pos, n));
    pos += n;
  }
  EXPECT_EQ(ToHex(h256.Finish()),
            "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
  EXPECT_EQ(ToHex(h512.Finish()),
            "e718483d0ce769644e2e42c7bc15b4638e1f98b13b2044285632a803afa973eb"
            "de0ff244877ea60a4cb0432ce577c31beb009c5c2c49aa2e4eadb217ad8cc09b");

  std::vector<uint8_t> data = B("exchange hash input");
  for (size_t cut = 0; cut <= data.size(); ++cut) {
    Hasher h(HashAlgorithm::kSha256);
    h.Update(absl::MakeConstSpan(data).subspan(0, cut))
        .Update(absl::MakeConstSpan(data).subspan(cut));
    EXPECT_EQ(h.Finish(), Sha256(data)) << cut;
  }
  EXPECT_EQ(Hasher(HashAlgorithm::kSha512).Finish(), Sha512({}));
}

// ------------------------------------------------------------------ X25519

TEST(KeyAgreementTest, X25519PartiesAgree) {
  for (int i = 0; i < 20; ++i) {
    auto a = Make(Curve::kX25519);
    auto b = Make(Curve::kX25519);
    ASSERT_TRUE(a && b);
    ASSERT_EQ(a->public_value().size(), 32u);
    auto ka = a->Compute(b->public_value());
    auto kb = b->Compute(a->public_value());
    ASSERT_TRUE(ka.ok()) << ka.status();
    ASSERT_TRUE(kb.ok()) << kb.status();
    EXPECT_EQ(ka->size(), 32u);
    EXPECT_TRUE(ka->Equals(*kb));
    EXPECT_NE(a->public_value(), b->public_value());
  }
}

TEST(KeyAgreementTest, X25519MatchesRfc7748Peer) {
  // The peer is RFC 7748 §6.1's Bob, built directly with OpenSSL from his
  // private key; his public key is checked against the RFC first.
  const auto bob_private =
      Hex("5dab087e624a8a4b79e17f8b83800ee66f3bb1292618b6fd1c2f8b27ff88e0eb");
  base::EvpPkeyPtr bob(EVP_PKEY_new_raw_private_key(
      EVP_PKEY_X25519, nullptr, bob_private.data(), bob_private.size()));
  ASSERT_NE(bob, nullptr);
  std::vector<uint8_t> bob_public(32);
  size_t len = 32;
  ASSERT_EQ(EVP_PKEY_get_raw_public_key(bob.get(), bob_public.data(), &len), 1);
  EXPECT_EQ(ToHex(bob_public),
            "de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f");

  auto ours = Make(Curve::kX25519);
  ASSERT_TRUE(ours);
  auto secret = ours->Compute(bob_public);
  ASSERT_TRUE(secret.ok()) << secret.status();

  const auto& our_public = ours->public_value();
  base::EvpPkeyPtr peer(EVP_PKEY_new_raw_public_key(
      EVP_PKEY_X25519, nullptr, our_public.data(), our_public.size()));
  base::EvpPkeyCtxPtr ctx(
      EVP_PKEY_CTX_new_from_pkey(nullptr, bob.get(), nullptr));
  ASSERT_EQ(EVP_PKEY_derive_init(ctx.get()), 1);
  ASSERT_EQ(EVP_PKEY_derive_set_peer(ctx.get(), peer.get()), 1);
  std::vector<uint8_t> theirs(32);
  len = theirs.size();
  ASSERT_EQ(EVP_PKEY_derive(ctx.get(), theirs.data(), &len), 1);
  EXPECT_EQ(std::vector<uint8_t>(secret->span().begin(), secret->span().end()),
            theirs);
}

TEST(KeyAgreementTest, X25519RefusesBadPeerValues) {
  auto ka = Make(Curve::kX25519);
  ASSERT_TRUE(ka);
  ExpectRefused(*ka, {}, "empty");
  ExpectRefused(*ka, std::vector<uint8_t>(31, 9), "31 bytes");
  ExpectRefused(*ka, std::vector<uint8_t>(33, 9), "33 bytes");
  ExpectRefused(*ka, std::vector<uint8_t>(65, 4), "65 bytes");
  ExpectRefused(*ka, std::vector<uint8_t>(32, 0), "all-zero peer value");
  // Points of small order: the shared secret would be all zero.
  for (const char* hex :
       {"0100000000000000000000000000000000000000000000000000000000000000",
        "e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800",
        "5f9c95bca3508c24b1d0b1559c83ef5b04445cc4581c8e86d8224eddd09f1157",
        "ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
        "edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
        "eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f"}) {
    ExpectRefused(*ka, Hex(hex), std::string("small-order point ") + hex);
  }
}

// -------------------------------------------------------------------- P-256

TEST(KeyAgreementTest, P256PartiesAgree) {
  for (int i = 0; i < 20; ++i) {
    auto a = Make(Curve::kP256);
    auto b = Make(Curve::kP256);
    ASSERT_TRUE(a && b);
    ASSERT_EQ(a->public_value().size(), 65u);
    EXPECT_EQ(a->public_value()[0], 0x04);
    auto ka = a->Compute(b->public_value());
    auto kb = b->Compute(a->public_value());
    ASSERT_TRUE(ka.ok()) << ka.status();
    ASSERT_TRUE(kb.ok()) << kb.status();
    EXPECT_EQ(ka->size(), 32u);
    EXPECT_TRUE(ka->Equals(*kb));
  }
}

TEST(KeyAgreementTest, P256MatchesOpenSslPeer) {
  // The peer's side computed with OpenSSL directly: the secret is the x
  // coordinate of d_peer * Q_ours, the same 32 bytes.
  base::EvpPkeyPtr peer(EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256"));
  ASSERT_NE(peer, nullptr);
  std::vector<uint8_t> peer_public(65);
  size_t len = 0;
  ASSERT_EQ(EVP_PKEY_get_octet_string_param(peer.get(), OSSL_PKEY_PARAM_PUB_KEY,
                                            peer_public.data(),
                                            peer_public.size(), &len),
            1);
  ASSERT_EQ(len, 65u);
  auto ours = Make(Curve::kP256);
  ASSERT_TRUE(ours);
  auto secret = ours->Compute(peer_public);
  ASSERT_TRUE(secret.ok()) << secret.status();

  const auto& q = ours->public_value();
  OSSL_PARAM params[] = {
      OSSL_PARAM_construct_utf8_string(OSSL_PKEY_PARAM_GROUP_NAME,
                                       const_cast<char*>("P-256"), 0),
      OSSL_PARAM_construct_octet_string(
          OSSL_PKEY_PARAM_PUB_KEY, const_cast<uint8_t*>(q.data()), q.size()),
      OSSL_PARAM_construct_end()};
  base::EvpPkeyCtxPtr from(EVP_PKEY_CTX_new_from_name(nullptr, "EC", nullptr));
  EVP_PKEY* raw = nullptr;
  ASSERT_EQ(EVP_PKEY_fromdata_init(from.get()), 1);
  ASSERT_EQ(EVP_PKEY_fromdata(from.get(), &raw, EVP_PKEY_PUBLIC_KEY, params),
            1);
  base::EvpPkeyPtr ours_pub(raw);
  base::EvpPkeyCtxPtr ctx(
      EVP_PKEY_CTX_new_from_pkey(nullptr, peer.get(), nullptr));
  ASSERT_EQ(EVP_PKEY_derive_init(ctx.get()), 1);
  ASSERT_EQ(EVP_PKEY_derive_set_peer(ctx.get(), ours_pub.get()), 1);
  std::vector<uint8_t> theirs(32);
  len = theirs.size();
  ASSERT_EQ(EVP_PKEY_derive(ctx.get(), theirs.data(), &len), 1);
  ASSERT_EQ(len, 32u);
  EXPECT_EQ(std::vector<uint8_t>(secret->span().begin(), secret->span().end()),
            theirs);
}

TEST(KeyAgreementTest, P256RefusesBadPeerValues) {
  auto ka = Make(Curve::kP256);
  auto other = Make(Curve::kP256);
  ASSERT_TRUE(ka && other);
  const std::vector<uint8_t>& q = other->public_value();
  ASSERT_TRUE(ka->Compute(q).ok());

  ExpectRefused(*ka, {}, "empty");
  ExpectRefused(*ka, {0x00}, "point at infinity");
  ExpectRefused(*ka, std::vector<uint8_t>(q.begin(), q.end() - 1), "64 bytes");
  std::vector<uint8_t> longer = q;
  longer.push_back(0);
  ExpectRefused(*ka, longer, "66 bytes");
  std::vector<uint8_t> compressed(q.begin(), q.begin() + 33);
  compressed[0] = 0x02 | (q[64] & 1);
  ExpectRefused(*ka, compressed, "compressed point");
  std::vector<uint8_t> hybrid = q;
  hybrid[0] = 0x06 | (q[64] & 1);
  ExpectRefused(*ka, hybrid, "hybrid point");
  std::vector<uint8_t> off = q;
  off[64] ^= 0x01;
  ExpectRefused(*ka, off, "off-curve point");
  std::vector<uint8_t> zeros(65, 0);
  zeros[0] = 0x04;
  ExpectRefused(*ka, zeros, "(0, 0)");
  // x = p (not a field element).
  std::vector<uint8_t> big =
      Hex("04ffffffff00000001000000000000000000000000ffffffffffffffffffffffff");
  big.insert(big.end(), q.begin() + 33, q.end());
  ExpectRefused(*ka, big, "x = p");
  // An X25519 value.
  ExpectRefused(*ka, std::vector<uint8_t>(32, 9), "32 bytes");
}

TEST(KeyAgreementTest, RandomPeerValuesNeverCrash) {
  std::mt19937_64 rng(20240611);
  auto x = Make(Curve::kX25519);
  auto p = Make(Curve::kP256);
  ASSERT_TRUE(x && p);
  int x_ok = 0;
  for (int i = 0; i < 3000; ++i) {
    size_t size = i % 3 == 0 ? rng() % 100 : (i % 3 == 1 ? 32 : 65);
    std::vector<uint8_t> v(size);
    for (auto& b : v) b = static_cast<uint8_t>(rng());
    if (size == 65 && i % 2 == 0) v[0] = 0x04;
    auto sx = x->Compute(v);
    if (sx.ok()) {
      ++x_ok;
      EXPECT_EQ(v.size(), 32u);
      EXPECT_EQ(sx->size(), 32u);
    } else {
      EXPECT_EQ(sx.status().code(), absl::StatusCode::kInvalidArgument);
    }
    // A random 65-byte string is on P-256 with negligible probability.
    auto sp = p->Compute(v);
    EXPECT_FALSE(sp.ok());
    if (!sp.ok()) {
      EXPECT_EQ(sp.status().code(), absl::StatusCode::kInvalidArgument);
    }
  }
  // Almost every random 32-byte string is a usable X25519 value.
  EXPECT_GT(x_ok, 900);
}

}  // namespace
}  // namespace sallyport::ssh::crypto
