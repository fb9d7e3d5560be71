// SSH protocol version exchange (RFC 4253 §4.2), I/O-free.
#ifndef SALLYPORT_SSH_TRANSPORT_VERSION_H_
#define SALLYPORT_SSH_TRANSPORT_VERSION_H_

#include <cstddef>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "ssh/wire/reader.h"

namespace sallyport::ssh::transport {

// Limits on what a peer may send before and as its version line.
inline constexpr size_t kMaxVersionLineLength = 255;  // including CR LF
inline constexpr size_t kMaxPreBannerLineLength = 1024;
inline constexpr size_t kMaxPreBannerLines = 1024;
inline constexpr size_t kMaxPreBannerBytes = 64 * 1024;

// Accumulates the peer's first bytes until its version line is complete.
// A server (allow_pre_banner = false on the server side, since only servers
// may send other lines first) refuses anything before "SSH-".
class VersionReader {
 public:
  explicit VersionReader(bool allow_pre_banner)
      : allow_pre_banner_(allow_pre_banner) {}

  // Consumes bytes from `data` up to and including the version line's LF.
  // Returns the number of bytes consumed; once done() the rest belongs to
  // the binary packet protocol. Errors (kInvalidArgument/kResourceExhausted)
  // are final: too long a line, too many or too long pre-banner lines, NUL
  // bytes, a protocol version other than 2.0 (or 1.99).
  absl::StatusOr<size_t> Feed(wire::Bytes data);
  bool done() const { return version_.has_value(); }
  // The version line without CR LF, e.g. "SSH-2.0-OpenSSH_9.2p1 Debian".
  const std::string& version() const { return *version_; }

 private:
  absl::Status FinishLine();
  bool allow_pre_banner_;
  std::string line_;
  size_t pre_banner_lines_ = 0;
  size_t pre_banner_bytes_ = 0;
  std::optional<std::string> version_;
};

}  // namespace sallyport::ssh::transport

#endif  // SALLYPORT_SSH_TRANSPORT_VERSION_H_
