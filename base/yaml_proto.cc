#include "base/yaml_proto.h"

#include <yaml-cpp/eventhandler.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <limits>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/time.h"
#include "base/files.h"
#include "base/safe_text.h"
#include "base/status_macros.h"
#include "google/protobuf/descriptor.h"
#include "google/protobuf/duration.pb.h"
#include "google/protobuf/timestamp.pb.h"

namespace sallyport::base {
namespace {

using google::protobuf::Descriptor;
using google::protobuf::FieldDescriptor;
using google::protobuf::Reflection;

constexpr size_t kMaxFileBytes = 1 << 20;
constexpr int kMaxDepth = 32;
// What one document may expand to: the bytes of every value copied into the
// message plus kNodeCost per node visited. A 1 MiB file without aliases
// stays far below it; YAML aliases (`&a` ... `*a`) repeat a node without
// repeating its text, so a few KiB of them could otherwise make gigabytes
// (the "billion laughs" of XML).
constexpr size_t kMaxExpandedBytes = 16 << 20;
constexpr size_t kNodeCost = 16;

class Converter {
 public:
  explicit Converter(std::string_view source) : source_(source) {}

  absl::Status Object(const YAML::Node& node, const std::string& path,
                      google::protobuf::Message* msg, int depth) {
    if (depth > kMaxDepth) return Error(node, path, "nested too deeply");
    RETURN_IF_ERROR(Spend(node, path, kNodeCost));
    if (!node.IsMap()) {
      return Error(node, path, "expected a mapping (KEY: VALUE lines)");
    }
    const Descriptor* desc = msg->GetDescriptor();
    std::set<std::string> seen;
    // Copies, not references: yaml-cpp's iterator hands out a temporary
    // pair, so `const Node& k = it->first` would dangle (found by ASan).
    for (auto it = node.begin(); it != node.end(); ++it) {
      const YAML::Node key = it->first;
      if (!key.IsScalar()) return Error(key, path, "keys must be plain names");
      const std::string name = key.Scalar();
      const std::string key_path = path.empty() ? name : path + "." + name;
      if (!seen.insert(name).second) {
        return Error(key, key_path, "duplicate key");
      }
      const FieldDescriptor* field = desc->FindFieldByName(name);
      if (field == nullptr) {
        // Where, and what the key may have been meant as: a user does not
        // know the .proto type name this named ("in
        // sallyport.config.GatewayLimits").
        std::vector<std::string> known;
        for (int i = 0; i < desc->field_count(); ++i) {
          known.push_back(desc->field(i)->name());
        }
        return absl::InvalidArgumentError(absl::StrCat(
            source_, ":", key.Mark().line + 1, ": unknown key '",
            SafeText(name, 64), "'",
            path.empty() ? "" : absl::StrCat(" in '", path, "'"),
            " (the keys there: ", absl::StrJoin(known, ", "), ")"));
      }
      const YAML::Node value = it->second;
      if (value.IsNull()) continue;
      RETURN_IF_ERROR(Field(value, key_path, msg, field, depth));
    }
    return absl::OkStatus();
  }

 private:
  // Charges `bytes` to the document's expansion budget (kMaxExpandedBytes).
  absl::Status Spend(const YAML::Node& node, const std::string& path,
                     size_t bytes) {
    spent_ += bytes;
    if (spent_ <= kMaxExpandedBytes) return absl::OkStatus();
    return Error(node, path,
                 absl::StrCat("the document expands to more than ",
                              kMaxExpandedBytes >> 20,
                              " MiB (YAML aliases repeating large values?)"));
  }

  absl::Status Error(const YAML::Node& node, const std::string& path,
                     std::string_view what) {
    return absl::InvalidArgumentError(absl::StrCat(
        source_, ":", node.Mark().line + 1, ": ",
        path.empty() ? "" : absl::StrCat("'", path, "': "), std::string(what)));
  }

  absl::Status Field(const YAML::Node& value, const std::string& path,
                     google::protobuf::Message* msg,
                     const FieldDescriptor* field, int depth) {
    if (field->is_map()) return Map(value, path, msg, field);
    if (field->is_repeated()) {
      if (!value.IsSequence()) return Error(value, path, "expected a list");
      for (size_t i = 0; i < value.size(); ++i) {
        const YAML::Node item = value[i];
        RETURN_IF_ERROR(
            Single(item, absl::StrCat(path, "[", i, "]"), msg, field, depth));
      }
      return absl::OkStatus();
    }
    return Single(value, path, msg, field, depth);
  }

