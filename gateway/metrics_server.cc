#include "gateway/metrics_server.h"

#include <algorithm>
#include <asio.hpp>
#include <asio/experimental/as_tuple.hpp>
#include <atomic>
#include <list>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "base/host_port.h"
#include "base/safe_text.h"
#include "ssh/net/spawn.h"

namespace sallyport::gateway {
namespace {

using asio::ip::tcp;
constexpr auto kAsTuple = asio::experimental::as_tuple(asio::use_awaitable);

std::string Reply(int code, std::string_view reason, std::string_view body,
                  std::string_view content_type = "text/plain; charset=utf-8",
                  std::string_view extra_headers = "") {
  std::string out = absl::StrCat("HTTP/1.1 ", code, " ");
  out.append(reason);
  out.append("\r\nContent-Type: ");
  out.append(content_type);
  absl::StrAppend(&out, "\r\nContent-Length: ", body.size(),
                  "\r\nConnection: close\r\n");
  out.append(extra_headers);
  out.append("\r\n");
  out.append(body);
  return out;
}

}  // namespace

MetricsRequest ParseMetricsRequest(std::string_view head) {
  const std::string_view line = head.substr(0, head.find("\r\n"));
  const std::vector<std::string> parts =
      absl::StrSplit(absl::string_view(line.data(), line.size()), ' ');
  if (parts.size() != 3 || parts[0].empty() || parts[1].empty() ||
      parts[1][0] != '/' || !parts[2].starts_with("HTTP/1.")) {
    return MetricsRequest::kBadRequest;
  }
  std::string_view path = parts[1];
  path = path.substr(0, path.find('?'));
  if (path != "/metrics" && path != "/healthz")
    return MetricsRequest::kNotFound;
  if (parts[0] != "GET") return MetricsRequest::kMethodNotAllowed;
  return path == "/metrics" ? MetricsRequest::kMetrics
                            : MetricsRequest::kHealth;
}

struct MetricsServer::State {
  // One accepted connection.
  struct Connection {
    Connection(tcp::socket s, asio::ip::address from)
        : socket(std::move(s)), peer(std::move(from)) {}
    tcp::socket socket;
    asio::ip::address peer;
    // Its request head has arrived: it is being answered, never evicted.
    bool head_read = false;
  };

  MetricsServerOptions options;
  const MetricsRegistry* registry = nullptr;
  asio::io_context io{1};
  tcp::acceptor acceptor{io};
  std::thread thread;
  // connections.size(), readable from other threads.
  std::atomic<int> active{0};
  uint16_t port = 0;
  // Touched only on the server's thread; oldest first.
  std::list<std::shared_ptr<Connection>> connections;

  // Closes `c` and stops counting it (once).
  void Drop(const std::shared_ptr<Connection>& c) {
    std::error_code ignored;
    c->socket.close(ignored);
    auto it = std::find(connections.begin(), connections.end(), c);
    if (it == connections.end()) return;
    connections.erase(it);
    --active;
  }

  // Closes the oldest connection still without a request head (from
  // `peer` when given); false when there is none.
  bool EvictOldestSilent(const asio::ip::address* peer) {
    for (const std::shared_ptr<Connection>& c : connections) {
      if (c->head_read || (peer != nullptr && c->peer != *peer)) continue;
      const std::shared_ptr<Connection> victim = c;
      Drop(victim);
      return true;
    }
    return false;
  }

  // Room for one more connection from `peer`: within both limits, or made
  // by evicting a silent connection that holds the place.
  bool MakeRoom(const asio::ip::address& peer) {
    const auto from_peer =
        std::count_if(connections.begin(), connections.end(),
                      [&](const auto& c) { return c->peer == peer; });
    if (from_peer >= options.max_connections_per_peer &&
        !EvictOldestSilent(&peer)) {
      return false;
    }
    return static_cast<int>(connections.size()) < options.max_connections ||
           EvictOldestSilent(nullptr);
  }

  // Closes c's socket after `timeout` unless `timer` is cancelled.
  static void CloseAfter(asio::steady_timer& timer, absl::Duration timeout,
                         std::shared_ptr<Connection> c) {
    timer.expires_after(absl::ToChronoNanoseconds(timeout));
    timer.async_wait([c = std::move(c)](std::error_code ec) {
      if (!ec) c->socket.close(ec);
    });
  }

  std::string Answer(std::string_view head) const {
    switch (ParseMetricsRequest(head)) {
      case MetricsRequest::kBadRequest:
        return Reply(400, "Bad Request", "bad request\n");
      case MetricsRequest::kNotFound:
        return Reply(404, "Not Found", "not found\n");
      case MetricsRequest::kMethodNotAllowed:
        return Reply(405, "Method Not Allowed", "method not allowed\n",
                     "text/plain; charset=utf-8", "Allow: GET\r\n");
      case MetricsRequest::kMetrics:
        return Reply(200, "OK", registry->Render(),
                     "text/plain; version=0.0.4; charset=utf-8");
      case MetricsRequest::kHealth:
        break;
    }
    const absl::Status health =
        options.health ? options.health() : absl::OkStatus();
    if (health.ok()) return Reply(200, "OK", "ok\n");
    return Reply(
        503, "Service Unavailable",
        absl::StrCat(base::SafeText(std::string(health.message())), "\n"));
  }

