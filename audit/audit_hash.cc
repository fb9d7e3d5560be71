#include "audit/audit_hash.h"

#include <openssl/evp.h>

#include "absl/strings/str_cat.h"
#include "base/openssl_handles.h"

namespace sallyport::audit {
namespace {

constexpr std::string_view kDomain = "sallyport.audit.v1";

void PutUint32(std::string& out, uint32_t v) {
  for (int shift = 24; shift >= 0; shift -= 8) {
    out.push_back(static_cast<char>((v >> shift) & 0xff));
  }
}

void PutUint64(std::string& out, uint64_t v) {
  for (int shift = 56; shift >= 0; shift -= 8) {
    out.push_back(static_cast<char>((v >> shift) & 0xff));
  }
}

void PutString(std::string& out, std::string_view s) {
  PutUint32(out, static_cast<uint32_t>(s.size()));
  out.append(s.data(), s.size());
}

}  // namespace

std::string AuditCanonicalEncoding(uint64_t seq, absl::Time time,
                                   std::string_view type,
                                   std::string_view actor,
                                   std::string_view payload_json,
                                   std::string_view prev_hash) {
  std::string out;
  out.reserve(kDomain.size() + 36 + type.size() + actor.size() +
              payload_json.size() + prev_hash.size());
  PutString(out, kDomain);
  PutUint64(out, seq);
  PutUint64(out, static_cast<uint64_t>(absl::ToUnixMicros(time)));
  PutString(out, type);
  PutString(out, actor);
  PutString(out, payload_json);
  PutString(out, prev_hash);
  return out;
}

absl::StatusOr<std::string> Sha256Hex(std::string_view data) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int digest_len = 0;
  base::EvpMdCtxPtr ctx(EVP_MD_CTX_new());
  if (ctx == nullptr ||
      EVP_DigestInit_ex(ctx.get(), EVP_sha256(), nullptr) != 1 ||
      EVP_DigestUpdate(ctx.get(), data.data(), data.size()) != 1 ||
      EVP_DigestFinal_ex(ctx.get(), digest, &digest_len) != 1) {
    return absl::InternalError(
        absl::StrCat("SHA-256 failed: ", base::OpenSslErrorString()));
  }
  static constexpr char kHex[] = "0123456789abcdef";
  std::string hex;
  hex.reserve(digest_len * 2);
  for (unsigned int i = 0; i < digest_len; ++i) {
    hex.push_back(kHex[digest[i] >> 4]);
    hex.push_back(kHex[digest[i] & 0xf]);
  }
  return hex;
}

absl::StatusOr<std::string> AuditEventHash(const AuditEvent& event) {
  return Sha256Hex(AuditCanonicalEncoding(event.seq, event.time, event.type,
                                          event.actor, event.payload_json,
                                          event.prev_hash));
}

absl::Status VerifyAuditChain(const AuditHead& before,
                              const std::vector<AuditEvent>& events) {
  uint64_t seq = before.seq;
  std::string prev = before.hash;
  for (const AuditEvent& e : events) {
    if (e.seq != seq + 1) {
      return absl::DataLossError(absl::StrCat("audit chain: expected seq ",
                                              seq + 1, ", found ", e.seq));
    }
    if (e.prev_hash != prev) {
      return absl::DataLossError(absl::StrCat("audit chain: event ", e.seq,
                                              " does not follow event ", seq));
    }
    absl::StatusOr<std::string> hash = AuditEventHash(e);
    if (!hash.ok()) return hash.status();
    if (*hash != e.hash) {
      return absl::DataLossError(
          absl::StrCat("audit chain: event ", e.seq, " has a wrong hash"));
    }
    seq = e.seq;
    prev = e.hash;
  }
  return absl::OkStatus();
}

}  // namespace sallyport::audit
