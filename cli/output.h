// What spctl prints: human tables by default, JSON or YAML of the API
// messages for scripts (`--output json|yaml`), and line diffs for
// `roles ... --dry-run`.
#ifndef SALLYPORT_CLI_OUTPUT_H_
#define SALLYPORT_CLI_OUTPUT_H_

#include <iosfwd>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "google/protobuf/message.h"

namespace sallyport::cli {

enum class OutputFormat { kTable, kJson, kYaml };
// "table", "json", "yaml"; nullopt otherwise.
std::optional<OutputFormat> ParseOutputFormat(std::string_view name);

// The message as JSON with the .proto field names, scalars at their
// default included, one trailing newline.
std::string ProtoToJson(const google::protobuf::Message& message);
// The message as block YAML with the .proto field names: durations as
// "8h", timestamps as RFC 3339; unset fields and empty lists are left out.
// YamlToProto (base/yaml_proto.h) reads it back (timestamps to the second).
std::string ProtoToYaml(const google::protobuf::Message& message);

// Prints `message` as JSON or YAML, with every scalar field that has no
// presence, defaults included (`allowed: false`, `"allowed": false`). False
// for kTable (the caller prints its table).
bool PrintStructured(OutputFormat format,
                     const google::protobuf::Message& message,
                     std::ostream& out);

// Left-aligned columns separated by two spaces.
void PrintTable(std::ostream& out, const std::vector<std::string>& header,
                const std::vector<std::vector<std::string>>& rows);

// A label as KEY=VALUE for a listing that joins labels with ',' (hosts) or
// '+' and ' ' (role selectors): both escaped (base::EscapeControls), and
// the value in double quotes (a '"' in it as \x22) when it is empty or
// holds ',', '+', ' ' or '"', so that `team="a,env=prod"` cannot read as
// two labels, team=a and env=prod.
std::string LabelText(std::string_view key, std::string_view value);

// A unified-style line diff of `before` and `after` ("-", "+" and " "
// prefixes); empty when they are equal.
std::string LineDiff(std::string_view before, std::string_view after);

}  // namespace sallyport::cli

#endif  // SALLYPORT_CLI_OUTPUT_H_
