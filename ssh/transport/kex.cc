#include "ssh/transport/kex.h"

#include <algorithm>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "ssh/crypto/cipher.h"
#include "ssh/transport/kex_agreement.h"
#include "ssh/wire/writer.h"

namespace sallyport::ssh::transport {
namespace {

bool Contains(const std::vector<std::string>& list, const std::string& name) {
  return std::find(list.begin(), list.end(), name) != list.end();
}

absl::StatusOr<std::string> Pick(const std::vector<std::string>& client,
                                 const std::vector<std::string>& server,
                                 std::string_view what) {
  for (const auto& name : client) {
    if (IsPseudoKexAlgorithm(name)) continue;
    if (Contains(server, name)) return name;
  }
  return absl::FailedPreconditionError(
      absl::StrCat("no matching ", std::string(what), " algorithm"));
}

}  // namespace

const std::vector<std::string>& SupportedKexAlgorithms() {
  static const auto* const kAlgs = new std::vector<std::string>{
      kMlKem768X25519, "curve25519-sha256", "curve25519-sha256@libssh.org",
      "ecdh-sha2-nistp256"};
  return *kAlgs;
}

bool IsPseudoKexAlgorithm(std::string_view name) {
  return name == kExtInfoClient || name == kExtInfoServer ||
         name == kStrictKexClient || name == kStrictKexServer ||
         name.starts_with("kex-strict-") || name.starts_with("ext-info-");
}

absl::StatusOr<Algorithms> Negotiate(const KexInitMsg& client,
                                     const KexInitMsg& server) {
  Algorithms a;
  auto kex = Pick(client.kex_algorithms, server.kex_algorithms, "key exchange");
  if (!kex.ok()) return kex.status();
  a.kex = *kex;
  auto host = Pick(client.server_host_key_algorithms,
                   server.server_host_key_algorithms, "host key");
  if (!host.ok()) return host.status();
  a.host_key = *host;
  auto c2s = Pick(client.encryption_c2s, server.encryption_c2s,
                  "client-to-server cipher");
  if (!c2s.ok()) return c2s.status();
  a.cipher_c2s = *c2s;
  auto s2c = Pick(client.encryption_s2c, server.encryption_s2c,
                  "server-to-client cipher");
  if (!s2c.ok()) return s2c.status();
  a.cipher_s2c = *s2c;
  for (auto [cipher, mac_out, mac_client, mac_server] :
       {std::tuple{&a.cipher_c2s, &a.mac_c2s, &client.mac_c2s, &server.mac_c2s},
        std::tuple{&a.cipher_s2c, &a.mac_s2c, &client.mac_s2c,
                   &server.mac_s2c}}) {
    auto spec = crypto::LookupCipher(*cipher);
    if (!spec.ok()) {
      return absl::FailedPreconditionError(
          absl::StrCat("negotiated an unsupported cipher: ", *cipher));
    }
    if (spec->aead || *cipher == "none") continue;
    auto mac = Pick(*mac_client, *mac_server, "MAC");
    if (!mac.ok()) return mac.status();
    *mac_out = *mac;
  }
  for (auto [c, s] :
       {std::pair{&client.compression_c2s, &server.compression_c2s},
        std::pair{&client.compression_s2c, &server.compression_s2c}}) {
    auto comp = Pick(*c, *s, "compression");
    if (!comp.ok()) return comp.status();
    if (*comp != "none") {
      return absl::FailedPreconditionError(
          absl::StrCat("unsupported compression ", *comp));
    }
  }
  return a;
}

std::string SignatureAlgorithmForHostKey(std::string_view alg) {
  std::string_view base = alg;
  constexpr std::string_view kCertSuffix = "-cert-v01@openssh.com";
  if (base.ends_with(kCertSuffix)) {
    base.remove_suffix(kCertSuffix.size());
    if (base == "ssh-ed25519" || base == "ecdsa-sha2-nistp256" ||
        base == "rsa-sha2-256" || base == "rsa-sha2-512") {
      return std::string(base);
    }
    return "";
  }
  if (base == "ssh-ed25519" || base == "ecdsa-sha2-nistp256" ||
      base == "rsa-sha2-256" || base == "rsa-sha2-512") {
    return std::string(base);
  }
  return "";
}

crypto::HashAlgorithm KexHash(std::string_view) {
  return crypto::HashAlgorithm::kSha256;
}

std::vector<uint8_t> ExchangeHash(crypto::HashAlgorithm hash,
                                  std::string_view v_c, std::string_view v_s,
                                  wire::Bytes i_c, wire::Bytes i_s,
                                  wire::Bytes k_s, wire::Bytes q_c,
                                  wire::Bytes q_s,
                                  const base::SecretBytes& encoded_k) {
  wire::Writer w;
  w.String(v_c)
      .String(v_s)
      .String(i_c)
      .String(i_s)
      .String(k_s)
      .String(q_c)
      .String(q_s);
  crypto::Hasher hasher(hash);
  hasher.Update(w.data());
  hasher.Update(encoded_k.span());
  return hasher.Finish();
}

base::SecretBytes DeriveKey(crypto::HashAlgorithm hash,
                            const base::SecretBytes& encoded_k, wire::Bytes h,
                            char letter, wire::Bytes session_id,
                            size_t length) {
  const base::SecretBytes& k = encoded_k;
  base::SecretBytes out;
  {
    crypto::Hasher hasher(hash);
    const uint8_t l = static_cast<uint8_t>(letter);
    hasher.Update(k.span())
        .Update(h)
        .Update(absl::MakeConstSpan(&l, 1))
        .Update(session_id);
    std::vector<uint8_t> k1 = hasher.Finish();
    out.Append(k1);
    OPENSSL_cleanse(k1.data(), k1.size());
  }
  while (out.size() < length) {
    crypto::Hasher hasher(hash);
    hasher.Update(k.span()).Update(h).Update(out.span());
    std::vector<uint8_t> more = hasher.Finish();
    out.Append(more);
    OPENSSL_cleanse(more.data(), more.size());
  }
  out.Resize(length);
  return out;
}

}  // namespace sallyport::ssh::transport
