// sallyport-gateway: the Sallyport SSH gateway (DESIGN.md §2, issue 12).
//
//   sallyport-gateway serve --config DIR/gateway.yaml [--listen HOST:PORT]
//
// Each subcommand is a function in its own file (serve: gateway/serve.h).
#include <CLI/CLI.hpp>

#include "gateway/serve.h"

int main(int argc, char** argv) {
  CLI::App app{"sallyport-gateway: the Sallyport SSH gateway"};
  app.require_subcommand(1);

  std::string config_path, listen;
  CLI::App* serve = app.add_subcommand(
      "serve", "terminate user SSH, authorize with the CA, bridge to hosts");
  serve->add_option("--config", config_path, "config file (gateway.yaml)")
      ->required();
  serve->add_option("--listen", listen,
                    "HOST:PORT, overrides the config's listen");

  CLI11_PARSE(app, argc, argv);
  if (serve->parsed()) return sallyport::gateway::RunServe(config_path, listen);
  return 2;
}