  asio::awaitable<void> Serve(std::shared_ptr<Connection> c) {
    asio::steady_timer head_deadline(io);
    asio::steady_timer deadline(io);
    CloseAfter(head_deadline, options.head_timeout, c);
    CloseAfter(deadline, options.request_timeout, c);
    std::string head;
    auto [ec, n] = co_await asio::async_read_until(
        c->socket, asio::dynamic_buffer(head, options.max_request_bytes),
        "\r\n\r\n", kAsTuple);
    head_deadline.cancel();
    c->head_read = true;
    std::string answer;
    if (!ec) {
      answer = Answer(std::string_view(head).substr(0, n));
    } else if (ec == asio::error::not_found) {
      answer =
          Reply(431, "Request Header Fields Too Large", "request too large\n");
    }
    if (!answer.empty() && c->socket.is_open()) {
      co_await asio::async_write(c->socket, asio::buffer(answer), kAsTuple);
      std::error_code ignored;
      c->socket.shutdown(tcp::socket::shutdown_send, ignored);
    }
    deadline.cancel();
    Drop(c);
  }

  asio::awaitable<void> AcceptLoop() {
    for (;;) {
      auto [ec, socket] = co_await acceptor.async_accept(kAsTuple);
      if (ec) {
        if (!acceptor.is_open()) co_return;
        // EMFILE and the like: wait instead of spinning.
        asio::steady_timer pause(io, std::chrono::milliseconds(100));
        co_await pause.async_wait(kAsTuple);
        continue;
      }
      std::error_code peer_ec;
      const tcp::endpoint peer = socket.remote_endpoint(peer_ec);
      if (peer_ec || !MakeRoom(peer.address())) {
        std::error_code ignored;
        socket.close(ignored);
        continue;
      }
      auto c = std::make_shared<Connection>(std::move(socket), peer.address());
      connections.push_back(c);
      ++active;
      ssh::net::Spawn(io.get_executor(), Serve(std::move(c)),
                      "metrics connection");
    }
  }
};

absl::StatusOr<std::unique_ptr<MetricsServer>> MetricsServer::Start(
    MetricsServerOptions options, const MetricsRegistry* registry) {
  if (absl::Status st = base::ValidateListen("metrics_listen", options.listen,
                                             /*allow_port_zero=*/true);
      !st.ok()) {
    return st;
  }
  const size_t colon = options.listen.rfind(':');
  std::string host = options.listen.substr(0, colon);
  const std::string port = options.listen.substr(colon + 1);
  if (host.size() >= 2 && host.front() == '[') {
    host = host.substr(1, host.size() - 2);
  }
  auto state = std::make_unique<State>();
  state->options = std::move(options);
  state->registry = registry;
  std::error_code ec;
  tcp::resolver resolver(state->io);
  const auto endpoints =
      resolver.resolve(host, port, tcp::resolver::numeric_service, ec);
  if (ec || endpoints.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "metrics_listen: cannot resolve ", host, ": ", ec.message()));
  }
  const tcp::endpoint endpoint = endpoints.begin()->endpoint();
  tcp::acceptor& acceptor = state->acceptor;
  acceptor.open(endpoint.protocol(), ec);
  if (!ec) acceptor.set_option(tcp::acceptor::reuse_address(true), ec);
  if (!ec) acceptor.bind(endpoint, ec);
  if (!ec) acceptor.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) {
    return absl::UnavailableError(
        absl::StrCat("metrics_listen: cannot listen on ", state->options.listen,
                     ": ", ec.message()));
  }
  state->port = acceptor.local_endpoint(ec).port();
  State* s = state.get();
  ssh::net::Spawn(s->io.get_executor(), s->AcceptLoop(), "metrics accept");
  s->thread = std::thread([s] { s->io.run(); });
  return std::unique_ptr<MetricsServer>(new MetricsServer(std::move(state)));
}

MetricsServer::MetricsServer(std::unique_ptr<State> state)
    : state_(std::move(state)) {}

MetricsServer::~MetricsServer() {
  State* s = state_.get();
  asio::post(s->io, [s] {
    std::error_code ignored;
    s->acceptor.close(ignored);
    for (const auto& c : s->connections) c->socket.close(ignored);
  });
  s->thread.join();
}

uint16_t MetricsServer::port() const { return state_->port; }

int MetricsServer::active_connections() const { return state_->active.load(); }

}  // namespace sallyport::gateway
