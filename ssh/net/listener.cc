#include "ssh/net/listener.h"

#include <asio/experimental/as_tuple.hpp>
#include <chrono>
#include <optional>
#include <tuple>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "ssh/net/spawn.h"

namespace sallyport::ssh::net {
namespace {

constexpr auto kUseTuple = asio::experimental::as_tuple(asio::use_awaitable);

std::chrono::microseconds ToChrono(absl::Duration d) {
  return std::chrono::microseconds(absl::ToInt64Microseconds(d));
}

}  // namespace

// ---------------------------------------------------------------- limits

absl::StatusOr<MaxStartups> MaxStartups::Parse(std::string_view text) {
  std::vector<std::string> parts =
      absl::StrSplit(absl::string_view(text.data(), text.size()), ':');
  MaxStartups m;
  bool ok = false;
  if (parts.size() == 1) {
    ok = absl::SimpleAtoi(parts[0], &m.start);
    m.full = m.start;
    m.rate = 100;
  } else if (parts.size() == 3) {
    ok = absl::SimpleAtoi(parts[0], &m.start) &&
         absl::SimpleAtoi(parts[1], &m.rate) &&
         absl::SimpleAtoi(parts[2], &m.full);
  }
  if (!ok || m.start <= 0 || m.start > m.full || m.rate < 0 || m.rate > 100) {
    return absl::InvalidArgumentError(absl::StrCat(
        "max startups: expected START:RATE:FULL with 0 < START <= FULL and "
        "RATE <= 100, got \"",
        std::string(text), "\""));
  }
  return m;
}

double MaxStartups::DropProbability(int unauthenticated) const {
  if (unauthenticated < start) return 0;
  if (unauthenticated >= full) return 1;
  const double base = rate / 100.0;
  return base + (1 - base) * (unauthenticated - start) / (full - start);
}

bool PreAuthBudget::TryAcquire(int cap) {
  int n = count_.load();
  while (n < cap) {
    if (count_.compare_exchange_weak(n, n + 1)) return true;
  }
  return false;
}

PreAuthSlot::PreAuthSlot(std::shared_ptr<PreAuthBudget> budget,
                         absl::Duration grace)
    : budget_(std::move(budget)),
      deadline_(std::chrono::steady_clock::now() +
                absl::ToChronoNanoseconds(grace)) {}

absl::Duration PreAuthSlot::remaining() const {
  return std::max(
      absl::FromChrono(deadline_ - std::chrono::steady_clock::now()),
      absl::ZeroDuration());
}

PreAuthSlot::~PreAuthSlot() {
  if (!authenticated_) budget_->Release();
}

void PreAuthSlot::Attach(TransportDriver* driver) {
  driver_ = driver;
  if (driver_ != nullptr && !authenticated_)
    driver_->SetDeadline(deadline_, "login grace time exceeded");
}

void PreAuthSlot::Authenticated() {
  if (authenticated_) return;
  authenticated_ = true;
  budget_->Release();
  if (driver_ != nullptr) driver_->SetDeadline(absl::InfiniteFuture(), "");
}

// ---------------------------------------------------------------- listener

absl::StatusOr<std::unique_ptr<Listener>> Listener::Create(
    asio::any_io_executor executor, const asio::ip::tcp::endpoint& endpoint,
    ListenerOptions options, std::shared_ptr<PreAuthBudget> budget,
    Handler handler) {
  asio::ip::tcp::acceptor acceptor(executor);
  asio::error_code ec;
  acceptor.open(endpoint.protocol(), ec);
  if (!ec)
    acceptor.set_option(asio::ip::tcp::acceptor::reuse_address(true), ec);
  if (!ec && options.reuse_port) {
    const int one = 1;
    if (::setsockopt(acceptor.native_handle(), SOL_SOCKET, SO_REUSEPORT, &one,
                     sizeof one) != 0) {
      ec = asio::error_code(errno, asio::system_category());
    }
  }
  if (!ec) acceptor.bind(endpoint, ec);
  if (!ec) acceptor.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) {
    return absl::UnavailableError(
        absl::StrCat("cannot listen on ", endpoint.address().to_string(), ":",
                     endpoint.port(), ": ", ec.message()));
  }
  if (budget == nullptr) budget = std::make_shared<PreAuthBudget>();
  return std::unique_ptr<Listener>(
      new Listener(std::move(acceptor), std::move(options), std::move(budget),
                   std::move(handler)));
}

