// The SHA-256 chain over records' canonical bytes (see recording_record.h)
// and the stream hasher of exec output summaries.
#include <openssl/evp.h>

#include <string>
#include <string_view>
#include <utility>

#include "absl/strings/str_cat.h"
#include "audit/recording_record.h"
#include "audit/recording_record_internal.h"
#include "base/openssl_handles.h"
#include "base/status_macros.h"

namespace sallyport::audit {

using recording_record_internal::AppendCanonical;
using recording_record_internal::AppendCanonicalHead;
using recording_record_internal::FieldsView;
using recording_record_internal::ViewOf;

namespace {

// SHA-256(prev_hash || canonical || tail) into `digest` (32 bytes): the
// canonical bytes may come in two pieces (a record's head, then its data
// in place).
absl::Status Sha256Chain(std::string_view prev_hash, std::string_view canonical,
                         unsigned char* digest, std::string_view tail = {}) {
  unsigned int len = 0;
  base::EvpMdCtxPtr ctx(EVP_MD_CTX_new());
  if (ctx == nullptr ||
      EVP_DigestInit_ex(ctx.get(), EVP_sha256(), nullptr) != 1 ||
      EVP_DigestUpdate(ctx.get(), prev_hash.data(), prev_hash.size()) != 1 ||
      EVP_DigestUpdate(ctx.get(), canonical.data(), canonical.size()) != 1 ||
      EVP_DigestUpdate(ctx.get(), tail.data(), tail.size()) != 1 ||
      EVP_DigestFinal_ex(ctx.get(), digest, &len) != 1 || len != 32) {
    return absl::InternalError(
        absl::StrCat("SHA-256 failed: ", base::OpenSslErrorString()));
  }
  return absl::OkStatus();
}

std::string Hex(const unsigned char* digest, size_t len) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string hex;
  hex.reserve(len * 2);
  for (size_t i = 0; i < len; ++i) {
    hex.push_back(kHex[digest[i] >> 4]);
    hex.push_back(kHex[digest[i] & 0xf]);
  }
  return hex;
}

}  // namespace

absl::StatusOr<std::string> ChainHash(std::string_view prev_hash,
                                      std::string_view canonical) {
  unsigned char digest[32];
  RETURN_IF_ERROR(Sha256Chain(prev_hash, canonical, digest));
  return Hex(digest, sizeof digest);
}

absl::StatusOr<std::string> RecordHash(std::string_view prev_hash,
                                       const v1::RecordingRecord& record) {
  // The data is hashed where it is, not copied into the canonical bytes.
  const FieldsView view = ViewOf(record);
  std::string head;
  AppendCanonicalHead(view, head);
  unsigned char digest[32];
  RETURN_IF_ERROR(Sha256Chain(prev_hash, head, digest, view.data));
  return Hex(digest, sizeof digest);
}

absl::Status RecordChainer::Append(v1::RecordingRecord& record) {
  std::string canonical;
  return AppendTo(record, canonical, nullptr);
}

absl::Status RecordChainer::AppendTo(v1::RecordingRecord& record,
                                     std::string& out, std::string* raw_hash) {
  record.set_session_id(session_id_);
  record.set_seq(last_seq_ + 1);
  record.clear_hash();
  RETURN_IF_ERROR(ValidateRecord(record));
  const size_t start = out.size();
  AppendCanonical(ViewOf(record), out);
  unsigned char digest[32];
  absl::Status hashed = Sha256Chain(
      head_, std::string_view(out).substr(start, out.size() - start), digest);
  if (!hashed.ok()) {
    out.resize(start);
    return hashed;
  }
  std::string hash = Hex(digest, sizeof digest);
  record.set_hash(hash);
  if (raw_hash != nullptr) {
    raw_hash->assign(reinterpret_cast<const char*>(digest), sizeof digest);
  }
  ++last_seq_;
  head_ = std::move(hash);
  return absl::OkStatus();
}

StreamHasher::StreamHasher() { Start(); }

void StreamHasher::Start() {
  ctx_.reset(EVP_MD_CTX_new());
  failed_ = ctx_ == nullptr ||
            EVP_DigestInit_ex(ctx_.get(), EVP_sha256(), nullptr) != 1;
}

void StreamHasher::Update(std::string_view bytes) {
  if (failed_) return;
  if (EVP_DigestUpdate(ctx_.get(), bytes.data(), bytes.size()) != 1) {
    failed_ = true;
  }
}

absl::StatusOr<std::string> StreamHasher::Finish() {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  const bool ok = !failed_ && EVP_DigestFinal_ex(ctx_.get(), digest, &len) == 1;
  Start();
  if (!ok) {
    return absl::InternalError(
        absl::StrCat("SHA-256 failed: ", base::OpenSslErrorString()));
  }
  return std::string(reinterpret_cast<const char*>(digest), len);
}

}  // namespace sallyport::audit
