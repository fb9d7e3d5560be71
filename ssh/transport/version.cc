#include "ssh/transport/version.h"

#include "absl/strings/str_cat.h"

namespace sallyport::ssh::transport {

absl::StatusOr<size_t> VersionReader::Feed(wire::Bytes data) {
  size_t used = 0;
  while (used < data.size() && !done()) {
    char c = static_cast<char>(data[used++]);
    if (c == '\0')
      return absl::InvalidArgumentError("NUL byte in version exchange");
    if (c != '\n') {
      line_.push_back(c);
      // A version line is at most 255 bytes with CR LF; other lines are
      // bounded separately. Check as we go so a 1 MB line costs nothing.
      bool is_version =
          std::string_view(line_).starts_with("SSH-") || line_.size() < 4;
      size_t limit =
          is_version ? kMaxVersionLineLength - 1 : kMaxPreBannerLineLength;
      if (line_.size() > limit) {
        return absl::InvalidArgumentError(
            is_version ? "version line longer than 255 bytes"
                       : "line before the version line is too long");
      }
      if (!allow_pre_banner_ && line_.size() >= 4 &&
          !std::string_view(line_).starts_with("SSH-")) {
        return absl::InvalidArgumentError(
            "peer did not start with an SSH version line");
      }
      continue;
    }
    absl::Status s = FinishLine();
    if (!s.ok()) return s;
  }
  return used;
}

absl::Status VersionReader::FinishLine() {
  std::string line = std::move(line_);
  line_.clear();
  if (!line.empty() && line.back() == '\r') line.pop_back();
  if (std::string_view(line).starts_with("SSH-")) {
    if (!std::string_view(line).starts_with("SSH-2.0-") &&
        !std::string_view(line).starts_with("SSH-1.99-")) {
      return absl::InvalidArgumentError(
          absl::StrCat("unsupported protocol version: ", line.substr(0, 16)));
    }
    for (char c : line) {
      if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) {
        return absl::InvalidArgumentError("control character in version line");
      }
    }
    version_ = std::move(line);
    return absl::OkStatus();
  }
  if (!allow_pre_banner_) {
    return absl::InvalidArgumentError(
        "peer did not start with an SSH version line");
  }
  ++pre_banner_lines_;
  pre_banner_bytes_ += line.size() + 1;
  if (pre_banner_lines_ > kMaxPreBannerLines ||
      pre_banner_bytes_ > kMaxPreBannerBytes) {
    return absl::ResourceExhaustedError(
        "too many lines before the SSH version line");
  }
  return absl::OkStatus();
}

}  // namespace sallyport::ssh::transport