Listener::Listener(asio::ip::tcp::acceptor acceptor, ListenerOptions options,
                   std::shared_ptr<PreAuthBudget> budget, Handler handler)
    : acceptor_(std::move(acceptor)),
      options_(std::move(options)),
      budget_(std::move(budget)),
      handler_(std::move(handler)),
      alive_(std::make_shared<bool>(true)),
      random_(options_.seed != 0 ? options_.seed : std::random_device{}()) {}

Listener::~Listener() {
  *alive_ = false;
  Close();
}

asio::ip::tcp::endpoint Listener::local_endpoint() const {
  asio::error_code ec;
  return acceptor_.local_endpoint(ec);
}

void Listener::Start() {
  Spawn(acceptor_.get_executor(), AcceptLoop(alive_), "accept loop");
}

void Listener::Close() {
  asio::error_code ignored;
  acceptor_.close(ignored);
}

void Listener::Log(std::string_view line) {
  if (options_.log) {
    options_.log(line);
  } else {
    NetLog(line);
  }
}

bool Listener::Admit() {
  const int n = budget_->unauthenticated();
  const double p = options_.max_startups.DropProbability(n);
  if (p > 0 && std::uniform_real_distribution<double>(0, 1)(random_) < p)
    return false;
  return budget_->TryAcquire(options_.max_unauthenticated);
}

asio::awaitable<void> Listener::AcceptLoop(std::shared_ptr<bool> alive) {
  asio::steady_timer backoff_timer(acceptor_.get_executor());
  absl::Duration backoff = options_.accept_backoff_initial;
  while (*alive && acceptor_.is_open()) {
    auto [ec, socket] = co_await acceptor_.async_accept(kUseTuple);
    if (!*alive) co_return;  // the listener is gone
    if (ec) {
      if (ec == asio::error::operation_aborted || !acceptor_.is_open())
        co_return;
      // EMFILE, ENFILE, ENOBUFS...: retrying at once would spin.
      ++accept_errors_;
      const auto now = std::chrono::steady_clock::now();
      if (now >= next_error_log_) {
        Log(absl::StrCat("accept failed: ", ec.message(), "; retrying in ",
                         absl::FormatDuration(backoff),
                         errors_suppressed_ > 0
                             ? absl::StrCat(" (", errors_suppressed_,
                                            " more since the last report)")
                             : ""));
        errors_suppressed_ = 0;
        next_error_log_ = now + ToChrono(options_.log_interval);
      } else {
        ++errors_suppressed_;
      }
      backoff_timer.expires_after(ToChrono(backoff));
      co_await backoff_timer.async_wait(kUseTuple);
      if (!*alive) co_return;
      backoff = std::min(backoff * 2, options_.accept_backoff_max);
      continue;
    }
    backoff = options_.accept_backoff_initial;
    if (!Admit()) {
      // As sshd: closed before the version line, no reason given.
      ++dropped_;
      if (options_.on_drop) options_.on_drop();
      const auto now = std::chrono::steady_clock::now();
      if (now >= next_drop_log_) {
        Log(absl::StrCat(
            "dropping connection: ", budget_->unauthenticated(),
            " unauthenticated connections (max startups ",
            options_.max_startups.start, ":", options_.max_startups.rate, ":",
            options_.max_startups.full, ", cap ", options_.max_unauthenticated,
            ")",
            drops_suppressed_ > 0
                ? absl::StrCat("; ", drops_suppressed_,
                               " more dropped since the last report")
                : ""));
        drops_suppressed_ = 0;
        next_drop_log_ = now + ToChrono(options_.log_interval);
      } else {
        ++drops_suppressed_;
      }
      asio::error_code ignored;
      socket.close(ignored);
      continue;
    }
    ++accepted_;
    auto slot =
        std::make_shared<PreAuthSlot>(budget_, options_.login_grace_time);
    std::string name = "connection";
    asio::error_code peer_ec;
    auto peer = socket.remote_endpoint(peer_ec);
    if (!peer_ec)
      name = absl::StrCat("connection from ", peer.address().to_string(), ":",
                          peer.port());
    auto executor = socket.get_executor();
    Spawn(executor, handler_(std::move(socket), std::move(slot)),
          std::move(name));
  }
}

// ---------------------------------------------------------------- dial

