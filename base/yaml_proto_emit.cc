// ProtoToYaml: writing a message as YAML (base/yaml_proto.h); reading is
// in yaml_proto.cc.
#include <yaml-cpp/yaml.h>

#include <string>
#include <string_view>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "base/safe_text.h"
#include "base/status_macros.h"
#include "base/yaml_proto.h"
#include "google/protobuf/descriptor.h"
#include "google/protobuf/duration.pb.h"
#include "google/protobuf/timestamp.pb.h"

namespace sallyport::base {

using google::protobuf::FieldDescriptor;
using google::protobuf::Reflection;

namespace {

void EmitMessage(YAML::Emitter& out, const google::protobuf::Message& msg,
                 const ProtoToYamlOptions& options);

void EmitValue(YAML::Emitter& out, const google::protobuf::Message& msg,
               const FieldDescriptor* field, int index,
               const ProtoToYamlOptions& options) {
  const Reflection* r = msg.GetReflection();
  const bool rep = field->is_repeated();
  switch (field->cpp_type()) {
    case FieldDescriptor::CPPTYPE_STRING: {
      const std::string v = rep ? r->GetRepeatedString(msg, field, index)
                                : r->GetString(msg, field);
      if (field->type() == FieldDescriptor::TYPE_BYTES) {
        // Exactly, whatever the bytes: !!binary (base64), as JSON does.
        out << YAML::Binary(reinterpret_cast<const unsigned char*>(v.data()),
                            v.size());
      } else {
        out << YAML::DoubleQuoted << v;
      }
      return;
    }
    case FieldDescriptor::CPPTYPE_BOOL:
      out << ((rep ? r->GetRepeatedBool(msg, field, index)
                   : r->GetBool(msg, field))
                  ? "true"
                  : "false");
      return;
    case FieldDescriptor::CPPTYPE_INT32:
      out << absl::StrCat(rep ? r->GetRepeatedInt32(msg, field, index)
                              : r->GetInt32(msg, field));
      return;
    case FieldDescriptor::CPPTYPE_INT64:
      out << absl::StrCat(rep ? r->GetRepeatedInt64(msg, field, index)
                              : r->GetInt64(msg, field));
      return;
    case FieldDescriptor::CPPTYPE_UINT32:
      out << absl::StrCat(rep ? r->GetRepeatedUInt32(msg, field, index)
                              : r->GetUInt32(msg, field));
      return;
    case FieldDescriptor::CPPTYPE_UINT64:
      out << absl::StrCat(rep ? r->GetRepeatedUInt64(msg, field, index)
                              : r->GetUInt64(msg, field));
      return;
    case FieldDescriptor::CPPTYPE_DOUBLE:
      out << absl::StrCat(rep ? r->GetRepeatedDouble(msg, field, index)
                              : r->GetDouble(msg, field));
      return;
    case FieldDescriptor::CPPTYPE_FLOAT:
      out << absl::StrCat(rep ? r->GetRepeatedFloat(msg, field, index)
                              : r->GetFloat(msg, field));
      return;
    case FieldDescriptor::CPPTYPE_ENUM:
      out << (rep ? r->GetRepeatedEnum(msg, field, index)
                  : r->GetEnum(msg, field))
                 ->name();
      return;
    case FieldDescriptor::CPPTYPE_MESSAGE: {
      const google::protobuf::Message& sub =
          rep ? r->GetRepeatedMessage(msg, field, index)
              : r->GetMessage(msg, field);
      if (field->message_type()->full_name() == "google.protobuf.Duration") {
        const auto& d = static_cast<const google::protobuf::Duration&>(sub);
        out << absl::FormatDuration(absl::Seconds(d.seconds()) +
                                    absl::Nanoseconds(d.nanos()));
        return;
      }
      if (field->message_type()->full_name() == "google.protobuf.Timestamp") {
        const auto& t = static_cast<const google::protobuf::Timestamp&>(sub);
        out << absl::FormatTime(
            "%Y-%m-%dT%H:%M:%SZ",
            absl::FromUnixSeconds(t.seconds()) + absl::Nanoseconds(t.nanos()),
            absl::UTCTimeZone());
        return;
      }
      EmitMessage(out, sub, options);
      return;
    }
  }
}

// The fields to write: those set, and with always_print_primitive_fields
// also the scalars without presence that hold their default. In field
// number order either way.
std::vector<const FieldDescriptor*> FieldsToEmit(
    const google::protobuf::Message& msg, const ProtoToYamlOptions& options) {
  std::vector<const FieldDescriptor*> fields;
  msg.GetReflection()->ListFields(msg, &fields);
  if (!options.always_print_primitive_fields) return fields;
  const google::protobuf::Descriptor* d = msg.GetDescriptor();
  for (int i = 0; i < d->field_count(); ++i) {
    const FieldDescriptor* f = d->field(i);
    if (!f->is_repeated() && !f->has_presence() &&
        f->cpp_type() != FieldDescriptor::CPPTYPE_MESSAGE &&
        std::find(fields.begin(), fields.end(), f) == fields.end()) {
      fields.push_back(f);
    }
  }
  std::sort(fields.begin(), fields.end(),
            [](const FieldDescriptor* a, const FieldDescriptor* b) {
              return a->number() < b->number();
            });
  return fields;
}

void EmitMessage(YAML::Emitter& out, const google::protobuf::Message& msg,
                 const ProtoToYamlOptions& options) {
  const Reflection* r = msg.GetReflection();
  const std::vector<const FieldDescriptor*> fields = FieldsToEmit(msg, options);
  out << YAML::BeginMap;
  for (const FieldDescriptor* field : fields) {
    out << YAML::Key << field->name() << YAML::Value;
    if (field->is_map()) {
      const FieldDescriptor* key = field->message_type()->map_key();
      const FieldDescriptor* value = field->message_type()->map_value();
      // Sorted by key so the output is stable (map order is not).
      std::vector<std::pair<std::string, int>> entries;
      for (int i = 0; i < r->FieldSize(msg, field); ++i) {
        const google::protobuf::Message& entry =
            r->GetRepeatedMessage(msg, field, i);
        entries.emplace_back(entry.GetReflection()->GetString(entry, key), i);
      }
      std::sort(entries.begin(), entries.end());
      out << YAML::BeginMap;
      for (const auto& [name, i] : entries) {
        const google::protobuf::Message& entry =
            r->GetRepeatedMessage(msg, field, i);
        out << YAML::Key << YAML::DoubleQuoted << name << YAML::Value;
        EmitValue(out, entry, value, -1, options);
      }
      out << YAML::EndMap;
    } else if (field->is_repeated()) {
      out << YAML::BeginSeq;
      for (int i = 0; i < r->FieldSize(msg, field); ++i) {
        EmitValue(out, msg, field, i, options);
      }
      out << YAML::EndSeq;
    } else {
      EmitValue(out, msg, field, -1, options);
    }
  }
  out << YAML::EndMap;
}

// OK when every string field under `msg` is YamlCarriesText (bytes fields
// are written as !!binary), else
// kInvalidArgument naming the first one that is not (`path` is msg's).
absl::Status CheckWritableText(const google::protobuf::Message& msg,
                               const std::string& path) {
  const Reflection* r = msg.GetReflection();
  std::vector<const FieldDescriptor*> fields;
  r->ListFields(msg, &fields);
  for (const FieldDescriptor* field : fields) {
    const std::string name =
        path.empty() ? field->name() : absl::StrCat(path, ".", field->name());
    const int n = field->is_repeated() ? r->FieldSize(msg, field) : 1;
    for (int i = 0; i < n; ++i) {
      const std::string at =
          field->is_repeated() ? absl::StrCat(name, "[", i, "]") : name;
      if (field->cpp_type() == FieldDescriptor::CPPTYPE_MESSAGE) {
        RETURN_IF_ERROR(CheckWritableText(
            field->is_repeated() ? r->GetRepeatedMessage(msg, field, i)
                                 : r->GetMessage(msg, field),
            at));
      } else if (field->type() == FieldDescriptor::TYPE_STRING) {
        std::string scratch;
        const std::string& text =
            field->is_repeated()
                ? r->GetRepeatedStringReference(msg, field, i, &scratch)
                : r->GetStringReference(msg, field, &scratch);
        if (!YamlCarriesText(text)) {
          return absl::InvalidArgumentError(absl::StrCat(
              at,
              " holds text YAML cannot carry exactly (bytes that are not "
              "UTF-8, or a Unicode noncharacter such as U+FFFE)"));
        }
      }
    }
  }
  return absl::OkStatus();
}

}  // namespace

// The emitter writes U+FFFD for noncharacters and for bytes that are not
// UTF-8.
bool YamlCarriesText(std::string_view text) {
  for (size_t i = 0; i < text.size();) {
    char32_t cp = 0;
    const size_t len = DecodeUtf8(text, i, &cp);
    if (len == 0 || (cp & 0xFFFE) == 0xFFFE || (cp >= 0xFDD0 && cp <= 0xFDEF))
      return false;
    i += len;
  }
  return true;
}

absl::StatusOr<std::string> ProtoToYaml(const google::protobuf::Message& msg,
                                        const ProtoToYamlOptions& options) {
  if (!options.replace_unwritable_text) {
    RETURN_IF_ERROR(CheckWritableText(msg, ""));
  }
  YAML::Emitter out;
  out.SetOutputCharset(YAML::EscapeNonAscii);
  EmitMessage(out, msg, options);
  if (!out.good()) {
    return absl::InternalError(
        absl::StrCat("cannot write YAML: ", out.GetLastError()));
  }
  return absl::StrCat(out.c_str(), "\n");
}

}  // namespace sallyport::base
