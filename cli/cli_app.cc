#include "cli/cli_app.h"

#include <algorithm>
#include <cstdint>
#include <iostream>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "base/safe_text.h"
#include "cli/exit_codes.h"

namespace sallyport::cli {
namespace {

// One or more of 0-9 and nothing else.
bool AllDigits(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), absl::ascii_isdigit);
}

void ListInto(const CLI::App& app, const std::string& prefix,
              std::string* out) {
  for (const CLI::App* sub : app.get_subcommands({})) {
    const std::string name = absl::StrCat(prefix, sub->get_name());
    absl::StrAppend(out, "  ", name);
    if (name.size() < 28) out->append(28 - name.size(), ' ');
    absl::StrAppend(out, " ", sub->get_description(), "\n");
    ListInto(*sub, name + " ", out);
  }
}

std::vector<std::string> Words(const CLI::App& app) {
  std::vector<std::string> words;
  for (const CLI::App* sub : app.get_subcommands({})) {
    words.push_back(sub->get_name());
  }
  for (const CLI::Option* opt : app.get_options({})) {
    for (const std::string& l : opt->get_lnames()) words.push_back("--" + l);
  }
  return words;
}

// One case arm per command path ("users", "users add", ...).
void CaseArms(const CLI::App& app, const std::string& path, std::string* out) {
  absl::StrAppend(out, "    \"", path, "\") words=\"",
                  absl::StrJoin(Words(app), " "), "\" ;;\n");
  for (const CLI::App* sub : app.get_subcommands({})) {
    CaseArms(*sub,
             path.empty() ? sub->get_name() : path + " " + sub->get_name(),
             out);
  }
}

}  // namespace

std::optional<int> ParseCommandLine(CLI::App& app, int argc, char** argv) {
  // `--ca=` (an unset shell variable in `--ca=$CA`) is `--ca ""`, so that
  // the command says the value is empty: CLI11 took the next word as its
  // value (`spctl --ca= users ls`: "unknown command 'spctl ls'") or said "1
  // required TEXT missing". Not after "--", where words are not flags.
  std::vector<std::string> words;
  bool flags = true;
  for (int i = 0; i < argc; ++i) {
    const std::string_view w = argv[i];
    if (i > 0 && flags && w == "--") flags = false;
    if (i > 0 && flags && w.size() > 3 && w.substr(0, 2) == "--" &&
        w.find('=') == w.size() - 1) {
      words.emplace_back(w.substr(0, w.size() - 1));
      words.emplace_back();
    } else {
      words.emplace_back(w);
    }
  }
  std::vector<char*> split;
  for (std::string& w : words) split.push_back(w.data());
  // CLI11 reports through exceptions; they stop here.
  try {
    app.parse(static_cast<int>(split.size()), split.data());
  } catch (const CLI::ParseError& e) {
    if (e.get_exit_code() == 0) return app.exit(e);
    // The error is about the deepest command that was recognised: a
    // command group gets its own commands listed, a command its usage,
    // not the program's whole command tree.
    const CLI::App* command = &app;
    std::string path = app.get_name();
    while (!command->get_subcommands().empty()) {
      command = command->get_subcommands().front();
      absl::StrAppend(&path, " ", command->get_name());
    }
    const std::vector<std::string> left = app.remaining(true);
    if (!command->get_subcommands({}).empty() && !left.empty() &&
        left.front().rfind("-", 0) != 0) {
      std::cerr << "unknown command '" << path << " " << left.front() << "'\n";
    } else {
      std::cerr << e.what() << "\n";
    }
    if (command->get_subcommands({}).empty()) {
      // CLI11 names the command in "Usage:" after the words before it.
      std::cerr << command->help(
          command == &app ? "" : path.substr(0, path.rfind(' ')));
    } else {
      std::cerr << CommandList(*command, path);
    }
    return kExitUsage;
  }
  return std::nullopt;
}

std::string CommandList(const CLI::App& app, const std::string& path) {
  std::string out =
      absl::StrCat("Commands (", path.empty() ? app.get_name() : path,
                   " COMMAND --help for more):\n");
  ListInto(app, "", &out);
  return out;
}