const asio::ip::address* LocalAddressFor(
    const std::vector<asio::ip::address>& local_addresses,
    const asio::ip::address& destination) {
  for (const asio::ip::address& a : local_addresses) {
    if (a.is_v4() == destination.is_v4()) return &a;
  }
  return nullptr;
}

asio::awaitable<absl::StatusOr<asio::ip::tcp::socket>> Dial(
    asio::any_io_executor executor, std::string host, uint16_t port,
    absl::Duration timeout, std::vector<asio::ip::address> local_addresses) {
  const auto deadline = std::chrono::steady_clock::now() + ToChrono(timeout);
  // The resolver's completion may come after we gave up: everything it
  // touches is shared with it.
  struct Resolve {
    explicit Resolve(const asio::any_io_executor& e) : resolver(e), done(e) {}
    asio::ip::tcp::resolver resolver;
    asio::steady_timer done;  // cancelled on completion
    bool finished = false;
    asio::error_code ec;
    asio::ip::tcp::resolver::results_type results;
  };
  auto resolve = std::make_shared<Resolve>(executor);
  resolve->done.expires_at(deadline);
  resolve->resolver.async_resolve(
      host, std::to_string(port),
      [resolve](const asio::error_code& ec,
                asio::ip::tcp::resolver::results_type results) {
        resolve->finished = true;
        resolve->ec = ec;
        resolve->results = std::move(results);
        resolve->done.cancel();
      });
  co_await resolve->done.async_wait(kUseTuple);
  if (!resolve->finished) {
    resolve->resolver.cancel();
    co_return absl::DeadlineExceededError(
        absl::StrCat("resolving ", host, " timed out"));
  }
  if (resolve->ec) {
    co_return absl::UnavailableError(
        absl::StrCat("cannot resolve ", host, ": ", resolve->ec.message()));
  }

  struct Connect {
    explicit Connect(const asio::any_io_executor& e) : socket(e), timer(e) {}
    asio::ip::tcp::socket socket;
    asio::steady_timer timer;
    bool finished = false;
    bool timed_out = false;
  };
  auto connect = std::make_shared<Connect>(executor);
  connect->timer.expires_at(deadline);
  connect->timer.async_wait(
      [c = connect.get(), keep = connect](const asio::error_code& ec) {
        if (ec || c->finished) return;
        c->timed_out = true;
        asio::error_code ignored;
        c->socket.close(ignored);
      });
  // One destination after the other, as asio::async_connect would, but
  // with the local end bound first when asked.
  std::optional<absl::Status> bind_failure;  // our configuration's fault
  std::optional<absl::Status> no_family;     // a destination not tried
  bool tried = false, connected = false;
  asio::error_code ec = asio::error::host_not_found;
  for (const asio::ip::tcp::endpoint to : resolve->results) {
    if (connect->timed_out) break;
    asio::error_code ignored;
    connect->socket.close(ignored);
    const asio::ip::address* local =
        LocalAddressFor(local_addresses, to.address());
    if (!local_addresses.empty() && local == nullptr) {
      no_family = absl::FailedPreconditionError(absl::StrCat(
          "no egress address of the family of ", to.address().to_string(), " (",
          to.address().is_v4() ? "IPv4" : "IPv6", ")"));
      continue;
    }
    if (connect->socket.open(to.protocol(), ec); ec) continue;
    if (local != nullptr) {
      if (connect->socket.bind(asio::ip::tcp::endpoint(*local, 0), ec); ec) {
        bind_failure = absl::FailedPreconditionError(
            absl::StrCat("cannot bind egress address ", local->to_string(),
                         ": ", ec.message()));
        continue;
      }
    }
    tried = true;
    std::tie(ec) = co_await connect->socket.async_connect(to, kUseTuple);
    if (!ec) {
      connected = true;
      break;
    }
  }
  connect->finished = true;
  connect->timer.cancel();
  if (connect->timed_out) {
    co_return absl::DeadlineExceededError(
        absl::StrCat("connecting to ", host, ":", port, " timed out"));
  }
  if (!connected) {
    if (bind_failure.has_value()) co_return *bind_failure;
    if (!tried && no_family.has_value()) co_return *no_family;
    co_return absl::UnavailableError(absl::StrCat(
        "cannot connect to ", host, ":", port, ": ", ec.message()));
  }
  co_return std::move(connect->socket);
}

}  // namespace sallyport::ssh::net
