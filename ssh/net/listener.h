// Accepting connections with pre-authentication limits, and dialing out.
//
// Listener: an accept loop that admits a connection only within the
// pre-auth limits, in the spirit of OpenSSH's sshd:
//   - MaxStartups start:rate:full: with `start` or more unauthenticated
//     connections, a new one is dropped with probability rate% rising
//     linearly to 100% at `full`;
//   - max_unauthenticated: a hard cap on unauthenticated connections,
//     counted across every Listener sharing one PreAuthBudget (one per
//     I/O thread);
//   - LoginGraceTime: each admitted connection gets a PreAuthSlot whose
//     Attach(driver) makes the driver end the connection at the deadline
//     (closing the stream even when its last write is stuck) unless the
//     application calls Authenticated() first.
// Accept errors (EMFILE, ENFILE, ENOBUFS...) back off from
// accept_backoff_initial doubling to accept_backoff_max instead of
// spinning, and the log line is rate-limited.
#ifndef SALLYPORT_SSH_NET_LISTENER_H_
#define SALLYPORT_SSH_NET_LISTENER_H_

#include <asio.hpp>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "ssh/net/driver.h"

namespace sallyport::ssh::net {

// OpenSSH MaxStartups "start:rate:full".
struct MaxStartups {
  int start = 10;
  int rate = 30;  // percent
  int full = 100;
  // Parses "START:RATE:FULL" or "N" (= N:100:N); kInvalidArgument unless
  // 0 < start <= full and 0 <= rate <= 100.
  static absl::StatusOr<MaxStartups> Parse(std::string_view text);
  // The probability (0..1) that a new connection is dropped when
  // `unauthenticated` connections exist.
  double DropProbability(int unauthenticated) const;
};

// Unauthenticated connections, shared by the Listeners of one server.
// Thread-safe.
class PreAuthBudget {
 public:
  int unauthenticated() const { return count_.load(); }
  // Takes a place unless `cap` are taken.
  bool TryAcquire(int cap);
  void Release() { count_.fetch_sub(1); }

 private:
  std::atomic<int> count_{0};
};

// One admitted connection's place among the unauthenticated ones. Freed by
// Authenticated() or when the slot is destroyed (the connection ended).
// Used on the connection's executor.
class PreAuthSlot {
 public:
  // Its login grace deadline is `grace` from now on the steady clock: a
  // wall-clock step (NTP after a VM resume, `date -s`) neither keeps a
  // stalled client's place (max startups) longer nor ends it early.
  PreAuthSlot(std::shared_ptr<PreAuthBudget> budget, absl::Duration grace);
  ~PreAuthSlot();
  PreAuthSlot(const PreAuthSlot&) = delete;
  PreAuthSlot& operator=(const PreAuthSlot&) = delete;

  // How long until the login grace deadline (zero once passed).
  absl::Duration remaining() const;
  // Makes `driver` end the connection at the deadline ("login grace time
  // exceeded") unless Authenticated() is called first. The driver must
  // outlive the slot or be detached with Attach(nullptr).
  void Attach(TransportDriver* driver);
  // The connection authenticated: it leaves the budget and the deadline
  // is lifted. Idempotent.
  void Authenticated();
  bool authenticated() const { return authenticated_; }

