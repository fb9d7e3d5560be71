#include "cli/spctl_recording_kept.h"

#include <string_view>
#include <utility>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "audit/scp_command.h"
#include "base/safe_text.h"
#include "proto/audit.pb.h"

namespace sallyport::cli {
namespace {

namespace av = audit::v1;
using Key = std::pair<bool, uint32_t>;  // (input?, SSH data type)

std::string StreamName(const Key& k) {
  if (k.second == 0) return k.first ? "input" : "output";
  if (!k.first && k.second == 1) return "stderr";
  return absl::StrCat(k.first ? "input " : "output ", k.second);
}

// The gateway keeps no content of these channels (gateway/spool_tap.h):
// what they are, or empty.
std::string CountsOnly(const Channel& c) {
  if (c.type != "session") return c.type;
  if (!c.subsystem.empty()) return c.subsystem;
  if (!c.pty && audit::IsScpTransferCommand(c.command)) return "scp";
  return "";
}

std::string StreamText(const spctl::KeptStream& s) {
  const std::string& name = s.stream();
  const std::string& kept = s.kept();
  const std::string total = HumanBytes(s.total_bytes());
  if (kept == "counts_only") {
    return absl::StrCat(name, " ", total, " (SHA-256 ", s.sha256(), ")");
  }
  if (kept == "so_far") return absl::StrCat(name, " ", total, " so far");
  if (kept == "truncated") {
    return absl::StrCat(
        name, " truncated at ", HumanBytes(s.recorded_bytes()), " of ", total,
        " (", s.recorded_bytes(), " of ", s.total_bytes(),
        " bytes; SHA-256 of the whole stream: ", s.sha256(), ")");
  }
  if (kept == "not_recorded") {
    return absl::StrCat(
        name, " not recorded (record_input is off; ", total,
        s.sha256().empty()
            ? std::string()
            : absl::StrCat(", SHA-256 of the whole stream: ", s.sha256()),
        ")");
  }
  return absl::StrCat(name, " whole (", total, ")");
}

}  // namespace

std::string HumanBytes(uint64_t n) {
  if (n < 1024) return absl::StrCat(n, " B");
  static constexpr const char* kUnits[] = {"KiB", "MiB", "GiB",
                                           "TiB", "PiB", "EiB"};
  double v = static_cast<double>(n);
  size_t unit = 0;
  v /= 1024;
  while (v >= 1024 && unit + 1 < std::size(kUnits)) {
    v /= 1024;
    ++unit;
  }
  std::string text = absl::StrFormat("%.1f", v);
  if (absl::EndsWith(text, ".0")) text.resize(text.size() - 2);
  return absl::StrCat(text, " ", kUnits[unit]);
}

spctl::ChannelDetails DescribeChannel(const Channel& c) {
  spctl::ChannelDetails d;
  d.set_index(c.index);
  d.set_channel_id(c.channel_id);
  d.set_type(c.type);
  d.set_destination(c.destination);
  if (!c.subsystem.empty()) {
    d.set_subsystem(c.subsystem);
  } else if (base::IsValidUtf8(c.command)) {
    d.set_command(c.command);
  } else {
    d.set_command(base::EscapeControls(c.command));
    d.set_command_bytes(c.command);
  }
  d.set_pty(c.pty);
  d.set_open(!c.closed);
  d.set_bytes_in(c.bytes_in);
  d.set_bytes_out(c.bytes_out);
  if (c.exit) d.set_exit_status(*c.exit);
  if (c.exit_signal) d.set_exit_signal(*c.exit_signal);
  d.set_counts_only(CountsOnly(c));

  bool input = false;
  // Output, stderr, then input (the keys' order).
  for (const auto& [key, stream] : c.streams) {
    input = input || key.first;
    spctl::KeptStream* s = d.add_streams();
    s->set_stream(StreamName(key));
    if (!stream.summary) {
      s->set_recorded_bytes(stream.bytes);
      s->set_total_bytes(stream.bytes);
      s->set_kept(c.closed ? "whole" : "so_far");
      continue;
    }
    const av::StreamSummaryRecord& sum = *stream.summary;
    s->set_recorded_bytes(sum.recorded_bytes());
    s->set_total_bytes(sum.total_bytes());
    s->set_sha256(absl::BytesToHexString(sum.sha256()));
    if (!d.counts_only().empty()) {
      s->set_kept("counts_only");
    } else if (sum.recorded_bytes() >= sum.total_bytes()) {
      s->set_kept("whole");
    } else if (key.first && sum.recorded_bytes() == 0) {
      s->set_kept("not_recorded");
    } else {
      s->set_kept("truncated");
    }
  }
  // A pty's input that was not recorded leaves no record of its own (it is
  // not hashed: typed passwords would be guessable from their SHA-256);
  // the close says how much there was.
  if (!input && c.closed && c.bytes_in > 0 && d.counts_only().empty()) {
    spctl::KeptStream* s = d.add_streams();
    s->set_stream("input");
    s->set_kept("not_recorded");
    s->set_total_bytes(c.bytes_in);
  }
  return d;
}

std::string KeptText(const spctl::ChannelDetails& c) {
  std::vector<std::string> parts;
  for (const spctl::KeptStream& s : c.streams()) {
    parts.push_back(StreamText(s));
  }
  if (!c.counts_only().empty()) {
    const std::string what = absl::StrCat(
        "byte counts only (", base::EscapeControls(c.counts_only()), ")");
    if (!parts.empty())
      return absl::StrCat(what, ": ", absl::StrJoin(parts, ", "));
    return absl::StrCat(
        what, c.open() ? ": counted when the channel closes" : ": no data");
  }
  if (parts.empty())
    return c.open() ? "nothing yet (the channel is open)" : "no data";
  return absl::StrJoin(parts, "; ");
}

}  // namespace sallyport::cli