  absl::Status Map(const YAML::Node& value, const std::string& path,
                   google::protobuf::Message* msg,
                   const FieldDescriptor* field) {
    if (!value.IsMap()) return Error(value, path, "expected a mapping");
    const Descriptor* entry_desc = field->message_type();
    const FieldDescriptor* key_field = entry_desc->map_key();
    const FieldDescriptor* value_field = entry_desc->map_value();
    if (key_field->cpp_type() != FieldDescriptor::CPPTYPE_STRING ||
        value_field->cpp_type() == FieldDescriptor::CPPTYPE_MESSAGE) {
      return Error(value, path, "unsupported map type");
    }
    std::set<std::string> seen;
    for (auto it = value.begin(); it != value.end(); ++it) {
      const YAML::Node key_node = it->first;
      const YAML::Node value_node = it->second;
      if (!key_node.IsScalar()) return Error(key_node, path, "bad map key");
      const std::string key = key_node.Scalar();
      RETURN_IF_ERROR(Spend(key_node, path, kNodeCost + key.size()));
      if (!IsValidUtf8(key)) return Error(key_node, path, "bad map key");
      if (!seen.insert(key).second) {
        return Error(key_node, path + "." + key, "duplicate key");
      }
      google::protobuf::Message* entry =
          msg->GetReflection()->AddMessage(msg, field);
      entry->GetReflection()->SetString(entry, key_field, key);
      RETURN_IF_ERROR(
          Single(value_node, path + "." + key, entry, value_field, 0));
    }
    return absl::OkStatus();
  }

  template <typename T>
  absl::StatusOr<T> Integer(const YAML::Node& value, const std::string& path) {
    T out;
    if (!absl::SimpleAtoi(value.Scalar(), &out)) {
      return Error(value, path, "expected an integer in range");
    }
    return out;
  }

  absl::Status Single(const YAML::Node& value, const std::string& path,
                      google::protobuf::Message* msg,
                      const FieldDescriptor* field, int depth) {
    const Reflection* r = msg->GetReflection();
    const bool rep = field->is_repeated();
    if (field->cpp_type() == FieldDescriptor::CPPTYPE_MESSAGE) {
      google::protobuf::Message* sub =
          rep ? r->AddMessage(msg, field) : r->MutableMessage(msg, field);
      const std::string& type = field->message_type()->full_name();
      if (type == "google.protobuf.Duration") {
        RETURN_IF_ERROR(Spend(value, path, kNodeCost));
        return Duration(value, path, sub);
      }
      if (type == "google.protobuf.Timestamp") {
        RETURN_IF_ERROR(Spend(value, path, kNodeCost));
        return Timestamp(value, path, sub);
      }
      return Object(value, path, sub, depth + 1);
    }
    if (!value.IsScalar()) return Error(value, path, "expected a value");
    const std::string& text = value.Scalar();
    RETURN_IF_ERROR(Spend(value, path, kNodeCost + text.size()));
    switch (field->cpp_type()) {
      case FieldDescriptor::CPPTYPE_STRING:
        // A proto string holds UTF-8 (protobuf refuses anything else on the
        // wire); bytes fields take any value.
        if (field->type() == FieldDescriptor::TYPE_STRING &&
            !IsValidUtf8(text)) {
          return Error(value, path, "not valid UTF-8");
        }
        if (field->type() == FieldDescriptor::TYPE_BYTES &&
            (value.Tag() == "tag:yaml.org,2002:binary" ||
             value.Tag() == "!!binary")) {
          // What ProtoToYaml writes for bytes.
          const std::vector<unsigned char> bytes = YAML::DecodeBase64(text);
          if (bytes.empty() && !text.empty()) {
            return Error(value, path, "not valid base64 (!!binary)");
          }
          const std::string decoded(bytes.begin(), bytes.end());
          rep ? r->AddString(msg, field, decoded)
              : r->SetString(msg, field, decoded);
          return absl::OkStatus();
        }
        rep ? r->AddString(msg, field, text) : r->SetString(msg, field, text);
        return absl::OkStatus();
      case FieldDescriptor::CPPTYPE_BOOL: {
        const std::string lower = absl::AsciiStrToLower(text);
        if (lower != "true" && lower != "false") {
          return Error(value, path, "expected true or false");
        }
        rep ? r->AddBool(msg, field, lower == "true")
            : r->SetBool(msg, field, lower == "true");
        return absl::OkStatus();
      }
      case FieldDescriptor::CPPTYPE_INT32: {
        ASSIGN_OR_RETURN(int32_t v, Integer<int32_t>(value, path));
        rep ? r->AddInt32(msg, field, v) : r->SetInt32(msg, field, v);
        return absl::OkStatus();
      }
      case FieldDescriptor::CPPTYPE_INT64: {
        ASSIGN_OR_RETURN(int64_t v, Integer<int64_t>(value, path));
        rep ? r->AddInt64(msg, field, v) : r->SetInt64(msg, field, v);
        return absl::OkStatus();
      }
      case FieldDescriptor::CPPTYPE_UINT32: {
        ASSIGN_OR_RETURN(uint32_t v, Integer<uint32_t>(value, path));
        rep ? r->AddUInt32(msg, field, v) : r->SetUInt32(msg, field, v);
        return absl::OkStatus();
      }
      case FieldDescriptor::CPPTYPE_UINT64: {
        ASSIGN_OR_RETURN(uint64_t v, Integer<uint64_t>(value, path));
        rep ? r->AddUInt64(msg, field, v) : r->SetUInt64(msg, field, v);
        return absl::OkStatus();
      }
      case FieldDescriptor::CPPTYPE_DOUBLE:
      case FieldDescriptor::CPPTYPE_FLOAT: {
        double v;
        if (!absl::SimpleAtod(text, &v)) {
          return Error(value, path, "expected a number");
        }
        if (field->cpp_type() == FieldDescriptor::CPPTYPE_FLOAT) {
          rep ? r->AddFloat(msg, field, static_cast<float>(v))
              : r->SetFloat(msg, field, static_cast<float>(v));
        } else {
          rep ? r->AddDouble(msg, field, v) : r->SetDouble(msg, field, v);
        }
        return absl::OkStatus();
      }
      case FieldDescriptor::CPPTYPE_ENUM: {
        const auto* ev = field->enum_type()->FindValueByName(text);
        if (ev == nullptr) {
          return Error(value, path, absl::StrCat("unknown value '", text, "'"));
        }
        rep ? r->AddEnum(msg, field, ev) : r->SetEnum(msg, field, ev);
        return absl::OkStatus();
      }
      case FieldDescriptor::CPPTYPE_MESSAGE:
        break;
    }
    return Error(value, path, "unsupported field type");
  }

