// Private to //ssh/transport: the state of a key exchange in progress and
// small helpers shared by transport.cc and transport_kex.cc.
#ifndef SALLYPORT_SSH_TRANSPORT_TRANSPORT_INTERNAL_H_
#define SALLYPORT_SSH_TRANSPORT_TRANSPORT_INTERNAL_H_

#include <algorithm>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "base/safe_text.h"
#include "ssh/crypto/cipher.h"
#include "ssh/transport/kex.h"
#include "ssh/transport/kex_agreement.h"
#include "ssh/transport/transport.h"

namespace sallyport::ssh::transport {

struct Transport::KexState {
  absl::Duration started;  // on the clock's Monotonic()
  std::vector<uint8_t> our_kexinit;
  std::vector<uint8_t> peer_kexinit;
  bool kexinit_received = false;
  bool ignore_next_kex_packet = false;
  Algorithms algorithms;
  std::unique_ptr<KexAgreement> ephemeral;
  bool ecdh_done = false;
  bool newkeys_sent = false;
  bool newkeys_received = false;
  std::unique_ptr<crypto::PacketCipher> next_out;
  std::unique_ptr<crypto::PacketCipher> next_in;
};

namespace internal {

inline bool Contains(const std::vector<std::string>& list,
                     std::string_view name) {
  return std::find(list.begin(), list.end(), name) != list.end();
}

// Printable text for logs and errors from peer-controlled strings.
inline std::string Sanitize(std::string_view s, size_t max = 200) {
  return base::SafeText(s, max);
}

inline std::string PhaseName(Phase p) {
  switch (p) {
    case Phase::kInitialKex:
      return "initial key exchange";
    case Phase::kService:
      return "service request";
    case Phase::kUserauth:
      return "user authentication";
    case Phase::kAuthenticated:
      return "authenticated";
  }
  return "?";
}

}  // namespace internal
}  // namespace sallyport::ssh::transport

#endif  // SALLYPORT_SSH_TRANSPORT_TRANSPORT_INTERNAL_H_
