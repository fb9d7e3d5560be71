// Starting coroutines so nothing that escapes them vanishes: Spawn logs an
// exception or an error Status escaping the coroutine, with its name. Use it
// instead of asio::co_spawn(..., asio::detached).
//
// Log lines go through NetLog(), which writes to stderr unless the
// application installs its own sink (SetNetLogSink).
#ifndef SALLYPORT_SSH_NET_SPAWN_H_
#define SALLYPORT_SSH_NET_SPAWN_H_

#include <asio.hpp>
#include <exception>
#include <functional>
#include <string>
#include <string_view>
#include <type_traits>

#include "absl/status/status.h"

namespace sallyport::ssh::net {

// Writes one log line ("PROGRAM: line" on stderr by default). Thread-safe.
void NetLog(std::string_view line);
// Replaces the sink for NetLog (nullptr: stderr). Thread-safe.
void SetNetLogSink(std::function<void(std::string_view)> sink);

// Runs `task` on `executor`; logs "NAME: STATUS" if it ends with an error
// Status, "NAME: exception: WHAT" if an exception escapes it.
void Spawn(const asio::any_io_executor& executor, asio::awaitable<void> task,
           std::string name);
void Spawn(const asio::any_io_executor& executor,
           asio::awaitable<absl::Status> task, std::string name);

namespace spawn_internal {
void Done(const std::string& name, std::exception_ptr e);
void DoneWithStatus(const std::string& name, std::exception_ptr e,
                    const absl::Status& status);
}  // namespace spawn_internal

// The same for a function object returning the awaitable (e.g. a lambda
// coroutine): the function object is kept alive while the coroutine runs,
// so its captures stay valid.
template <typename F>
requires std::is_invocable_v<F&>
void Spawn(const asio::any_io_executor& executor, F&& f, std::string name) {
  using Result = typename std::invoke_result_t<F&>::value_type;
  if constexpr (std::is_void_v<Result>) {
    asio::co_spawn(executor, std::forward<F>(f),
                   [name = std::move(name)](std::exception_ptr e) {
                     spawn_internal::Done(name, std::move(e));
                   });
  } else {
    asio::co_spawn(
        executor, std::forward<F>(f),
        [name = std::move(name)](std::exception_ptr e, absl::Status status) {
          spawn_internal::DoneWithStatus(name, std::move(e), status);
        });
  }
}

}  // namespace sallyport::ssh::net

#endif  // SALLYPORT_SSH_NET_SPAWN_H_
