#include "gateway/enroll_main.h"

#include <openssl/crypto.h>

#include <iostream>

#include "absl/strings/str_join.h"
#include "base/files.h"

namespace sallyport::gateway {

CLI::App* AddEnrollCommand(CLI::App& app, EnrollOptions* options) {
  CLI::App* enroll = app.add_subcommand(
      "enroll",
      "enrol this gateway with the CA using a one-time join token: writes "
      "its keys, certificates and STATE_DIR/gateway.yaml");
  enroll->add_option("--ca", options->ca, "the CA's HOST:PORT")->required();
  enroll
      ->add_option("--ca-fingerprint", options->ca_fingerprint,
                   "SHA256 fingerprint of the CA's TLS certificate (as "
                   "`sallyport-ca init` printed it)")
      ->required();
  CLI::Option* token_file = enroll->add_option(
      "--token-file", options->token_file,
      "file whose first line is the one-time join token of kind \"gateway\" "
      "(spctl tokens create); \"-\": standard input");
  enroll
      ->add_option("--token", options->token,
                   "the join token itself (\"-\": read it from standard "
                   "input); other users see it in ps: prefer --token-file")
      ->excludes(token_file);
  enroll
      ->add_option("--state-dir", options->state_dir,
                   "directory for the gateway's keys, certificates and "
                   "gateway.yaml (created mode 0700; an existing one is "
                   "kept as it is, and refused if another user owns it or "
                   "group or others may write to it)")
      ->required();
  enroll->add_option("--name", options->name,
                     "the gateway's name (default: the host name)");
  enroll->add_option("--principal", options->principals,
                     "another name clients reach the gateway by (host "
                     "certificate principal); repeatable");
  enroll->add_flag("--force", options->force,
                   "replace an identity already in the state directory");
  return enroll;
}

int RunEnrollCommand(const EnrollOptions& given, std::ostream& out,
                     std::ostream& err) {
  EnrollOptions options = given;
  // The token from a file or stdin: not on the command line, where ps and
  // the shell's history show it.
  const std::string token_source =
      options.token == "-" ? "-" : options.token_file;
  if (token_source.empty() && options.token.empty()) {
    err << "sallyport-gateway enroll: --token-file PATH (or --token) is "
           "required\n";
    return 1;
  }
  if (!token_source.empty()) {
    absl::StatusOr<std::string> token = base::ReadFirstLine(token_source);
    if (!token.ok()) {
      err << "sallyport-gateway enroll: "
          << (options.token == "-" ? "--token" : "--token-file") << ": "
          << token.status().message() << "\n";
      return 1;
    }
    options.token = std::move(*token);
  }
  absl::StatusOr<EnrollResult> result = Enroll(options);
  OPENSSL_cleanse(options.token.data(), options.token.size());
  if (!result.ok()) {
    err << "sallyport-gateway enroll: " << result.status().message() << "\n";
    return 1;
  }
  for (const std::string& warning : result->warnings) {
    err << "sallyport-gateway enroll: warning: " << warning << "\n";
  }
  out << "Enrolled gateway " << result->name << " with the CA at " << options.ca
      << ".\n"
      << "  host certificate principals: "
      << absl::StrJoin(result->host_principals, ", ") << "\n"
      << "  client certificate valid until "
      << absl::FormatTime("%Y-%m-%d %H:%M:%S UTC", result->tls_valid_before,
                          absl::UTCTimeZone())
      << " (renewed while serving)\n"
      << "  config: " << result->config_path << "\n"
      << "Start it with: sallyport-gateway serve --config "
      << result->config_path << "\n";
  return 0;
}

int RunEnroll(int argc, char** argv) {
  CLI::App app{"sallyport-gateway: the Sallyport SSH gateway"};
  app.require_subcommand(1);
  EnrollOptions options;
  AddEnrollCommand(app, &options);
  CLI11_PARSE(app, argc, argv);
  return RunEnrollCommand(options, std::cout, std::cerr);
}

}  // namespace sallyport::gateway
