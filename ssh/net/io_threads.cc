#include "ssh/net/io_threads.h"

#include <future>

#include "absl/strings/str_cat.h"

namespace sallyport::ssh::net {

IoThreads::IoThreads(int threads) {
  if (threads <= 0)
    threads =
        std::max(1, static_cast<int>(std::thread::hardware_concurrency()));
  for (int i = 0; i < threads; ++i)
    contexts_.push_back(std::make_unique<asio::io_context>(1));
}

IoThreads::~IoThreads() { Stop(); }

void IoThreads::Start() {
  if (!threads_.empty()) return;
  for (auto& context : contexts_) {
    guards_.push_back(asio::make_work_guard(*context));
    threads_.emplace_back([c = context.get()] { c->run(); });
  }
}

void IoThreads::Stop() {
  guards_.clear();
  for (auto& context : contexts_) context->stop();
  for (auto& t : threads_) t.join();
  threads_.clear();
}

namespace {

// Binds a socket without SO_REUSEPORT to `endpoint` and closes it: that
// fails while any socket is bound there, SO_REUSEPORT or not. SO_REUSEADDR,
// so connections of an earlier run left in TIME_WAIT do not count.
absl::Status CheckPortFree(const asio::ip::tcp::endpoint& endpoint) {
  asio::io_context io;
  asio::ip::tcp::acceptor probe(io);
  asio::error_code ec;
  probe.open(endpoint.protocol(), ec);
  if (!ec) probe.set_option(asio::ip::tcp::acceptor::reuse_address(true), ec);
  if (!ec) probe.bind(endpoint, ec);
  if (!ec) return absl::OkStatus();
  return absl::UnavailableError(
      absl::StrCat("cannot listen on ", endpoint.address().to_string(), ":",
                   endpoint.port(), ": ", ec.message()));
}

}  // namespace

absl::StatusOr<std::unique_ptr<ServerRuntime>> ServerRuntime::Listen(
    IoThreads& threads, asio::ip::tcp::endpoint endpoint,
    ListenerOptions options, Listener::Handler handler,
    std::shared_ptr<PreAuthBudget> budget, PortUse port_use) {
  options.reuse_port = threads.size() > 1 || options.reuse_port;
  if (options.reuse_port && endpoint.port() != 0 &&
      port_use == PortUse::kMustBeFree) {
    if (absl::Status st = CheckPortFree(endpoint); !st.ok()) return st;
  }
  std::unique_ptr<ServerRuntime> runtime(new ServerRuntime(threads));
  if (budget == nullptr) budget = std::make_shared<PreAuthBudget>();
  for (int i = 0; i < threads.size(); ++i) {
    auto listener = Listener::Create(threads.context(i).get_executor(),
                                     endpoint, options, budget, handler);
    if (!listener.ok()) return listener.status();
    if (i == 0) endpoint = (*listener)->local_endpoint();
    runtime->listeners_.push_back(std::move(*listener));
  }
  for (auto& l : runtime->listeners_) l->Start();
  return runtime;
}

ServerRuntime::~ServerRuntime() { Close(); }

asio::ip::tcp::endpoint ServerRuntime::local_endpoint() const {
  return listeners_.front()->local_endpoint();
}

void ServerRuntime::Close() {
  for (auto& l : listeners_) {
    Listener* listener = l.get();
    if (!threads_.running()) {
      listener->Close();
      continue;
    }
    std::promise<void> closed;
    auto done = closed.get_future();
    asio::post(listener->executor(), [listener, &closed] {
      listener->Close();
      closed.set_value();
    });
    done.wait();
  }
}

}  // namespace sallyport::ssh::net