  absl::Status Duration(const YAML::Node& value, const std::string& path,
                        google::protobuf::Message* out) {
    absl::Duration d;
    if (!value.IsScalar() || !absl::ParseDuration(value.Scalar(), &d) ||
        d == absl::InfiniteDuration() || d == -absl::InfiniteDuration()) {
      return Error(value, path,
                   "expected a duration such as \"90s\", \"15m\" or \"8h\"");
    }
    auto* duration = static_cast<google::protobuf::Duration*>(out);
    const int64_t seconds = absl::IDivDuration(d, absl::Seconds(1), &d);
    duration->set_seconds(seconds);
    duration->set_nanos(static_cast<int32_t>(absl::ToInt64Nanoseconds(d)));
    return absl::OkStatus();
  }

  // RFC 3339, as ProtoToYaml writes it ("2026-11-30T13:00:00Z") or with a
  // fraction and an offset; within google.protobuf.Timestamp's range (years
  // 1 to 9999).
  absl::Status Timestamp(const YAML::Node& value, const std::string& path,
                         google::protobuf::Message* out) {
    static const absl::Time kMin = absl::FromCivil(
        absl::CivilSecond(1, 1, 1, 0, 0, 0), absl::UTCTimeZone());
    static const absl::Time kEnd = absl::FromCivil(
        absl::CivilSecond(10000, 1, 1, 0, 0, 0), absl::UTCTimeZone());
    absl::Time t;
    std::string err;
    if (!value.IsScalar() ||
        !absl::ParseTime(absl::RFC3339_full, value.Scalar(), &t, &err) ||
        t < kMin || t >= kEnd) {
      return Error(value, path,
                   "expected an RFC 3339 time such as "
                   "\"2026-11-30T13:00:00Z\"");
    }
    auto* ts = static_cast<google::protobuf::Timestamp*>(out);
    // ToUnixSeconds rounds toward the past, so nanos are 0..999999999.
    const int64_t seconds = absl::ToUnixSeconds(t);
    ts->set_seconds(seconds);
    ts->set_nanos(static_cast<int32_t>(
        absl::ToInt64Nanoseconds(t - absl::FromUnixSeconds(seconds))));
    return absl::OkStatus();
  }