std::string CompletionScript(const CLI::App& app, const std::string& shell) {
  const std::string name = app.get_name();
  std::string fn = "_" + name + "_complete";
  std::string out;
  if (shell == "zsh") {
    out = "autoload -U +X bashcompinit && bashcompinit\n";
  }
  absl::StrAppend(&out, fn, "() {\n", "  local cur path=\"\" words=\"\" w i\n",
                  "  cur=\"${COMP_WORDS[COMP_CWORD]}\"\n",
                  "  for ((i = 1; i < COMP_CWORD; i++)); do\n",
                  "    w=\"${COMP_WORDS[i]}\"\n",
                  "    case \"$w\" in -*) continue ;; esac\n",
                  "    if [[ -z \"$path\" ]]; then path=\"$w\"; else "
                  "path=\"$path $w\"; fi\n",
                  "  done\n", "  case \"$path\" in\n");
  CaseArms(app, "", &out);
  absl::StrAppend(&out, "    *) words=\"\" ;;\n", "  esac\n",
                  "  COMPREPLY=($(compgen -W \"$words\" -- \"$cur\"))\n", "}\n",
                  "complete -F ", fn, " ", name, "\n");
  return out;
}

CLI::Validator DecimalInRange(uint64_t min, uint64_t max,
                              std::string description) {
  return CLI::Validator(
      [min, max](std::string& value) -> std::string {
        uint64_t n = 0;
        if (!AllDigits(value) || !absl::SimpleAtoi(value, &n) || n < min ||
            n > max) {
          return absl::StrCat("want a decimal number from ", min, " to ", max,
                              ", not \"", base::EscapeControls(value), "\"");
        }
        value = absl::StrCat(n);  // no leading 0: CLI11 would read octal
        return "";
      },
      std::move(description));
}

CLI::Validator PositiveDecimal() {
  return DecimalInRange(1, UINT64_MAX, "NUMBER > 0");
}

CLI::Validator PositiveDecimalUpTo(uint64_t max, std::string description) {
  return CLI::Validator(
      [max](std::string& value) -> std::string {
        // The syntax first: SimpleAtod, like strtold, takes signs,
        // exponents, hex, inf and nan.
        const std::string_view v = value;
        const size_t dot = v.find('.');
        const bool plain =
            dot == std::string_view::npos
                ? AllDigits(v)
                : AllDigits(v.substr(0, dot)) && AllDigits(v.substr(dot + 1));
        double d = 0;
        if (!plain || !absl::SimpleAtod(value, &d) || d <= 0 ||
            d > static_cast<double>(max)) {
          return absl::StrCat(
              "want a decimal number greater than 0 and at most ", max,
              ", not \"", base::EscapeControls(value), "\"");
        }
        return "";
      },
      std::move(description));
}

std::optional<std::string> NonUtf8Argument(const CLI::App& app) {
  for (const CLI::Option* opt : app.get_options()) {
    for (const std::string& value : opt->results()) {
      if (!base::IsValidUtf8(value)) {
        return absl::StrCat(opt->get_name(), ": not valid UTF-8: \"",
                            base::EscapeControls(value), "\"");
      }
    }
  }
  for (const CLI::App* sub : app.get_subcommands()) {
    if (std::optional<std::string> bad = NonUtf8Argument(*sub)) return bad;
  }
  return std::nullopt;
}

absl::StatusOr<absl::Duration> ParseDurationFlag(std::string_view text) {
  absl::Duration d;
  const std::string shown = base::EscapeControls(text);
  if (!absl::ParseDuration(std::string(text), &d)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "bad duration \"", shown, "\": write e.g. 90s, 30m, 8h or 1h30m"));
  }
  // A duration, but none that can be meant: `--ttl 0s` was called a "bad
  // duration" as if it were not one.
  if (d <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError(
        absl::StrCat("duration \"", shown, "\" must be more than zero"));
  }
  return d;
}

}  // namespace sallyport::cli
