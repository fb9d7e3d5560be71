#include "ssh/cert/sign.h"

#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <pthread.h>

#include <algorithm>
#include <atomic>
#include <cstring>
#include <set>
#include <string>
#include <string_view>
#include <utility>

#include "absl/strings/str_cat.h"
#include "ssh/cert/source_address.h"
#include "ssh/wire/reader.h"
#include "ssh/wire/writer.h"

namespace sallyport::ssh::cert {
namespace {

constexpr size_t kNonceLength = 32;
constexpr size_t kMaxKeyIdLength = 1024;

std::string Str(std::string_view s) { return std::string(s); }

absl::Status Bad(std::string_view why) {
  return absl::InvalidArgumentError(
      absl::StrCat("certificate request: ", Str(why)));
}

bool HasControl(std::string_view s, bool allow_tab = false) {
  for (unsigned char c : s) {
    if (allow_tab && c == '\t') continue;
    if (c < 0x20 || c == 0x7f) return true;
  }
  return false;
}

bool IsPermitFlag(std::string_view name) {
  return name == kPermitPty || name == kPermitPortForwarding ||
         name == kPermitAgentForwarding || name == kPermitX11Forwarding ||
         name == kPermitUserRc;
}

absl::Status CheckNames(const std::vector<CertOption>& options,
                        std::string_view what) {
  std::set<std::string> seen;
  for (const CertOption& o : options) {
    if (o.name.empty() || HasControl(o.name)) {
      return Bad(absl::StrCat(Str(what), " with an empty or unprintable name"));
    }
    if (!seen.insert(o.name).second) {
      return Bad(absl::StrCat(Str(what), " \"", o.name, "\" given twice"));
    }
  }
  return absl::OkStatus();
}

absl::Status CheckCriticalOption(const CertOption& o) {
  if (o.name == kForceCommand) {
    auto command = o.Value();
    if (!command.ok() || command->empty() ||
        HasControl(*command, /*allow_tab=*/true)) {
      return Bad("force-command needs a command without control characters");
    }
  } else if (o.name == kSourceAddress) {
    auto list = o.Value();
    if (!list.ok()) return Bad("source-address needs a value");
    auto parsed = ParseSourceAddressList(*list);
    if (!parsed.ok()) return Bad(std::string(parsed.status().message()));
  } else if (o.name == kVerifyRequired) {
    if (!o.data.empty()) return Bad("verify-required is a flag");
  } else {
    return Bad(absl::StrCat("unknown critical option \"", o.name, "\""));
  }
  return absl::OkStatus();
}

absl::Status CheckExtension(const CertOption& o) {
  if (IsPermitFlag(o.name)) {
    if (!o.data.empty()) return Bad(absl::StrCat(o.name, " is a flag"));
    return absl::OkStatus();
  }
  if (o.data.empty()) return absl::OkStatus();
  wire::Reader r(o.data);
  if (!r.ReadString().ok() || !r.ExpectEnd().ok()) {
    return Bad(absl::StrCat("extension \"", o.name,
                            "\" data is not exactly one string"));
  }
  return absl::OkStatus();
}

// Certificate nonces come from a per-thread buffer refilled by one
// RAND_bytes call per kNoncesPerRefill certificates: OpenSSL 3.0's DRBG does
// a fork check (a getpid() system call) and takes its lock on every call,
// which cost more than the 32 bytes themselves. The bytes are the DRBG's,
// unpredictable as before, and each is used once. A forked child drops what
// it inherited (pthread_atfork bumps the generation), so a parent and its
// child never hand out the same nonce.
constexpr size_t kNoncesPerRefill = 64;
std::atomic<uint64_t> nonce_generation{0};

void DropInheritedNonces() {
  nonce_generation.fetch_add(1, std::memory_order_relaxed);
}

absl::Status FillNonce(std::vector<uint8_t>& nonce) {
  nonce.resize(kNonceLength);
  static const bool registered =
      pthread_atfork(nullptr, nullptr, DropInheritedNonces) == 0;
  if (!registered) {  // no fork protection: no buffer either
    return RAND_bytes(nonce.data(), static_cast<int>(kNonceLength)) == 1
               ? absl::OkStatus()
               : absl::InternalError("RAND_bytes failed");
  }
  thread_local struct {
    uint8_t bytes[kNonceLength * kNoncesPerRefill];
    size_t used = sizeof(bytes);  // empty: refilled at the first use
    uint64_t generation = 0;
  } pool;
  const uint64_t generation = nonce_generation.load(std::memory_order_relaxed);
  if (pool.generation != generation || pool.used == sizeof(pool.bytes)) {
    if (RAND_bytes(pool.bytes, static_cast<int>(sizeof(pool.bytes))) != 1) {
      pool.used = sizeof(pool.bytes);
      return absl::InternalError("RAND_bytes failed");
    }
    pool.used = 0;
    pool.generation = generation;
  }
  std::memcpy(nonce.data(), pool.bytes + pool.used, kNonceLength);
  // Wiped once taken, so no nonce is handed out twice.
  OPENSSL_cleanse(pool.bytes + pool.used, kNonceLength);
  pool.used += kNonceLength;
  return absl::OkStatus();
}

std::vector<CertOption> Sorted(std::vector<CertOption> options) {
  std::sort(
      options.begin(), options.end(),
      [](const CertOption& a, const CertOption& b) { return a.name < b.name; });
  return options;
}

}  // namespace

absl::Status CertificateRequest::Validate() const {
  if (!public_key.has_value()) return Bad("no public key");
  if (type != CertType::kUser && type != CertType::kHost) {
    return Bad("type must be user or host");
  }
  if (key_id.empty() || key_id.size() > kMaxKeyIdLength || HasControl(key_id)) {
    return Bad("key id must be 1..1024 printable bytes");
  }
  if (principals.empty()) return Bad("no principals");
  if (principals.size() > kMaxPrincipals) {
    return Bad(absl::StrCat("more than ", kMaxPrincipals, " principals"));
  }
  std::set<std::string> seen;
  for (const std::string& p : principals) {
    if (p.empty() || HasControl(p) || p.find(',') != std::string::npos) {
      return Bad("principals must be non-empty, printable and without ','");
    }
    if (!seen.insert(p).second) {
      return Bad(absl::StrCat("principal \"", p, "\" given twice"));
    }
  }
  if (valid_after >= valid_before) {
    return Bad("valid_after must be before valid_before");
  }
  if (absl::Status s = CheckNames(critical_options, "critical option");
      !s.ok()) {
    return s;
  }
  if (absl::Status s = CheckNames(extensions, "extension"); !s.ok()) return s;
  if (type == CertType::kHost && !critical_options.empty()) {
    return Bad("host certificates cannot have critical options");
  }
  for (const CertOption& o : critical_options) {
    if (absl::Status s = CheckCriticalOption(o); !s.ok()) return s;
  }
  for (const CertOption& o : extensions) {
    if (absl::Status s = CheckExtension(o); !s.ok()) return s;
  }
  return absl::OkStatus();
}

absl::StatusOr<Certificate> SignCertificate(const CertificateRequest& request,
                                            const crypto::PrivateKey& ca) {
  if (absl::Status s = request.Validate(); !s.ok()) return s;

  Certificate cert(*request.public_key);
  cert.type_name =
      std::string(CertTypeForPlainKeyType(request.public_key->TypeName()));
  if (cert.type_name.empty()) return absl::InternalError("unknown key type");
  if (absl::Status s = FillNonce(cert.nonce); !s.ok()) return s;
  cert.serial = request.serial;
  cert.type = request.type;
  cert.key_id = request.key_id;
  cert.principals = request.principals;
  cert.valid_after = request.valid_after;
  cert.valid_before = request.valid_before;
  cert.critical_options = Sorted(request.critical_options);
  cert.extensions = Sorted(request.extensions);
  cert.signature_key_blob = ca.public_key().Blob();

  std::vector<uint8_t> blob = cert.EncodeToBeSigned();
  auto signature = ca.Sign(blob);
  if (!signature.ok()) {
    return absl::InternalError(absl::StrCat("signing the certificate failed: ",
                                            signature.status().message()));
  }
  cert.signed_length = blob.size();
  wire::Writer w(&blob);
  w.String(*signature);
  cert.signature_key = ca.public_key();
  cert.signature_algorithm = std::string(ca.SignatureAlgorithm());
  cert.signature = *std::move(signature);
  cert.blob = std::move(blob);

#ifndef NDEBUG
  // Debug and test builds: never hand out something we would not accept
  // ourselves. (Release builds skip it: checking an Ed25519 signature costs
  // twice as much as making it, and the CA signs thousands per second;
  // sign_render_test verifies what this function signs with both key
  // types.)
  auto parsed = Certificate::Parse(cert.blob);
  if (!parsed.ok()) {
    return absl::InternalError(absl::StrCat(
        "issued certificate does not parse: ", parsed.status().message()));
  }
  if (parsed->Encode() != cert.blob ||
      parsed->signature_algorithm != cert.signature_algorithm ||
      parsed->signed_length != cert.signed_length) {
    return absl::InternalError("issued certificate does not parse back");
  }
  absl::Status verified = ca.public_key().Verify(
      parsed->SignedData(), parsed->signature, ca.SignatureAlgorithm());
  if (!verified.ok()) {
    return absl::InternalError("issued certificate signature does not verify");
  }
#endif
  return cert;
}

}  // namespace sallyport::ssh::cert
