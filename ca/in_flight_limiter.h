// InFlightLimiter bounds calls that hold one of the CA's handler threads
// for long (ca/server.h kMaxThreads): a login that waits out its throttle
// and failure delay, a WatchRevocations stream that lasts as long as its
// client keeps it open. Without a bound, a stranger's failing logins or a
// user's revocation streams take every thread, and the gateways'
// AuthorizeChannel calls wait behind them until new sessions fail.
//
// A call enters with a key (the client's address, the caller's identity)
// and is refused at once when `total` calls are in, or `per_key` with its
// key: nothing waits for a place.
#ifndef SALLYPORT_CA_IN_FLIGHT_LIMITER_H_
#define SALLYPORT_CA_IN_FLIGHT_LIMITER_H_

#include <map>
#include <string>
#include <string_view>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"

namespace sallyport::ca {

class InFlightLimiter {
 public:
  InFlightLimiter(int total, int per_key) : total_(total), per_key_(per_key) {}

  // A place, given back when the Ticket is destroyed; !ok() when there was
  // none.
  class Ticket {
   public:
    Ticket(Ticket&& other) noexcept
        : limiter_(other.limiter_), key_(std::move(other.key_)) {
      other.limiter_ = nullptr;
    }
    Ticket(const Ticket&) = delete;
    Ticket& operator=(const Ticket&) = delete;
    Ticket& operator=(Ticket&&) = delete;
    ~Ticket();
    bool ok() const { return limiter_ != nullptr; }

   private:
    friend class InFlightLimiter;
    Ticket(InFlightLimiter* limiter, std::string key)
        : limiter_(limiter), key_(std::move(key)) {}
    InFlightLimiter* limiter_;
    std::string key_;
  };
  Ticket TryEnter(std::string_view key) ABSL_LOCKS_EXCLUDED(mu_);

  int total() const { return total_; }
  int per_key() const { return per_key_; }
  // Calls in now, in all and with `key`.
  int in_flight() ABSL_LOCKS_EXCLUDED(mu_);
  int in_flight(std::string_view key) ABSL_LOCKS_EXCLUDED(mu_);

 private:
  void Leave(const std::string& key) ABSL_LOCKS_EXCLUDED(mu_);

  const int total_, per_key_;
  absl::Mutex mu_;
  int in_ ABSL_GUARDED_BY(mu_) = 0;
  // Only keys with calls in: it never holds more than `total` entries.
  std::map<std::string, int, std::less<>> by_key_ ABSL_GUARDED_BY(mu_);
};

}  // namespace sallyport::ca

#endif  // SALLYPORT_CA_IN_FLIGHT_LIMITER_H_
