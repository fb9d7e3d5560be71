// `sallyport-gateway enroll` (issue 12):
//   sallyport-gateway enroll --ca HOST:PORT --ca-fingerprint SHA256:...
//       (--token-file PATH | --token TOKEN) --state-dir DIR [--name NAME]
//       [--principal NAME]... [--force]
// --token-file (or "-", and --token -, for standard input) keeps the token
// out of ps and the shell's history.
// gateway/main.cc adds it to its CLI11 app with AddEnrollCommand and runs
// it with RunEnrollCommand when it was parsed; RunEnroll is the same as a
// whole program (//gateway:sallyport-gateway-enroll).
#ifndef SALLYPORT_GATEWAY_ENROLL_MAIN_H_
#define SALLYPORT_GATEWAY_ENROLL_MAIN_H_

#include <CLI/CLI.hpp>
#include <ostream>

#include "gateway/enroll.h"

namespace sallyport::gateway {

// Adds the "enroll" subcommand to `app`, filling `*options` when parsed.
CLI::App* AddEnrollCommand(CLI::App& app, EnrollOptions* options);

// Reads the token from options.token_file (or stdin for token "-" or
// token_file "-"), enrols and prints the outcome; the exit code (0 ok, 1
// refused or failed, the token file unreadable or empty: the reason on
// `err`, never the token).
int RunEnrollCommand(const EnrollOptions& options, std::ostream& out,
                     std::ostream& err);

// `argv` = {program, "enroll", flags...}.
int RunEnroll(int argc, char** argv);

}  // namespace sallyport::gateway

#endif  // SALLYPORT_GATEWAY_ENROLL_MAIN_H_
