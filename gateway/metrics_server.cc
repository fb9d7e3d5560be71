#include "gateway/metrics_server.h"

#include <asio.hpp>
#include <asio/experimental/as_tuple.hpp>
#include <atomic>
#include <set>
#include <thread>

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

struct MetricsServer::State {
  MetricsServerOptions options;
  const MetricsRegistry* registry = nullptr;
  asio::io_context io{1};
  tcp::acceptor acceptor{io};
  std::thread thread;
  std::atomic<int> active{0};
  uint16_t port = 0;
  // Touched only on the server's thread.
  std::set<std::shared_ptr<tcp::socket>> connections;

  std::string Answer(std::string_view head) const {
    const std::string_view line = head.substr(0, head.find("\r\n"));
    const std::vector<std::string> parts =
        absl::StrSplit(absl::string_view(line.data(), line.size()), ' ');
    if (parts.size() != 3 || parts[0].empty() || parts[1].empty() ||
        parts[1][0] != '/' || !parts[2].starts_with("HTTP/1.")) {
      return Reply(400, "Bad Request", "bad request\n");
    }
    const std::string& method = parts[0];
    std::string_view path = parts[1];
    path = path.substr(0, path.find('?'));
    if (path != "/metrics" && path != "/healthz") {
      return Reply(404, "Not Found", "not found\n");
    }
    if (method != "GET") {
      return Reply(405, "Method Not Allowed", "method not allowed\n",
                   "text/plain; charset=utf-8", "Allow: GET\r\n");
    }
    if (path == "/metrics") {
      return Reply(200, "OK", registry->Render(),
                   "text/plain; version=0.0.4; charset=utf-8");
    }
    const absl::Status health =
        options.health ? options.health() : absl::OkStatus();
    if (health.ok()) return Reply(200, "OK", "ok\n");
    return Reply(
        503, "Service Unavailable",
        absl::StrCat(base::SafeText(std::string(health.message())), "\n"));
  }

  asio::awaitable<void> Serve(std::shared_ptr<tcp::socket> socket) {
    connections.insert(socket);
    asio::steady_timer deadline(io);
    deadline.expires_after(absl::ToChronoNanoseconds(options.request_timeout));
    deadline.async_wait([socket](std::error_code ec) {
      if (!ec) socket->close(ec);
    });
    std::string head;
    auto [ec, n] = co_await asio::async_read_until(
        *socket, asio::dynamic_buffer(head, options.max_request_bytes),
        "\r\n\r\n", kAsTuple);
    std::string answer;
    if (!ec) {
      answer = Answer(std::string_view(head).substr(0, n));
    } else if (ec == asio::error::not_found) {
      answer =
          Reply(431, "Request Header Fields Too Large", "request too large\n");
    }
    if (!answer.empty() && socket->is_open()) {
      co_await asio::async_write(*socket, asio::buffer(answer), kAsTuple);
      std::error_code ignored;
      socket->shutdown(tcp::socket::shutdown_send, ignored);
    }
    deadline.cancel();
    std::error_code ignored;
    socket->close(ignored);
    connections.erase(socket);
    --active;
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
      if (active.load() >= options.max_connections) {
        std::error_code ignored;
        socket.close(ignored);
        continue;
      }
      ++active;
      ssh::net::Spawn(io.get_executor(),
                      Serve(std::make_shared<tcp::socket>(std::move(socket))),
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
    for (const auto& c : s->connections) c->close(ignored);
  });
  s->thread.join();
}

uint16_t MetricsServer::port() const { return state_->port; }

int MetricsServer::active_connections() const { return state_->active.load(); }

}  // namespace sallyport::gateway
