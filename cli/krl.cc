#include "cli/krl.h"

#include <algorithm>

#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "ssh/wire/writer.h"

namespace sallyport::cli {
namespace {

constexpr uint64_t kKrlMagic = 0x5353484b524c0a00ULL;  // "SSHKRL\n\0"
constexpr uint32_t kKrlFormatVersion = 1;
constexpr uint8_t kSectionCertificates = 1;
constexpr uint8_t kSectionFingerprintSha256 = 5;
constexpr uint8_t kCertSectionSerialList = 0x20;

}  // namespace

absl::StatusOr<std::string> BuildKrl(const KrlContents& contents,
                                     size_t max_entries) {
  if (contents.serials.size() > max_entries ||
      contents.key_sha256.size() > max_entries - contents.serials.size()) {
    return absl::InvalidArgumentError(
        "too many revocations for one KRL (the limit is kMaxKrlEntries)");
  }
  if (!contents.serials.empty() && contents.ca_keys.empty()) {
    return absl::InvalidArgumentError("revoked serials need a CA key");
  }
  std::vector<uint64_t> serials = contents.serials;
  std::sort(serials.begin(), serials.end());
  serials.erase(std::unique(serials.begin(), serials.end()), serials.end());
  std::vector<std::array<uint8_t, 32>> hashes = contents.key_sha256;
  std::sort(hashes.begin(), hashes.end());
  hashes.erase(std::unique(hashes.begin(), hashes.end()), hashes.end());

  ssh::wire::Writer w;
  w.Uint64(kKrlMagic)
      .Uint32(kKrlFormatVersion)
      .Uint64(contents.version)
      .Uint64(static_cast<uint64_t>(absl::ToUnixSeconds(contents.generated)))
      .Uint64(0)  // flags
      .String(std::string_view())
      .String(contents.comment);
  if (!serials.empty()) {
    for (const std::vector<uint8_t>& ca : contents.ca_keys) {
      w.Byte(kSectionCertificates);
      const size_t section = w.BeginLength();
      w.String(ca).String(std::string_view());  // ca_key, reserved
      w.Byte(kCertSectionSerialList);
      const size_t list = w.BeginLength();
      for (uint64_t s : serials) w.Uint64(s);
      w.FinishLength(list);
      w.FinishLength(section);
    }
  }
  if (!hashes.empty()) {
    w.Byte(kSectionFingerprintSha256);
    const size_t section = w.BeginLength();
    for (const auto& h : hashes) {
      w.String(ssh::wire::Bytes(h.data(), h.size()));
    }
    w.FinishLength(section);
  }
  return w.TakeString();
}

absl::Status AddRevocations(
    const std::vector<::sallyport::ca::v1::Revocation>& revocations,
    KrlContents* contents) {
  using ::sallyport::ca::v1::Revocation;
  for (const Revocation& r : revocations) {
    if (r.target_case() == Revocation::kSerial) {
      contents->serials.push_back(r.serial());
    } else if (r.target_case() == Revocation::kKeyFingerprint) {
      absl::StatusOr<std::array<uint8_t, 32>> hash =
          ParseSha256Fingerprint(r.key_fingerprint());
      if (!hash.ok()) {
        return absl::InvalidArgumentError(
            absl::StrCat("the CA sent revocation ", r.id(),
                         " with a key fingerprint that is not "
                         "SHA256:<base64>"));
      }
      contents->key_sha256.push_back(*hash);
    }
    if (r.id() > 0) {
      contents->version =
          std::max(contents->version, static_cast<uint64_t>(r.id()));
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<std::array<uint8_t, 32>> ParseSha256Fingerprint(
    std::string_view text) {
  absl::string_view b64(text.data(), text.size());
  if (!absl::ConsumePrefix(&b64, "SHA256:")) {
    return absl::InvalidArgumentError("a key fingerprint is SHA256:<base64>");
  }
  std::string raw;
  if (b64.size() != 43 || !absl::Base64Unescape(b64, &raw) ||
      raw.size() != 32) {
    return absl::InvalidArgumentError("a key fingerprint is SHA256:<base64>");
  }
  std::array<uint8_t, 32> out;
  std::copy(raw.begin(), raw.end(), out.begin());
  return out;
}

}  // namespace sallyport::cli
