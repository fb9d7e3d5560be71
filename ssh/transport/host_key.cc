#include "ssh/transport/host_key.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "ssh/wire/reader.h"

namespace sallyport::ssh::transport {

std::vector<std::string> PlainHostKeyAlgorithms(crypto::KeyType type) {
  switch (type) {
    case crypto::KeyType::kEd25519:
      return {"ssh-ed25519"};
    case crypto::KeyType::kEcdsaP256:
      return {"ecdsa-sha2-nistp256"};
    case crypto::KeyType::kRsa:
      return {"rsa-sha2-512", "rsa-sha2-256"};
  }
  return {};
}

std::vector<std::string> ServerHostKey::Algorithms() const {
  std::vector<std::string> out;
  if (!certificate.empty()) {
    wire::Reader r(certificate);
    auto name = r.ReadStringView(128);
    if (name.ok()) out.emplace_back(*name);
  }
  for (auto& a : PlainHostKeyAlgorithms(key.type()))
    out.push_back(std::move(a));
  return out;
}

std::vector<std::string> PinnedHostKeyPolicy::Algorithms() const {
  std::vector<std::string> out;
  for (const auto& k : keys_) {
    for (auto& a : PlainHostKeyAlgorithms(k.type())) {
      if (std::find(out.begin(), out.end(), a) == out.end())
        out.push_back(std::move(a));
    }
  }
  return out;
}

absl::StatusOr<crypto::PublicKey> PinnedHostKeyPolicy::Check(
    std::string_view, wire::Bytes host_key_blob) {
  auto key = crypto::PublicKey::FromBlob(host_key_blob);
  if (!key.ok()) {
    return absl::UnauthenticatedError(absl::StrCat(
        "server host key is not a usable plain key: ", key.status().message()));
  }
  for (const auto& pinned : keys_) {
    if (pinned == *key) return *key;
  }
  return absl::UnauthenticatedError(absl::StrCat(
      "server host key ", key->FingerprintSha256(), " is not the pinned key"));
}

}  // namespace sallyport::ssh::transport
