#include "cli/output.h"

#include <google/protobuf/util/json_util.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <ostream>

#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/time/time.h"
#include "google/protobuf/descriptor.h"
#include "google/protobuf/duration.pb.h"
#include "google/protobuf/timestamp.pb.h"

namespace sallyport::cli {
namespace {

using google::protobuf::FieldDescriptor;
using google::protobuf::Message;
using google::protobuf::Reflection;

void EmitMessage(YAML::Emitter& y, const Message& m);

void EmitScalar(YAML::Emitter& y, const Message& m, const FieldDescriptor* f,
                int index) {
  const Reflection* r = m.GetReflection();
  const bool rep = f->is_repeated();
  switch (f->cpp_type()) {
    case FieldDescriptor::CPPTYPE_STRING:
      y << YAML::DoubleQuoted
        << (rep ? r->GetRepeatedString(m, f, index) : r->GetString(m, f));
      break;
    case FieldDescriptor::CPPTYPE_BOOL:
      y << ((rep ? r->GetRepeatedBool(m, f, index) : r->GetBool(m, f))
                ? "true"
                : "false");
      break;
    case FieldDescriptor::CPPTYPE_INT32:
      y << (rep ? r->GetRepeatedInt32(m, f, index) : r->GetInt32(m, f));
      break;
    case FieldDescriptor::CPPTYPE_INT64:
      y << (rep ? r->GetRepeatedInt64(m, f, index) : r->GetInt64(m, f));
      break;
    case FieldDescriptor::CPPTYPE_UINT32:
      y << (rep ? r->GetRepeatedUInt32(m, f, index) : r->GetUInt32(m, f));
      break;
    case FieldDescriptor::CPPTYPE_UINT64:
      y << (rep ? r->GetRepeatedUInt64(m, f, index) : r->GetUInt64(m, f));
      break;
    case FieldDescriptor::CPPTYPE_DOUBLE:
      y << (rep ? r->GetRepeatedDouble(m, f, index) : r->GetDouble(m, f));
      break;
    case FieldDescriptor::CPPTYPE_FLOAT:
      y << (rep ? r->GetRepeatedFloat(m, f, index) : r->GetFloat(m, f));
      break;
    case FieldDescriptor::CPPTYPE_ENUM:
      y << (rep ? r->GetRepeatedEnum(m, f, index) : r->GetEnum(m, f))->name();
      break;
    case FieldDescriptor::CPPTYPE_MESSAGE:
      EmitMessage(
          y, rep ? r->GetRepeatedMessage(m, f, index) : r->GetMessage(m, f));
      break;
  }
}

void EmitMessage(YAML::Emitter& y, const Message& m) {
  const std::string& type = m.GetDescriptor()->full_name();
  const Reflection* r = m.GetReflection();
  if (type == "google.protobuf.Duration") {
    const auto* f = m.GetDescriptor();
    const absl::Duration d =
        absl::Seconds(r->GetInt64(m, f->FindFieldByName("seconds"))) +
        absl::Nanoseconds(r->GetInt32(m, f->FindFieldByName("nanos")));
    y << absl::FormatDuration(d);
    return;
  }
  if (type == "google.protobuf.Timestamp") {
    const auto* f = m.GetDescriptor();
    const absl::Time t =
        absl::FromUnixSeconds(r->GetInt64(m, f->FindFieldByName("seconds"))) +
        absl::Nanoseconds(r->GetInt32(m, f->FindFieldByName("nanos")));
    y << absl::FormatTime("%Y-%m-%dT%H:%M:%SZ", t, absl::UTCTimeZone());
    return;
  }
  std::vector<const FieldDescriptor*> fields;
  r->ListFields(m, &fields);
  y << YAML::BeginMap;
  for (const FieldDescriptor* f : fields) {
    y << YAML::Key << f->name() << YAML::Value;
    if (f->is_map()) {
      // Sorted by key so the output is stable.
      std::vector<std::pair<std::string, int>> entries;
      for (int i = 0; i < r->FieldSize(m, f); ++i) {
        const Message& e = r->GetRepeatedMessage(m, f, i);
        const FieldDescriptor* k = e.GetDescriptor()->FindFieldByName("key");
        entries.emplace_back(e.GetReflection()->GetString(e, k), i);
      }
      std::sort(entries.begin(), entries.end());
      y << YAML::BeginMap;
      for (const auto& [key, i] : entries) {
        const Message& e = r->GetRepeatedMessage(m, f, i);
        y << YAML::Key << key << YAML::Value;
        EmitScalar(y, e, e.GetDescriptor()->FindFieldByName("value"), -1);
      }
      y << YAML::EndMap;
    } else if (f->is_repeated()) {
      y << YAML::BeginSeq;
      for (int i = 0; i < r->FieldSize(m, f); ++i) EmitScalar(y, m, f, i);
      y << YAML::EndSeq;
    } else {
      EmitScalar(y, m, f, -1);
    }
  }
  y << YAML::EndMap;
}

}  // namespace

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

std::string ProtoToYaml(const Message& message) {
  YAML::Emitter y;
  EmitMessage(y, message);
  std::string out = y.c_str();
  if (out == "{}") out.clear();
  if (!out.empty() && out.back() != '\n') out.push_back('\n');
  return out;
}

bool PrintStructured(OutputFormat format, const Message& message,
                     std::ostream& out) {
  switch (format) {
    case OutputFormat::kJson:
      out << ProtoToJson(message);
      return true;
    case OutputFormat::kYaml:
      out << ProtoToYaml(message);
      return true;
    case OutputFormat::kTable:
      break;
  }
  return false;
}

void PrintTable(std::ostream& out, const std::vector<std::string>& header,
                const std::vector<std::vector<std::string>>& rows) {
  std::vector<size_t> width(header.size(), 0);
  auto measure = [&](const std::vector<std::string>& row) {
    for (size_t i = 0; i < row.size() && i < width.size(); ++i) {
      width[i] = std::max(width[i], row[i].size());
    }
  };
  measure(header);
  for (const auto& row : rows) measure(row);
  auto print = [&](const std::vector<std::string>& row) {
    std::string line;
    for (size_t i = 0; i < row.size() && i < width.size(); ++i) {
      line += row[i];
      if (i + 1 < row.size())
        line += std::string(width[i] - row[i].size() + 2, ' ');
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
