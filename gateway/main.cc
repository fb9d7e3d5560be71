// sallyport-gateway: the Sallyport SSH gateway (DESIGN.md §2, issue 12).
//
//   sallyport-gateway enroll --ca HOST:PORT --ca-fingerprint SHA256:...
//       --token-file FILE --state-dir DIR [--name NAME] [--principal NAME]...
//   sallyport-gateway serve --config DIR/gateway.yaml [--listen HOST:PORT]
//
// Each subcommand is a function in its own file (enroll: gateway/enroll_main.h,
// serve: gateway/serve.h).
#include <CLI/CLI.hpp>
#include <iostream>

#include "absl/synchronization/mutex.h"
#include "base/version.h"
#include "gateway/enroll_main.h"
#include "gateway/serve.h"

int main(int argc, char** argv) {
  CLI::App app{"sallyport-gateway: the Sallyport SSH gateway"};
  app.name("sallyport-gateway");
  app.require_subcommand(1);
  app.set_version_flag("--version", std::string("sallyport-gateway ") +
                                        sallyport::base::kVersion);

  sallyport::gateway::EnrollOptions enroll_options;
  CLI::App* enroll = sallyport::gateway::AddEnrollCommand(app, &enroll_options);

  std::string config_path, listen;
  CLI::App* serve = app.add_subcommand(
      "serve", "terminate user SSH, authorize with the CA, bridge to hosts");
  serve->add_option("--config", config_path, "config file (gateway.yaml)")
      ->required();
  serve->add_option("--listen", listen,
                    "HOST:PORT, overrides the config's listen");

  CLI11_PARSE(app, argc, argv);
  if (enroll->parsed()) {
    return sallyport::gateway::RunEnrollCommand(enroll_options, std::cout,
                                                std::cerr);
  }
  if (serve->parsed()) {
    // Debian's Abseil checks every Mutex acquisition for lock-order cycles
    // (a debugging aid; tests keep it): it showed in the per-session profile.
    absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
    return sallyport::gateway::RunServe(config_path, listen);
  }
  return 2;
}
