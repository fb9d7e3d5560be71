#include "ssh/net/io_threads.h"

#include <future>

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

absl::StatusOr<std::unique_ptr<ServerRuntime>> ServerRuntime::Listen(
    IoThreads& threads, asio::ip::tcp::endpoint endpoint,
    ListenerOptions options, Listener::Handler handler) {
  std::unique_ptr<ServerRuntime> runtime(new ServerRuntime(threads));
  auto budget = std::make_shared<PreAuthBudget>();
  options.reuse_port = threads.size() > 1 || options.reuse_port;
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
