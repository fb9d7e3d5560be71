#include "gateway/serve_listeners.h"

#include <string>
#include <utility>

#include "absl/strings/str_cat.h"
#include "ssh/net/driver.h"

namespace sallyport::gateway {
namespace {

absl::StatusOr<ssh::net::MaxStartups> NetMaxStartups(const MaxStartups& m) {
  return ssh::net::MaxStartups::Parse(
      absl::StrCat(m.start, ":", m.rate, ":", m.full));
}

// `a` with an IPv4-mapped IPv6 address as its IPv4 one.
asio::ip::address Unmapped(const asio::ip::address& a) {
  if (a.is_v6() && a.to_v6().is_v4_mapped()) {
    return asio::ip::make_address_v4(asio::ip::v4_mapped, a.to_v6());
  }
  return a;
}

// Whether a socket bound to the wildcard `wildcard` takes `other`.
bool WildcardTakes(const asio::ip::address& wildcard,
                   const asio::ip::address& other) {
  return wildcard.is_unspecified() && (wildcard.is_v6() || other.is_v4());
}

}  // namespace

bool ListenersOverlap(const asio::ip::tcp::endpoint& a,
                      const asio::ip::tcp::endpoint& b) {
  if (a.port() != b.port()) return false;
  const asio::ip::address x = Unmapped(a.address());
  const asio::ip::address y = Unmapped(b.address());
  return x == y || WildcardTakes(x, y) || WildcardTakes(y, x);
}

bool SameListenerLimits(const GatewayLimitSettings& a,
                        const GatewayLimitSettings& b) {
  return a.max_startups.start == b.max_startups.start &&
         a.max_startups.rate == b.max_startups.rate &&
         a.max_startups.full == b.max_startups.full &&
         a.login_grace == b.login_grace;
}

ServeListeners::ServeListeners(ssh::net::IoThreads& threads, GatewayOps* ops,
                               ssh::net::Listener::Handler handler)
    : threads_(threads), ops_(ops), handler_(std::move(handler)) {}

ServeListeners::~ServeListeners() {
  Stop();
  std::vector<std::unique_ptr<ssh::net::ServerRuntime>> retired;
  {
    absl::MutexLock lock(&mu_);
    retired = std::move(retired_);
  }
}

absl::StatusOr<std::unique_ptr<ssh::net::ServerRuntime>> ServeListeners::Listen(
    const asio::ip::tcp::endpoint& endpoint, const GatewayLimitSettings& limits,
    ssh::net::ServerRuntime::PortUse port_use) {
  absl::StatusOr<ssh::net::MaxStartups> max_startups =
      NetMaxStartups(limits.max_startups);
  if (!max_startups.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("limits.max_startups: ", max_startups.status().message()));
  }
  ssh::net::ListenerOptions listener;
  listener.max_startups = *max_startups;
  listener.login_grace_time = limits.login_grace;
  listener.reuse_port = true;
  GatewayOps* ops = ops_;
  listener.log = [ops](std::string_view line) {
    ops->Notice("listener", line);
  };
  listener.on_drop = [ops] { ops->ConnectionDropped(); };
  return ssh::net::ServerRuntime::Listen(threads_, endpoint, listener, handler_,
                                         pre_auth_, port_use);
}

absl::Status ServeListeners::Start(const asio::ip::tcp::endpoint& endpoint,
                                   const GatewayLimitSettings& limits) {
  absl::StatusOr<std::unique_ptr<ssh::net::ServerRuntime>> runtime =
      Listen(endpoint, limits, ssh::net::ServerRuntime::PortUse::kMustBeFree);
  if (!runtime.ok()) return runtime.status();
  Install(std::move(*runtime), limits);
  return absl::OkStatus();
}

void ServeListeners::Install(std::unique_ptr<ssh::net::ServerRuntime> runtime,
                             const GatewayLimitSettings& limits) {
  bool closed = false;
  {
    absl::MutexLock lock(&mu_);
    closed = closed_;
  }
  // Draining began while it was opened.
  if (closed) runtime->Close();
  std::unique_ptr<ssh::net::ServerRuntime> previous;
  {
    absl::MutexLock lock(&mu_);
    previous = std::move(runtime_);
    runtime_ = std::move(runtime);
    limits_ = limits;
    endpoint_ = runtime_->local_endpoint();
  }
  if (previous == nullptr) return;
  previous->Close();
  absl::MutexLock lock(&mu_);
  retired_.push_back(std::move(previous));
}

absl::Status ServeListeners::Replace(
    const asio::ip::tcp::endpoint& endpoint, const GatewayLimitSettings& limits,
    ssh::net::ServerRuntime::PortUse port_use) {
  {
    absl::MutexLock lock(&mu_);
    if (closed_) return absl::FailedPreconditionError("draining");
  }
  absl::StatusOr<std::unique_ptr<ssh::net::ServerRuntime>> runtime =
      Listen(endpoint, limits, port_use);
  if (runtime.ok()) {
    Install(std::move(*runtime), limits);
    return absl::OkStatus();
  }
  // Our own listeners hold the address (the kernel refuses any bind that
  // they overlap, SO_REUSEPORT or not, on the free-port check).
  if (port_use == ssh::net::ServerRuntime::PortUse::kMustBeFree &&
      runtime.status().code() == absl::StatusCode::kUnavailable &&
      listening() && ListenersOverlap(local_endpoint(), endpoint)) {
    return ReplaceOverlapping(endpoint, limits);
  }
  return runtime.status();
}

