#include "ssh/net/spawn.h"

#include <errno.h>

#include <exception>
#include <iostream>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"

namespace sallyport::ssh::net {
namespace {

struct Sink {
  absl::Mutex mu;
  std::function<void(std::string_view)> fn ABSL_GUARDED_BY(mu);
};

Sink& GlobalSink() {
  static Sink* sink = new Sink;  // never destroyed: used until exit
  return *sink;
}

void LogException(const std::string& name, std::exception_ptr e) {
  // Asio reports what escaped a coroutine as an exception_ptr; this is the
  // one place that looks inside it.
  try {
    std::rethrow_exception(std::move(e));
  } catch (const std::exception& x) {
    NetLog(absl::StrCat(name, ": exception: ", x.what()));
  } catch (...) {
    NetLog(absl::StrCat(name, ": unknown exception"));
  }
}

}  // namespace

void NetLog(std::string_view line) {
  std::function<void(std::string_view)> fn;
  {
    Sink& sink = GlobalSink();
    absl::MutexLock lock(&sink.mu);
    fn = sink.fn;
  }
  if (fn) {
    fn(line);
    return;
  }
  std::cerr << program_invocation_short_name << ": " << line << std::endl;
}

void SetNetLogSink(std::function<void(std::string_view)> fn) {
  Sink& sink = GlobalSink();
  absl::MutexLock lock(&sink.mu);
  sink.fn = std::move(fn);
}

namespace spawn_internal {

void Done(const std::string& name, std::exception_ptr e) {
  if (e) LogException(name, std::move(e));
}

void DoneWithStatus(const std::string& name, std::exception_ptr e,
                    const absl::Status& status) {
  if (e) {
    LogException(name, std::move(e));
  } else if (!status.ok()) {
    NetLog(absl::StrCat(name, ": ", status.ToString()));
  }
}

}  // namespace spawn_internal

void Spawn(const asio::any_io_executor& executor, asio::awaitable<void> task,
           std::string name) {
  asio::co_spawn(executor, std::move(task),
                 [name = std::move(name)](std::exception_ptr e) {
                   spawn_internal::Done(name, std::move(e));
                 });
}

void Spawn(const asio::any_io_executor& executor,
           asio::awaitable<absl::Status> task, std::string name) {
  asio::co_spawn(
      executor, std::move(task),
      [name = std::move(name)](std::exception_ptr e, absl::Status status) {
        spawn_internal::DoneWithStatus(name, std::move(e), status);
      });
}

}  // namespace sallyport::ssh::net
