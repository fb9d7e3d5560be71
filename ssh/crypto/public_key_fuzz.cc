// Fuzz target: key parsers. The input is tried as a public key blob, as an
// authorized_keys line, as private key text, and as the binary body of an
// openssh-key-v1 file (armoured here, so the fuzzer reaches the binary
// parser without having to discover base64). Whatever parses must
// round-trip; any broken invariant aborts.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "ssh/crypto/keys.h"

namespace {

using sallyport::ssh::crypto::Base64Encode;
using sallyport::ssh::crypto::Bytes;
using sallyport::ssh::crypto::PrivateKey;
using sallyport::ssh::crypto::PublicKey;

void Check(bool condition) {
  if (!condition) std::abort();
}

// A parsed public key: its blob and its line re-parse to the same key.
void CheckPublicKey(const PublicKey& key) {
  auto again = PublicKey::FromBlob(key.Blob());
  Check(again.ok() && *again == key && again->Blob() == key.Blob());
  auto line = PublicKey::FromAuthorizedKeysLine(key.ToAuthorizedKeysLine("c"));
  Check(line.ok() && *line == key);
  const std::string fp = key.FingerprintSha256();
  Check(fp.size() == 7 + 43 && fp.rfind("SHA256:", 0) == 0);
  Check(key.Bits() >= 256);
}

void CheckPrivateKey(const PrivateKey& key) {
  CheckPublicKey(key.public_key());
  auto text = key.ToOpenSshFormat("fuzz");
  Check(text.ok());
  auto again = PrivateKey::Parse(text->view());
  Check(again.ok() && again->public_key() == key.public_key());
  static const uint8_t kData[] = {'f', 'u', 'z', 'z'};
  auto sig = key.Sign(kData);
  Check(sig.ok());
  Check(key.public_key().Verify(kData, *sig).ok());
  Check(again->public_key().Verify(kData, *sig, key.SignatureAlgorithm()).ok());
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const uint8_t kEmpty = 0;
  const Bytes bytes(size == 0 ? &kEmpty : data, size);
  const std::string_view text(reinterpret_cast<const char*>(bytes.data()),
                              size);

  auto blob_key = PublicKey::FromBlob(bytes);
  if (blob_key.ok()) {
    // Parsing is strict, so the accepted input is the canonical blob.
    Check(blob_key->Blob() == std::vector<uint8_t>(bytes.begin(), bytes.end()));
    CheckPublicKey(*blob_key);
    // Any signature the key is asked to check is refused or fails; never
    // crashes. The input itself is a handy malformed signature blob.
    Check(!blob_key->Verify(bytes, bytes).ok());
  }

  auto line_key = PublicKey::FromAuthorizedKeysLine(text);
  if (line_key.ok()) CheckPublicKey(*line_key);

  auto private_key = PrivateKey::Parse(text);
  if (private_key.ok()) CheckPrivateKey(*private_key);

  std::string armoured = "-----BEGIN OPENSSH PRIVATE KEY-----\n";
  armoured += Base64Encode(bytes);
  armoured += "\n-----END OPENSSH PRIVATE KEY-----\n";
  auto binary_key = PrivateKey::Parse(armoured);
  if (binary_key.ok()) CheckPrivateKey(*binary_key);
  return 0;
}
