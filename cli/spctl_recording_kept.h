// What a recording kept of each channel, for `spctl sessions show`
// (cli/spctl_sessions.cc): read from the channel's records (data, stream
// summaries, its close), so an auditor sees where the recording is not
// the whole of what passed — exec output cut at the gateway's
// record_exec_output_limit, file transfers and tunnels kept as byte counts,
// input the role does not record. Internal to spctl_lib.
#ifndef SALLYPORT_CLI_SPCTL_RECORDING_KEPT_H_
#define SALLYPORT_CLI_SPCTL_RECORDING_KEPT_H_

#include <cstdint>
#include <string>

#include "cli/spctl_output.pb.h"
#include "cli/spctl_recording_reader.h"

namespace sallyport::cli {

// The channel as `sessions show --output json|yaml` prints it, with a
// KeptStream per stream the records name (see cli/spctl_output.proto):
//   - a stream summary: "counts_only" on a channel the gateway counts
//     only (type other than session, a subsystem, scp's remote end),
//     "not_recorded" for input, "truncated" for output cut short, "whole"
//     if it holds every byte;
//   - data records alone: "whole", or "so_far" while the channel is open;
//   - a pty channel that closed with input but recorded none (the role's
//     record_input is off; typed input is not hashed): "input"
//     "not_recorded" with the length from the close.
spctl::ChannelDetails DescribeChannel(const Channel& c);

// One line (without the newline) that says what the recording kept of the
// channel, e.g. "output truncated at 16 MiB of 40 MiB (16777216 of
// 41943040 bytes; SHA-256 of the whole stream: 3a...)", "byte counts only
// (sftp): input 1.2 KiB (SHA-256 ...), output 40 MiB (SHA-256 ...)",
// "output whole (2.1 KiB); input not recorded (record_input is off; 57 B)".
// What a user chose (the subsystem name) is escaped.
std::string KeptText(const spctl::ChannelDetails& c);

// 57 B, 1.2 KiB, 16 MiB, 3.5 GiB: binary units, one decimal unless whole.
std::string HumanBytes(uint64_t n);

}  // namespace sallyport::cli

#endif  // SALLYPORT_CLI_SPCTL_RECORDING_KEPT_H_
