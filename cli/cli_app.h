// Command-line plumbing shared by sp and spctl: parsing with the list of
// commands on a usage error (exit 2) and shell completion scripts generated
// from the CLI11 command tree.
#ifndef SALLYPORT_CLI_CLI_APP_H_
#define SALLYPORT_CLI_CLI_APP_H_

#include <CLI/CLI.hpp>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace sallyport::cli {

// Parses; nullopt when the program should go on. Otherwise the exit code:
// 0 after --help / --version, 2 after a usage error (the error, then the
// usage of the command it is about, or the commands of a command group
// such as `spctl users`, are printed to stderr). A long flag given as
// `--name=` is taken as `--name ""` (the command then says what it thinks
// of an empty value).
std::optional<int> ParseCommandLine(CLI::App& app, int argc, char** argv);

// "Commands:" and one line per subcommand (with its subcommands). `path`
// names `app` in the heading ("spctl users"); empty: app's own name.
std::string CommandList(const CLI::App& app, const std::string& path = "");

// A bash or zsh completion script for `app` (zsh through bashcompinit).
std::string CompletionScript(const CLI::App& app, const std::string& shell);

// A CLI11 transform for an integer option: a decimal number from `min` to
// `max` (at most 2^64-1), passed on without leading zeros; otherwise the
// usage error "want a decimal number from MIN to MAX, not "VALUE"". CLI11
// alone reads integers with strtoull/strtoll in base 0: "010" as octal 8,
// "0x16" as 22, and "-1" as 2^64-1 for an unsigned option. `description`
// is what --help shows after the option's type.
CLI::Validator DecimalInRange(uint64_t min, uint64_t max,
                              std::string description);

// DecimalInRange(1, 2^64-1) for an unsigned 64-bit option (a certificate
// serial).
CLI::Validator PositiveDecimal();

// A CLI11 check for a floating-point option: a plain decimal number, digits
// with at most one '.' between digits ("2", "0.5", "010.25"), greater than
// 0 and at most `max`; otherwise the usage error "want a decimal number
// greater than 0 and at most MAX, not "VALUE"". CLI11 alone reads floats
// with strtold, which takes "0x2", "1e3", "inf", "nan" and "-1". Refused
// too: "+2", "", ".5" and "5.". `description` is what --help shows after
// the option's type.
CLI::Validator PositiveDecimalUpTo(uint64_t max, std::string description);

// The first value given on the command line (to `app` or one of the
// subcommands that ran) that is not valid UTF-8, as "NAME: not valid UTF-8:
// VALUE" (VALUE escaped), for a usage error before protobuf, whose string
// fields must be UTF-8, sees it; nullopt when every value is.
std::optional<std::string> NonUtf8Argument(const CLI::App& app);

// Parses a duration flag: "90s", "30m", "8h", "1h30m" (positive).
// kInvalidArgument with an example otherwise.
absl::StatusOr<absl::Duration> ParseDurationFlag(std::string_view text);

}  // namespace sallyport::cli

#endif  // SALLYPORT_CLI_CLI_APP_H_
