#include "gateway/proxy.h"

#include <openssl/rand.h>

#include <random>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "base/plural.h"
#include "gateway/gateway_connection.h"

// GCC 12 at -O1 (the ASan config) reports a false
// -Wmismatched-new-delete for the frames of Asio coroutines.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
#endif

namespace sallyport::gateway {

Proxy::Proxy(ProxyOptions options)
    : options_(std::move(options)),
      clock_(options_.clock != nullptr ? options_.clock : base::Clock::Real()),
      observer_(options_.observer != nullptr ? options_.observer
                                             : &null_observer_),
      limits_(options_.limits),
      host_keys_(options_.host_keys) {
  std::random_device rd;
  id_salt_ = (uint64_t{rd()} << 32) ^ rd();
}

Proxy::~Proxy() = default;

void Proxy::Log(std::string_view line) const {
  if (options_.log) options_.log(line);
}

std::string Proxy::NewSessionId() {
  // 64 fresh random bits per session: another gateway that saw one of our
  // ids (in a target's sshd log, say) cannot tell the next ones and claim
  // them at the CA first. The counter keeps them unique in this process.
  uint64_t random = 0;
  if (RAND_bytes(reinterpret_cast<unsigned char*>(&random), sizeof random) !=
      1) {
    random = id_salt_;  // still unique; only guessable
  }
  return absl::StrFormat("s%016x%06x", random, next_id_.fetch_add(1));
}

absl::Status Proxy::AcquireUser(const std::string& user) {
  absl::MutexLock lock(&mu_);
  int& n = per_user_[user];
  if (n >= limits_.max_sessions_per_user) {
    // The count the user has may be over the limit a SIGHUP lowered.
    const int held = n;
    if (n == 0) per_user_.erase(user);
    return absl::ResourceExhaustedError(absl::StrCat(
        "you already have ", base::Plural(held, "session"),
        " open through this gateway (limits.max_sessions_per_user is ",
        limits_.max_sessions_per_user, ")"));
  }
  ++n;
  return absl::OkStatus();
}

ProxyLimits Proxy::limits() const {
  absl::MutexLock lock(&mu_);
  return limits_;
}

void Proxy::SetLimits(const ProxyLimits& limits) {
  absl::MutexLock lock(&mu_);
  limits_ = limits;
}

std::vector<ssh::transport::ServerHostKey> Proxy::host_keys() const {
  absl::MutexLock lock(&mu_);
  return host_keys_;
}

void Proxy::SetHostKeys(std::vector<ssh::transport::ServerHostKey> keys) {
  absl::MutexLock lock(&mu_);
  host_keys_ = std::move(keys);
}

void Proxy::ReleaseUser(const std::string& user) {
  absl::MutexLock lock(&mu_);
  auto it = per_user_.find(user);
  if (it != per_user_.end() && --it->second <= 0) per_user_.erase(it);
}

void Proxy::Register(GatewayConnection* c) {
  absl::Time at;
  std::string reason;
  std::string_view outcome;
  {
    absl::MutexLock lock(&mu_);
    connections_.emplace(c, CertificateInUse{});
    at = end_all_at_;
    reason = end_all_reason_;
    outcome = end_all_outcome_;
  }
  if (at != absl::InfiniteFuture()) {
    c->EndAt(at, reason, outcome);
    c->AnnounceEnd(at, reason);
  }
}

void Proxy::Unregister(GatewayConnection* c) {
  absl::MutexLock lock(&mu_);
  auto it = connections_.find(c);
  if (it == connections_.end()) return;
  IndexLocked(c, it->second, /*add=*/false);
  connections_.erase(it);
}

void Proxy::IndexLocked(GatewayConnection* c, const CertificateInUse& cert,
                        bool add) {
  if (cert.serial != 0) {
    if (add) {
      by_serial_.emplace(cert.serial, c);
    } else {
      by_serial_.erase({cert.serial, c});
    }
  }
  if (!cert.key_fingerprint.empty()) {
    if (add) {
      by_key_.emplace(cert.key_fingerprint, c);
    } else {
      by_key_.erase({cert.key_fingerprint, c});
    }
  }
}

absl::Status Proxy::UseCertificate(GatewayConnection* c, uint64_t serial,
                                   const std::string& key_fingerprint) {
  {
    absl::MutexLock lock(&mu_);
    auto it = connections_.find(c);
    if (it == connections_.end()) {
      return absl::InternalError("the connection is not registered");
    }
    IndexLocked(c, it->second, /*add=*/false);
    it->second = CertificateInUse{serial, key_fingerprint};
    IndexLocked(c, it->second, /*add=*/true);
  }
  // Indexed before this check, and EndRevoked looks after the CA client
  // added the revocation to its list: either this sees it, or EndRevoked
  // finds `c`.
  return options_.ca->CheckNotRevoked(serial, key_fingerprint);
}

size_t Proxy::active_connections() const {
  absl::MutexLock lock(&mu_);
  return connections_.size();
}

void Proxy::EndAll(absl::Time when, std::string reason,
                   std::string_view outcome) {
  absl::MutexLock lock(&mu_);
  end_all_at_ = when;
  end_all_reason_ = reason;
  end_all_outcome_ = outcome;
  for (const auto& [c, cert] : connections_) {
    // Registered connections are alive until they unregister on their own
    // executor, which runs this after any unregistering already queued.
    std::weak_ptr<GatewayConnection> weak = c->weak_from_this();
    asio::post(c->executor(), [weak, when, reason, outcome] {
      if (auto self = weak.lock()) {
        self->EndAt(when, reason, outcome);
        self->AnnounceEnd(when, reason);
      }
    });
  }
}

size_t Proxy::EndRevoked(uint64_t serial, const std::string& key_fingerprint) {
  absl::MutexLock lock(&mu_);
  std::set<GatewayConnection*> affected;
  if (serial != 0) {
    for (auto it = by_serial_.lower_bound({serial, nullptr});
         it != by_serial_.end() && it->first == serial; ++it) {
      affected.insert(it->second);
    }
  }
  if (!key_fingerprint.empty()) {
    for (auto it = by_key_.lower_bound({key_fingerprint, nullptr});
         it != by_key_.end() && it->first == key_fingerprint; ++it) {
      affected.insert(it->second);
    }
  }
  for (GatewayConnection* c : affected) {
    std::weak_ptr<GatewayConnection> weak = c->weak_from_this();
    // Checked again there: the connection may have gone on to another
    // certificate (UseCertificate) before this runs.
    asio::post(c->executor(), [weak, serial, key_fingerprint] {
      auto self = weak.lock();
      if (self != nullptr && self->UsesCertificate(serial, key_fingerprint)) {
        self->EndAt(absl::Now(), kCertificateRevoked, kOutcomeRevoked);
      }
    });
  }
  return affected.size();
}

std::string RevocationsStaleReason(std::string_view why) {
  return absl::StrCat(
      "Sallyport revocations cannot be checked: ", std::string(why),
      " (revocation_fail_mode: end_sessions)");
}

void Proxy::EndEstablished(std::string reason, std::string_view outcome) {
  absl::MutexLock lock(&mu_);
  for (const auto& [c, cert] : connections_) {
    std::weak_ptr<GatewayConnection> weak = c->weak_from_this();
    asio::post(c->executor(), [weak, reason, outcome] {
      if (auto self = weak.lock()) self->EndAt(absl::Now(), reason, outcome);
    });
  }
}

asio::awaitable<void> Proxy::Serve(
    asio::ip::tcp::socket socket, std::shared_ptr<ssh::net::PreAuthSlot> slot) {
  total_.fetch_add(1);
  auto c = std::make_shared<GatewayConnection>(*this, std::move(socket),
                                               std::move(slot));
  co_await c->Run();
}

}  // namespace sallyport::gateway