  std::string source_;
  size_t spent_ = 0;
};

// Sees one document's events: whether it holds anything (an empty
// document is a single null) and where that starts.
class DocumentProbe : public YAML::EventHandler {
 public:
  bool content = false;
  int line = 0;  // 1-based, of the first node with content
  std::optional<YAML::Mark> start;

  void OnDocumentStart(const YAML::Mark& mark) override { start = mark; }
  void OnDocumentEnd() override {}
  void OnNull(const YAML::Mark&, YAML::anchor_t) override {}
  void OnAlias(const YAML::Mark& mark, YAML::anchor_t) override { Saw(mark); }
  void OnScalar(const YAML::Mark& mark, const std::string&, YAML::anchor_t,
                const std::string&) override {
    Saw(mark);
  }
  void OnSequenceStart(const YAML::Mark& mark, const std::string&,
                       YAML::anchor_t, YAML::EmitterStyle::value) override {
    Saw(mark);
  }
  void OnSequenceEnd() override {}
  void OnMapStart(const YAML::Mark& mark, const std::string&, YAML::anchor_t,
                  YAML::EmitterStyle::value) override {
    Saw(mark);
  }
  void OnMapEnd() override {}

 private:
  void Saw(const YAML::Mark& mark) {
    if (!content) line = mark.line + 1;
    content = true;
  }
};

// The line of a document after the first that holds something (a second
// '---' with more keys, which YAML::Load would drop without a word), or
// nullopt. Walks the documents with YAML::Parser, at most kMaxYamlDocuments
// and only while they move on: yaml-cpp 0.7's LoadAll never returns on
// some malformed input (found by ca_input_fuzz).
constexpr int kMaxYamlDocuments = 64;
std::optional<int> LaterDocumentLine(std::string_view yaml) {
  std::istringstream in{std::string(yaml)};
  YAML::Parser parser(in);
  std::optional<int> last_start;
  for (int i = 0; i < kMaxYamlDocuments; ++i) {
    DocumentProbe doc;
    if (!parser.HandleNextDocument(doc)) return std::nullopt;
    if (i > 0 && doc.content) return doc.line;
    const int start = doc.start ? doc.start->pos : -1;
    if (last_start == start) return std::nullopt;  // no progress
    last_start = start;
  }
  return std::nullopt;
}

}  // namespace

absl::Status YamlToProto(std::string_view yaml, std::string_view source,
                         google::protobuf::Message* out) {
  out->Clear();
  YAML::Node root;
  try {
    root = YAML::Load(std::string(yaml));
    if (std::optional<int> line = LaterDocumentLine(yaml)) {
      return absl::InvalidArgumentError(absl::StrCat(
          std::string(source), ":", *line,
          ": a second YAML document (after '---'); only one is read, so put "
          "it in a file of its own"));
    }
  } catch (const YAML::Exception& e) {
    return absl::InvalidArgumentError(
        absl::StrCat(std::string(source), ":", e.mark.line + 1, ": ", e.msg));
  }
  if (root.IsNull()) return absl::OkStatus();  // an empty file
  Converter converter(source);
  try {
    return converter.Object(root, "", out, 0);
  } catch (const YAML::Exception& e) {
    return absl::InvalidArgumentError(
        absl::StrCat(std::string(source), ":", e.mark.line + 1, ": ", e.msg));
  }
}

absl::Status YamlStreamToProto(std::istream& in, std::string_view source,
                               google::protobuf::Message* out) {
  std::string text(kMaxFileBytes + 1, '\0');
  in.read(text.data(), static_cast<std::streamsize>(text.size()));
  text.resize(static_cast<size_t>(in.gcount()));
  if (text.size() > kMaxFileBytes) {
    return absl::InvalidArgumentError(
        absl::StrCat(std::string(source), ": larger than 1 MiB"));
  }
  if (in.bad()) {
    return absl::InvalidArgumentError(
        absl::StrCat("cannot read ", std::string(source)));
  }
  return YamlToProto(text, source, out);
}

absl::Status YamlFileToProto(const std::string& path,
                             google::protobuf::Message* out) {
  // Not an ifstream: it opens a directory, and the read that fails then
  // left "cannot read PATH" with no reason.
  absl::StatusOr<std::string> text = ReadTextFileOrPipe(path, kMaxFileBytes);
  if (!text.ok()) return text.status();
  return YamlToProto(*text, path, out);
}

}  // namespace sallyport::base
