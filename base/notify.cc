#include "base/notify.h"

#include <systemd/sd-daemon.h>
#include <time.h>

#include <cstdint>
#include <string>

#include "absl/strings/str_cat.h"

namespace sallyport::base {
namespace {

// sd_notify returns < 0 on error and 0 when $NOTIFY_SOCKET is unset;
// neither stops the server.
void Send(const std::string& state) { (void)sd_notify(0, state.c_str()); }

uint64_t MonotonicMicros() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1000000u +
         static_cast<uint64_t>(ts.tv_nsec) / 1000u;
}

// STATUS= is one line; keep a stray newline from splitting the message.
std::string OneLine(std::string_view text) {
  std::string out(text);
  for (char& c : out) {
    if (c == '\n' || c == '\r') c = ' ';
  }
  return out;
}

}  // namespace

void NotifyReady(std::string_view status) {
  Send(absl::StrCat("READY=1\nSTATUS=", OneLine(status)));
}

void NotifyReloading() {
  Send(absl::StrCat("RELOADING=1\nMONOTONIC_USEC=", MonotonicMicros()));
}

void NotifyStopping(absl::Duration stop_time) {
  if (stop_time <= absl::ZeroDuration()) {
    Send("STOPPING=1");
    return;
  }
  Send(absl::StrCat("STOPPING=1\nEXTEND_TIMEOUT_USEC=",
                    absl::ToInt64Microseconds(stop_time)));
}

sigset_t BlockLifecycleSignals() {
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGHUP);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  return signals;
}

}  // namespace sallyport::base
