#include "tests/bench/null_gateway.h"

#include <pthread.h>
#include <signal.h>

#include <iostream>
#include <memory>

#include "absl/synchronization/mutex.h"
#include "gateway/recorder.h"
#include "gateway/serve.h"

namespace sallyport::testing {

int ServeNullRecorderGateway(const std::string& config,
                             const std::string& listen) {
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  // As `sallyport-gateway serve` (gateway/main.cc): Abseil's lock-order
  // cycle checks off, so these rows measure what the real gateway runs.
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
  absl::StatusOr<gateway::GatewaySettings> settings =
      gateway::LoadServeConfig(config);
  if (!settings.ok()) {
    std::cerr << "gateway.yaml: " << settings.status() << "\n";
    return 1;
  }
  settings->listen = listen;
  settings->metrics_listen = "";
  gateway::NullRecorder null_recorder;
  gateway::GatewayServer::Options o;
  o.config = *settings;
  o.recorder = &null_recorder;
  absl::StatusOr<std::unique_ptr<gateway::GatewayServer>> server =
      gateway::GatewayServer::Start(std::move(o));
  if (!server.ok()) {
    std::cerr << "serve: " << server.status() << "\n";
    return 1;
  }
  int sig = 0;
  sigwait(&signals, &sig);
  server->reset();
  return 0;
}

}  // namespace sallyport::testing
