#include "storage/sql/codec.h"

#include <google/protobuf/util/json_util.h>

#include <limits>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "base/status_macros.h"
#include "storage/sql/json_columns.pb.h"

namespace sallyport::storage::sql {
namespace {

constexpr int64_t kMaxMicros = std::numeric_limits<int64_t>::max();
constexpr int64_t kMinMicros = std::numeric_limits<int64_t>::min();

absl::StatusOr<std::string> ToJson(const google::protobuf::Message& msg) {
  std::string out;
  google::protobuf::util::JsonPrintOptions options;
  options.preserve_proto_field_names = true;
  auto status = google::protobuf::util::MessageToJsonString(msg, &out, options);
  if (!status.ok()) {
    return absl::InternalError(
        absl::StrCat("JSON encoding failed: ", status.ToString()));
  }
  return out;
}

absl::Status FromJson(std::string_view json, google::protobuf::Message& msg) {
  auto status = google::protobuf::util::JsonStringToMessage(
      google::protobuf::StringPiece(json.data(), json.size()), &msg);
  if (!status.ok()) {
    return absl::DataLossError(
        absl::StrCat("stored JSON column is malformed: ", status.ToString()));
  }
  return absl::OkStatus();
}

void EncodeSelector(const HostSelector& in, HostSelectorJson& out) {
  for (const auto& [k, v] : in.labels) (*out.mutable_labels())[k] = v;
  for (const auto& g : in.name_globs) out.add_name_globs(g);
}

HostSelector DecodeSelector(const HostSelectorJson& in) {
  HostSelector out;
  for (const auto& [k, v] : in.labels()) out.labels[k] = v;
  out.name_globs.assign(in.name_globs().begin(), in.name_globs().end());
  return out;
}

template <typename Repeated>
absl::StatusOr<std::vector<ChannelKind>> DecodeChannels(const Repeated& in) {
  std::vector<ChannelKind> out;
  for (const std::string& name : in) {
    std::optional<ChannelKind> kind = ParseChannelKind(name);
    if (!kind) {
      return absl::DataLossError(
          absl::StrCat("stored role has an unknown channel kind: ", name));
    }
    out.push_back(*kind);
  }
  return out;
}

}  // namespace

int64_t TimeToMicros(absl::Time t) {
  if (t == absl::InfiniteFuture()) return kMaxMicros;
  if (t == absl::InfinitePast()) return kMinMicros;
  return absl::ToUnixMicros(t);
}

absl::Time MicrosToTime(int64_t us) {
  if (us == kMaxMicros) return absl::InfiniteFuture();
  if (us == kMinMicros) return absl::InfinitePast();
  return absl::FromUnixMicros(us);
}

Param TimeParam(absl::Time t) { return Param::Int(TimeToMicros(t)); }

Param OptTimeParam(const std::optional<absl::Time>& t) {
  return t ? Param::Int(TimeToMicros(*t)) : Param::OptInt(std::nullopt);
}

absl::Time TimeValue(const Value& v) { return MicrosToTime(v.AsInt()); }

std::optional<absl::Time> OptTimeValue(const Value& v) {
  if (v.is_null()) return std::nullopt;
  return MicrosToTime(v.AsInt());
}

absl::StatusOr<std::string> EncodeRoleSpec(const Role& role) {
  RoleSpecJson spec;
  for (const auto& l : role.logins) spec.add_logins(l);
  for (const auto& h : role.hosts) EncodeSelector(h, *spec.add_hosts());
  for (ChannelKind k : role.channels) {
    spec.add_channels(std::string(ChannelKindName(k)));
  }
  for (const DenyRule& rule : role.deny) {
    DenyRuleJson* d = spec.add_deny();
    for (const auto& l : rule.logins) d->add_logins(l);
    for (const auto& h : rule.hosts) EncodeSelector(h, *d->add_hosts());
    for (ChannelKind k : rule.channels) {
      d->add_channels(std::string(ChannelKindName(k)));
    }
  }
  if (role.record_mode != RecordFailureMode::kStrict) {
    spec.set_record_mode(std::string(RecordFailureModeName(role.record_mode)));
  }
  if (role.record_input.has_value()) spec.set_record_input(*role.record_input);
  if (role.force_command.has_value()) {
    spec.set_force_command(*role.force_command);
  }
  return ToJson(spec);
}

namespace {

absl::Status DecodeRoleSpecUncached(std::string_view json, Role& role) {
  RoleSpecJson spec;
  RETURN_IF_ERROR(FromJson(json, spec));
  role.logins.assign(spec.logins().begin(), spec.logins().end());
  role.hosts.clear();
  for (const auto& h : spec.hosts()) role.hosts.push_back(DecodeSelector(h));
  ASSIGN_OR_RETURN(role.channels, DecodeChannels(spec.channels()));
  role.deny.clear();
  for (const DenyRuleJson& d : spec.deny()) {
    DenyRule rule;
    rule.logins.assign(d.logins().begin(), d.logins().end());
    for (const auto& h : d.hosts()) rule.hosts.push_back(DecodeSelector(h));
    ASSIGN_OR_RETURN(rule.channels, DecodeChannels(d.channels()));
    role.deny.push_back(std::move(rule));
  }
  role.record_mode = RecordFailureMode::kStrict;
  if (!spec.record_mode().empty()) {
    std::optional<RecordFailureMode> mode =
        ParseRecordFailureMode(spec.record_mode());
    if (!mode) {
      return absl::DataLossError("stored role has an unknown record_mode");
    }
    role.record_mode = *mode;
  }
  role.record_input = spec.has_record_input()
                          ? std::optional<bool>(spec.record_input())
                          : std::nullopt;
  role.force_command = spec.has_force_command()
                           ? std::optional<std::string>(spec.force_command())
                           : std::nullopt;
  return absl::OkStatus();
}

// Decoded role specs by their JSON text (only the spec fields are set).
struct RoleSpecMemory {
  absl::Mutex mu;
  absl::flat_hash_map<std::string, Role> decoded ABSL_GUARDED_BY(mu);
};

RoleSpecMemory& RoleSpecs() {
  static RoleSpecMemory* memory = new RoleSpecMemory();
  return *memory;
}

void CopySpec(const Role& from, Role& to) {
  to.logins = from.logins;
  to.hosts = from.hosts;
  to.channels = from.channels;
  to.deny = from.deny;
  to.record_mode = from.record_mode;
  to.record_input = from.record_input;
  to.force_command = from.force_command;
}

}  // namespace

absl::Status DecodeRoleSpec(std::string_view json, Role& role) {
  RoleSpecMemory& memory = RoleSpecs();
  const absl::string_view key(json.data(), json.size());
  {
    absl::MutexLock lock(&memory.mu);
    auto it = memory.decoded.find(key);
    if (it != memory.decoded.end()) {
      CopySpec(it->second, role);
      return absl::OkStatus();
    }
  }
  Role decoded;
  RETURN_IF_ERROR(DecodeRoleSpecUncached(json, decoded));
  CopySpec(decoded, role);
  absl::MutexLock lock(&memory.mu);
  if (memory.decoded.size() >= kMaxRememberedRoleSpecs) memory.decoded.clear();
  memory.decoded.insert_or_assign(std::string(json), std::move(decoded));
  return absl::OkStatus();
}

size_t RememberedRoleSpecsForTest() {
  RoleSpecMemory& memory = RoleSpecs();
  absl::MutexLock lock(&memory.mu);
  return memory.decoded.size();
}

absl::StatusOr<std::string> EncodeStringList(
    const std::vector<std::string>& values) {
  StringListJson list;
  for (const auto& v : values) list.add_values(v);
  return ToJson(list);
}

absl::StatusOr<std::vector<std::string>> DecodeStringList(
    std::string_view json) {
  StringListJson list;
  RETURN_IF_ERROR(FromJson(json, list));
  return std::vector<std::string>(list.values().begin(), list.values().end());
}

}  // namespace sallyport::storage::sql