absl::Status ServeListeners::ReplaceOverlapping(
    const asio::ip::tcp::endpoint& endpoint,
    const GatewayLimitSettings& limits) {
  std::unique_ptr<ssh::net::ServerRuntime> previous;
  GatewayLimitSettings previous_limits;
  asio::ip::tcp::endpoint previous_endpoint;
  {
    absl::MutexLock lock(&mu_);
    previous = std::move(runtime_);
    previous_limits = limits_;
    previous_endpoint = endpoint_;
  }
  const std::string from = absl::StrCat(previous_endpoint.address().to_string(),
                                        ":", previous_endpoint.port());
  ops_->Notice("gateway",
               absl::StrCat("reload: closing the listeners on ", from,
                            " first: ", endpoint.address().to_string(), ":",
                            endpoint.port(), " overlaps them"));
  previous->Close();
  {
    absl::MutexLock lock(&mu_);
    retired_.push_back(std::move(previous));
  }
  absl::StatusOr<std::unique_ptr<ssh::net::ServerRuntime>> runtime =
      Listen(endpoint, limits, ssh::net::ServerRuntime::PortUse::kMustBeFree);
  if (runtime.ok()) {
    Install(std::move(*runtime), limits);
    return absl::OkStatus();
  }
  // Back to what was served a moment ago. kReplacesOwn: a process that
  // shared the port with SO_REUSEPORT before (the reason, maybe, that the
  // new address could not be bound) shares it again, as it did.
  absl::StatusOr<std::unique_ptr<ssh::net::ServerRuntime>> reopened =
      Listen(previous_endpoint, previous_limits,
             ssh::net::ServerRuntime::PortUse::kReplacesOwn);
  if (!reopened.ok()) {
    ops_->Notice("gateway",
                 absl::StrCat("reload: not listening: ", from,
                              " could not be listened on again (",
                              reopened.status().message(),
                              "); /healthz fails until a reload can listen"),
                 /*success=*/false);
    return runtime.status();
  }
  Install(std::move(*reopened), previous_limits);
  return runtime.status();
}

absl::Status ServeListeners::Reload(const GatewaySettings& old,
                                    const GatewaySettings& fresh,
                                    GatewaySettings* applied) {
  // A new listen address: listeners there (with the new limits), then the
  // old ones closed. In use or unusable: the old ones stay.
  absl::Status listen_status;
  if (fresh.listen != old.listen || !listening()) {
    absl::StatusOr<asio::ip::tcp::endpoint> endpoint =
        ssh::net::ParseEndpoint(fresh.listen);
    listen_status = endpoint.ok()
                        ? Replace(*endpoint, applied->limits,
                                  ssh::net::ServerRuntime::PortUse::kMustBeFree)
                        : endpoint.status();
    if (listen_status.ok()) {
      applied->listen = fresh.listen;
    } else {
      listen_status = absl::UnavailableError(absl::StrCat(
          "reload: listen ", fresh.listen, " not applied, ",
          listening() ? absl::StrCat("still listening on ", old.listen)
                      : std::string("not listening"),
          ": ", listen_status.message()));
      ops_->Notice("gateway", std::string(listen_status.message()),
                   /*success=*/false);
    }
  }
  // Listener limits: new listeners on the same port, then the old ones
  // closed (SO_REUSEPORT, so no connection is refused in between).
  if (applied->listen == old.listen &&
      !SameListenerLimits(fresh.limits, old.limits)) {
    if (absl::Status st =
            Replace(local_endpoint(), applied->limits,
                    ssh::net::ServerRuntime::PortUse::kReplacesOwn);
        !st.ok()) {
      ops_->Notice(
          "gateway",
          absl::StrCat("reload: max_startups/login_grace not applied: ",
                       st.message()),
          /*success=*/false);
      applied->limits.max_startups = old.limits.max_startups;
      applied->limits.login_grace = old.limits.login_grace;
    }
  }
  return listen_status;
}

void ServeListeners::Close() {
  absl::MutexLock lock(&mu_);
  closed_ = true;
  if (runtime_ != nullptr) runtime_->Close();
}

void ServeListeners::Stop() {
  std::unique_ptr<ssh::net::ServerRuntime> runtime;
  {
    absl::MutexLock lock(&mu_);
    runtime = std::move(runtime_);
  }
  if (runtime != nullptr) runtime->Close();
}

asio::ip::tcp::endpoint ServeListeners::local_endpoint() const {
  absl::MutexLock lock(&mu_);
  return endpoint_;
}

bool ServeListeners::listening() const {
  absl::MutexLock lock(&mu_);
  return runtime_ != nullptr;
}

}  // namespace sallyport::gateway
