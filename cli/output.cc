#include "cli/output.h"

#include <google/protobuf/util/json_util.h>

#include <algorithm>
#include <ostream>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "absl/time/time.h"
#include "base/safe_text.h"
#include "base/yaml_proto.h"

namespace sallyport::cli {

using google::protobuf::Message;

std::optional<OutputFormat> ParseOutputFormat(std::string_view name) {
  if (name == "table") return OutputFormat::kTable;
  if (name == "json") return OutputFormat::kJson;
  if (name == "yaml") return OutputFormat::kYaml;
  return std::nullopt;
}

std::string ProtoToJson(const Message& message) {
  google::protobuf::util::JsonPrintOptions options;
  options.add_whitespace = true;
  options.preserve_proto_field_names = true;
  options.always_print_primitive_fields = true;
  std::string out;
  (void)google::protobuf::util::MessageToJsonString(message, &out, options);
  if (out.empty() || out.back() != '\n') out.push_back('\n');
  return out;
}

namespace {

// One emitter for config files and CLI output (base/yaml_proto). An empty
// message prints nothing rather than "{}".
// Text YAML cannot carry exactly (a noncharacter such as U+FFFE in a
// recorded command) is printed with U+FFFD in its place, after a comment
// that names the field and points to the JSON, which prints it exactly.
std::string Yaml(const Message& message,
                 const base::ProtoToYamlOptions& options) {
  absl::StatusOr<std::string> yaml = base::ProtoToYaml(message, options);
  std::string note;
  if (absl::IsInvalidArgument(yaml.status())) {
    note = absl::StrCat(
        "# ", base::EscapeControls(std::string(yaml.status().message())),
        "; shown with U+FFFD in its place (-o json prints "
        "it exactly)\n");
    base::ProtoToYamlOptions lossy = options;
    lossy.replace_unwritable_text = true;
    yaml = base::ProtoToYaml(message, lossy);
  }
  if (!yaml.ok() || *yaml == "{}\n") return "";
  return note + *yaml;
}

}  // namespace

std::string ProtoToYaml(const Message& message) { return Yaml(message, {}); }

bool PrintStructured(OutputFormat format, const Message& message,
                     std::ostream& out) {
  switch (format) {
    case OutputFormat::kJson:
      out << ProtoToJson(message);
      return true;
    case OutputFormat::kYaml:
      // As the JSON: `allowed: false` is printed, not left out.
      out << Yaml(message, {.always_print_primitive_fields = true});
      return true;
    case OutputFormat::kTable:
      break;
  }
  return false;
}

std::string LabelText(std::string_view key, std::string_view value) {
  const std::string k = base::EscapeControls(key);
  const std::string v = base::EscapeControls(value);
  if (!v.empty() && v.find_first_of(",+ \"") == std::string::npos) {
    return absl::StrCat(k, "=", v);
  }
  return absl::StrCat(k, "=\"", absl::StrReplaceAll(v, {{"\"", "\\x22"}}),
                      "\"");
}

void PrintTable(std::ostream& out, const std::vector<std::string>& header,
                const std::vector<std::vector<std::string>>& rows) {
  std::vector<size_t> width(header.size(), 0);
  auto measure = [&](const std::vector<std::string>& row) {
    for (size_t i = 0; i < row.size() && i < width.size(); ++i) {
      width[i] = std::max(width[i], base::DisplayWidth(row[i]));
    }
  };
  measure(header);
  for (const auto& row : rows) measure(row);
  auto print = [&](const std::vector<std::string>& row) {
    std::string line;
    for (size_t i = 0; i < row.size() && i < width.size(); ++i) {
      line += row[i];
      if (i + 1 < row.size())
        line += std::string(width[i] - base::DisplayWidth(row[i]) + 2, ' ');
    }
    out << line << "\n";
  };
  print(header);
  for (const auto& row : rows) print(row);
}

std::string LineDiff(std::string_view before, std::string_view after) {
  if (before == after) return "";
  std::vector<std::string> a = absl::StrSplit(
      absl::string_view(before.data(), before.size()), '\n', absl::SkipEmpty());
  std::vector<std::string> b = absl::StrSplit(
      absl::string_view(after.data(), after.size()), '\n', absl::SkipEmpty());
  // Longest common subsequence; role files are small.
  std::vector<std::vector<size_t>> lcs(a.size() + 1,
                                       std::vector<size_t>(b.size() + 1, 0));
  for (size_t i = a.size(); i-- > 0;) {
    for (size_t j = b.size(); j-- > 0;) {
      lcs[i][j] = a[i] == b[j] ? lcs[i + 1][j + 1] + 1
                               : std::max(lcs[i + 1][j], lcs[i][j + 1]);
    }
  }
  std::string out;
  size_t i = 0, j = 0;
  while (i < a.size() || j < b.size()) {
    if (i < a.size() && j < b.size() && a[i] == b[j]) {
      out += " " + a[i++] + "\n";
      ++j;
    } else if (i < a.size() &&
               (j == b.size() || lcs[i + 1][j] >= lcs[i][j + 1])) {
      out += "-" + a[i++] + "\n";
    } else {
      out += "+" + b[j++] + "\n";
    }
  }
  return out;
}

}  // namespace sallyport::cli