 private:
  std::shared_ptr<PreAuthBudget> budget_;
  std::chrono::steady_clock::time_point deadline_;
  TransportDriver* driver_ = nullptr;
  bool authenticated_ = false;
};

struct ListenerOptions {
  MaxStartups max_startups;
  int max_unauthenticated = 1000;
  absl::Duration login_grace_time = absl::Seconds(120);
  // SO_REUSEPORT, so one Listener per I/O thread can bind the same port.
  bool reuse_port = false;
  absl::Duration accept_backoff_initial = absl::Milliseconds(100);
  absl::Duration accept_backoff_max = absl::Seconds(2);
  // At most one accept-error and one drop log line per interval (the
  // next line says how many were suppressed).
  absl::Duration log_interval = absl::Seconds(5);
  // Log sink; NetLog when empty.
  std::function<void(std::string_view)> log;
  // Called for each connection max_startups drops (the log line is rate
  // limited; this is not): for a metric.
  std::function<void()> on_drop;
  // Seed for the random early drop (0: random).
  uint64_t seed = 0;
};

class Listener {
 public:
  // Runs each admitted connection; spawned (with Spawn) on the listener's
  // executor. The Listener keeps the function object: a lambda coroutine's
  // captures stay valid only while the Listener lives.
  using Handler = std::function<asio::awaitable<void>(
      asio::ip::tcp::socket, std::shared_ptr<PreAuthSlot>)>;

  // Binds and listens on `endpoint` (port 0: any). `budget` may be shared
  // with other Listeners; null: a budget of its own.
  static absl::StatusOr<std::unique_ptr<Listener>> Create(
      asio::any_io_executor executor, const asio::ip::tcp::endpoint& endpoint,
      ListenerOptions options, std::shared_ptr<PreAuthBudget> budget,
      Handler handler);
  ~Listener();

  asio::ip::tcp::endpoint local_endpoint() const;
  asio::any_io_executor executor() { return acceptor_.get_executor(); }
  // Starts the accept loop (on the executor).
  void Start();
  // Stops accepting (on the executor); admitted connections go on.
  void Close();

  // Counters (for tests and metrics).
  uint64_t accepted() const { return accepted_; }
  uint64_t dropped() const { return dropped_; }
  uint64_t accept_errors() const { return accept_errors_; }
  const std::shared_ptr<PreAuthBudget>& budget() const { return budget_; }

 private:
  Listener(asio::ip::tcp::acceptor acceptor, ListenerOptions options,
           std::shared_ptr<PreAuthBudget> budget, Handler handler);
  asio::awaitable<void> AcceptLoop(std::shared_ptr<bool> alive);
  bool Admit();
  void Log(std::string_view line);

  asio::ip::tcp::acceptor acceptor_;
  ListenerOptions options_;
  std::shared_ptr<PreAuthBudget> budget_;
  Handler handler_;
  std::shared_ptr<bool> alive_;
  std::mt19937_64 random_;
  uint64_t accepted_ = 0;
  uint64_t dropped_ = 0;
  uint64_t accept_errors_ = 0;
  // On the steady clock: a step back of the wall clock must not silence
  // the logs.
  std::chrono::steady_clock::time_point next_error_log_;
  uint64_t errors_suppressed_ = 0;
  std::chrono::steady_clock::time_point next_drop_log_;
  uint64_t drops_suppressed_ = 0;
};

// Resolves `host` (a name or an address; asio's async_resolve, so no I/O
// thread blocks) and connects to the first address that accepts, all
// within `timeout`. With `local_addresses`, each connection first binds
// its local end (port chosen by the kernel) to the first of them of the
// destination's family, so it leaves from that address; a destination of
// a family none of them has is not tried. kDeadlineExceeded on timeout,
// kUnavailable when the name does not resolve or every address refuses;
// kFailedPrecondition when no destination could be tried because no local
// address fits its family or the local address cannot be bound (not one
// of this machine's), with that reason.
// The local address Dial binds to for `destination`: the first of
// `local_addresses` of its family, or null when none is.
const asio::ip::address* LocalAddressFor(
    const std::vector<asio::ip::address>& local_addresses,
    const asio::ip::address& destination);

asio::awaitable<absl::StatusOr<asio::ip::tcp::socket>> Dial(
    asio::any_io_executor executor, std::string host, uint16_t port,
    absl::Duration timeout,
    std::vector<asio::ip::address> local_addresses = {});

}  // namespace sallyport::ssh::net

#endif  // SALLYPORT_SSH_NET_LISTENER_H_
