// spctl sessions play: a recorded channel replayed in the auditor's
// terminal with its timing, as its records arrive.
#include <unistd.h>

#include <algorithm>
#include <csignal>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "audit/terminal_text.h"
#include "base/safe_text.h"
#include "cli/spctl.h"
#include "cli/spctl_recording_reader.h"
#include "cli/spctl_sessions.h"

namespace sallyport::cli {
namespace {

namespace av = audit::v1;

// The terminal modes a recorded program may have left on (a session that
// ended, or was cut, inside vim or htop): the alternate screen, mouse
// reporting, a hidden cursor, bracketed paste, application cursor keys and
// keypad, colours. Played as they were, they stayed on the auditor's
// terminal after `sessions play` (or Ctrl-C during it): the shell's prompt
// on the alternate screen, clicks typed as escape sequences.
constexpr char kTerminalModesOff[] =
    "\x1b[0m\x1b[?25h\x1b[?1000l\x1b[?1002l\x1b[?1003l\x1b[?1005l"
    "\x1b[?1006l\x1b[?1015l\x1b[?2004l\x1b[?1l\x1b>\x1b[?1049l";

extern "C" void TurnTerminalModesOffAndExit(int sig) {
  (void)!write(STDOUT_FILENO, kTerminalModesOff, sizeof(kTerminalModesOff) - 1);
  signal(sig, SIG_DFL);
  raise(sig);
}

// While a recording plays on a terminal: the modes are turned off when it
// ends, and when Ctrl-C (or a closed terminal, kill) ends spctl during it.
class PlayingOnTerminal {
 public:
  explicit PlayingOnTerminal(Spctl& ctl)
      : ctl_(ctl), terminal_(isatty(STDOUT_FILENO) == 1) {
    if (!terminal_) return;
    for (int sig : {SIGINT, SIGTERM, SIGHUP, SIGQUIT}) {
      struct sigaction old {};
      sigaction(sig, nullptr, &old);
      if (old.sa_handler == SIG_IGN) continue;  // nohup
      struct sigaction turn_off {};
      turn_off.sa_handler = TurnTerminalModesOffAndExit;
      sigemptyset(&turn_off.sa_mask);
      sigaction(sig, &turn_off, nullptr);
    }
  }
  ~PlayingOnTerminal() {
    if (!terminal_) return;
    ctl_.out() << kTerminalModesOff;
    ctl_.out().flush();
  }

 private:
  Spctl& ctl_;
  const bool terminal_;
};

}  // namespace

// Plays the channel --channel N (the N-th opened, from 0), or else the
// first channel to print anything, as its records arrive, and then names
// the other channels that printed.
int Play(Spctl& ctl, const SessionArgs& a, const ReadRecordsFn& read) {
  absl::Duration max_idle = absl::InfiniteDuration();
  // The pauses kLongPause cut (without --max-idle) and the longest.
  int long_pauses = 0;
  absl::Duration longest = absl::ZeroDuration();
  if (!a.max_idle.empty()) {
    absl::StatusOr<absl::Duration> d = ParseDurationFlag(a.max_idle);
    if (!d.ok()) return ctl.Error(d.status().message(), kExitUsage);
    max_idle = *d;
  }
  RecordingHead head;
  ChainCheck chain;
  ChannelTracker tracker;
  int playing = -1;
  audit::ReplayFilter replay_filter;
  absl::Duration last = absl::ZeroDuration();
  bool first = true;
  auto on_record = [&](const av::RecordingRecord& r) -> std::optional<int> {
    if (chain.records() == 0 && !head.intact) {
      ctl.err() << "spctl: WARNING: the CA finds this recording BROKEN at "
                   "record "
                << head.first_broken_seq << " (" << head.problem
                << "); playing it anyway\n";
    }
    chain.Add(r);
    absl::StatusOr<Channel*> added = tracker.Add(r);
    if (!added.ok()) return ReadingError(ctl, "play", added.status());
    const Channel* c = *added;
    if (c == nullptr || r.has_channel_open()) return std::nullopt;
    if (playing < 0) {
      // Picked at its first output, or with --channel at its first output
      // or window size, whichever comes first.
      if ((a.channel >= 0 && c->index != a.channel) ||
          !Shows(r, a.channel >= 0)) {
        return std::nullopt;
      }
      playing = c->index;
      ctl.err() << "spctl: playing "
                << base::EscapeControls(head.session.session_id())
                << " channel " << c->index << " ("
                << (c->sized ? absl::StrCat(c->last_columns, "x", c->last_rows)
                    : c->pty ? std::string("pty of no size")
                             : std::string("no pty"))
                << ")\n";
      // Ask the terminal for the recorded size (xterm window op;
      // terminals that do not support it ignore it). Every later size is
      // a resize, asked for when it happened. A channel without a pty
      // (exec, sftp) has no size: its output is played as it is.
      if (c->sized) {
        ctl.out() << "\x1b[8;" << c->last_rows << ";" << c->last_columns << "t";
      }
      if (HasSize(r)) return std::nullopt;  // that was this size
    }
    if (c->index != playing) return std::nullopt;
    const bool resize = HasSize(r);
    if (!IsOutput(r) && !resize) return std::nullopt;
    const absl::Duration at = absl::Microseconds(r.offset_us());
    if (!first) {
      absl::Duration pause = std::min(at - last, max_idle);
      if (a.max_idle.empty() && pause > kLongPause) {
        ++long_pauses;
        longest = std::max(longest, pause);
        pause = kLongPausePlayed;
      }
      const absl::Duration wait = pause / a.speed;
      if (wait > absl::ZeroDuration()) absl::SleepFor(wait);
    }
    first = false;
    last = at;
    if (resize) {
      ctl.out() << "\x1b[8;" << r.window_change().rows() << ";"
                << r.window_change().columns() << "t";
    } else {
      // Without the string controls (titles, OSC 52 clipboard writes, DCS)
      // a recorded program could aim at the auditor's terminal.
      ctl.out() << replay_filter.Feed(r.data().bytes());
    }
    ctl.out().flush();
    return std::nullopt;
  };
  {
    PlayingOnTerminal on_terminal(ctl);
    if (auto rc = read(&head, on_record)) return *rc;
  }
  if (playing < 0)
    return NoTerminalOutput(ctl, head, tracker.channels(), a.channel, "play");
  if (a.channel < 0) {
    // Several channels (ControlMaster, Ansible, VS Code): say that this
    // was one of them.
    std::vector<int> others;
    for (const Channel& c : tracker.channels()) {
      if (c.index != playing && c.has_output) others.push_back(c.index);
    }
    if (!others.empty()) {
      ctl.err() << "spctl: note: " << others.size()
                << " other channel(s) printed output too ("
                << ChannelIndices(others)
                << "); play one with --channel N (`spctl sessions show "
                << base::EscapeControls(head.session.session_id())
                << "` lists them)\n";
    }
  }
  if (long_pauses > 0) {
    ctl.err() << "spctl: note: " << long_pauses
              << (long_pauses == 1 ? " pause" : " pauses") << " longer than "
              << absl::FormatDuration(kLongPause) << " played as "
              << absl::FormatDuration(kLongPausePlayed)
              << " (the longest: " << absl::FormatDuration(longest)
              << "); --max-idle sets the longest pause played\n";
  }
  return WarnIfBroken(ctl, head, chain);
}

}  // namespace sallyport::cli
