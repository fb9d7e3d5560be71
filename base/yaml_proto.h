// Reading YAML config files into protobuf messages (DESIGN.md §10): keys are
// field names, mappings are messages, sequences are repeated fields. Strict:
// an unknown key, a duplicate key, a value of the wrong kind or out of range
// is an error naming the key path and its line, e.g.
//   "ca.yaml:7: unknown key 'lisen' (the keys there: listen, ...)"
//   "gateway.yaml:9: unknown key 'max_startup' in 'limits' (the keys
//   there: max_startups, ...)"
//
// Supported field types: string, bool (true/false), int32/int64/uint32/
// uint64 (decimal), double, enums (by value name), nested messages,
// map<string, scalar>, repeated of all of these,
// google.protobuf.Duration written as an absl duration string ("90s", "8h",
// "1h30m") and google.protobuf.Timestamp as an RFC 3339 time
// ("2026-11-30T13:00:00Z", "2026-11-30T14:00:00.5+01:00"). An empty value
// ("key:") leaves the field unset.
//
// yaml-cpp reports parse errors with exceptions; they are caught here and
// returned as kInvalidArgument, so no exception leaves this library.
#ifndef SALLYPORT_BASE_YAML_PROTO_H_
#define SALLYPORT_BASE_YAML_PROTO_H_

#include <istream>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "google/protobuf/message.h"

namespace sallyport::base {

// Parses `yaml` into `out` (cleared first). `source` names the input in
// error messages (usually the file path). kInvalidArgument on any error,
// including a document whose aliases expand it past 16 MiB.
absl::Status YamlToProto(std::string_view yaml, std::string_view source,
                         google::protobuf::Message* out);

// Reads `in` to its end and parses it; `source` names it in error messages
// ("stdin"). kInvalidArgument when it holds more than 1 MiB, cannot be
// read, or for its contents.
absl::Status YamlStreamToProto(std::istream& in, std::string_view source,
                               google::protobuf::Message* out);

// Reads `path` (a file, or a pipe: `-f <(...)`) and parses it. The errors
// of base::ReadTextFileOrPipe when it cannot be read ("cannot read PATH:
// No such file or directory", kNotFound; kPermissionDenied;
// kInvalidArgument for a directory or a file over 1 MiB); kInvalidArgument
// for its contents.
absl::Status YamlFileToProto(const std::string& path,
                             google::protobuf::Message* out);

// The inverse, for files a program writes (`sallyport-gateway enroll`):
// the fields of `msg` that are set (proto3 scalars that are not their
// default, messages that are present, non-empty lists), in field-number
// order, strings double-quoted and escaped, durations as "90s", "1h30m",
// timestamps as RFC 3339 in UTC to the second ("2026-11-30T13:00:00Z").
// YamlToProto reads the result back to an equal message (but for the
// fractions of a second of timestamps). kInternal if the emitter fails.
struct ProtoToYamlOptions {
  // Also write the singular scalar fields without presence that hold their
  // default (false, 0, ""), as JsonPrintOptions' field of that name does:
  // for output a script reads, where `allowed: false` must be there. Fields
  // with presence (proto3 `optional`, oneof members) and messages are still
  // written only when set, lists only when not empty.
  bool always_print_primitive_fields = false;
  // Text the YAML emitter cannot write exactly (below) is written with
  // U+FFFD in its place instead of refused: for output a person reads.
  bool replace_unwritable_text = false;
};
// The YAML of `msg`, which YamlToProto reads back into the same message.
// Text it could not read back the same is refused (kInvalidArgument naming
// the field, unless replace_unwritable_text): a string or bytes field that
// is not UTF-8 or holds a Unicode noncharacter (U+FDD0..U+FDEF, U+FFFE,
// U+FFFF and their like at the end of every plane), which the emitter
// replaces with U+FFFD.
absl::StatusOr<std::string> ProtoToYaml(const google::protobuf::Message& msg,
                                        const ProtoToYamlOptions& options = {});
// Whether yaml-cpp's emitter writes `text` so that it reads back the same:
// UTF-8 without noncharacters.
bool YamlCarriesText(std::string_view text);

}  // namespace sallyport::base

#endif  // SALLYPORT_BASE_YAML_PROTO_H_
