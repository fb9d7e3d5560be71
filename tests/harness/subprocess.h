// Running real programs from tests: one-shot commands with a timeout and
// captured output, and long-running background processes (sshd, postgres)
// that are stopped when their handle is destroyed.
#ifndef SALLYPORT_TESTS_HARNESS_SUBPROCESS_H_
#define SALLYPORT_TESTS_HARNESS_SUBPROCESS_H_

#include <sys/types.h>

#include <cstddef>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace sallyport::testing {

struct RunOptions {
  // Bytes written to the child's stdin, which is then closed.
  std::string stdin_data;
  // On the monotonic clock (a step of the wall clock does not move it).
  absl::Duration timeout = absl::Seconds(60);
  // Extra environment variables; the child inherits the rest.
  std::map<std::string, std::string> env;
  // Working directory; empty keeps ours.
  std::string cwd;
  // When set (and we are root), the child switches to this user first.
  std::optional<std::string> run_as_user;
};

struct RunResult {
  int exit_code = -1;   // exit status, or -1 when killed by a signal
  int term_signal = 0;  // the signal that ended it, if any
  bool timed_out = false;
  std::string out;
  std::string err;

  bool ok() const { return !timed_out && exit_code == 0; }
  // "exit 1", "signal 9", "timed out", and the captured output, for messages.
  std::string Describe() const;
};

// `s` in single quotes, each ' escaped, for /bin/sh.
std::string ShellQuote(const std::string& s);
// The words, each quoted, joined with spaces: one /bin/sh command line.
std::string ShellJoin(const std::vector<std::string>& words);

// Runs argv[0] (searched in PATH) to completion or until the timeout, when
// its whole process group is killed. Errors only when it cannot be started.
absl::StatusOr<RunResult> RunCommand(const std::vector<std::string>& argv,
                                     const RunOptions& options = {});

// Like Run, but a non-zero exit, a signal or a timeout is an error whose
// message carries the command and its output.
absl::StatusOr<RunResult> RunCommandOk(const std::vector<std::string>& argv,
                                       const RunOptions& options = {});

// A background process whose stdout and stderr go to a log file. The
// destructor stops it (SIGTERM, then SIGKILL after a grace period).
class BackgroundProcess {
 public:
  struct Options {
    std::string log_path;  // required: stdout+stderr are appended here
    std::map<std::string, std::string> env;
    std::optional<std::string> run_as_user;
    int stop_signal = 15;  // SIGTERM
    absl::Duration stop_grace = absl::Seconds(10);
  };

  static absl::StatusOr<std::unique_ptr<BackgroundProcess>> Start(
      const std::vector<std::string>& argv, const Options& options);
  ~BackgroundProcess();
  BackgroundProcess(const BackgroundProcess&) = delete;
  BackgroundProcess& operator=(const BackgroundProcess&) = delete;

  pid_t pid() const { return pid_; }
  // True while the process has not exited (reaps it if it has).
  bool Running();
  // Stops the process and waits for it; returns its wait status.
  int Stop();
  // Sends a signal without waiting.
  void Signal(int sig);
  const std::string& log_path() const { return options_.log_path; }

 private:
  BackgroundProcess(pid_t pid, Options options)
      : pid_(pid), options_(std::move(options)) {}
  pid_t pid_;
  Options options_;
  bool reaped_ = false;
  int wait_status_ = 0;
};

// Sanitizer reports of the processes a test starts. When ASAN_OPTIONS,
// UBSAN_OPTIONS or LSAN_OPTIONS carries `log_path=P` (tools/sanitize.sh
// sets it), every child the harness starts gets `log_path=P.t<test pid>`,
// so its reports (and its children's) land in P.t<test pid>.<pid>. The
// harness calls CheckSanitizerReports() whenever it reaps a child and
// after the last test: each report not seen before fails the running test
// (ADD_FAILURE, with the report). Without a log_path a child's report goes
// to its stderr (its log) and only its exit status tells.
void CheckSanitizerReports();
// The report files CheckSanitizerReports() would look at now (for tests).
std::vector<std::string> SanitizerReportFiles();

// Reads a whole file; empty string if it does not exist.
std::string ReadFileOrEmpty(const std::string& path);

// How many of a log's last lines WaitForLogLine's error shows.
inline constexpr size_t kLogTailLines = 20;
// Reads `read_log` (a log's whole text: a file through ReadFileOrEmpty,
// or one kept in memory) every 100 ms until one of its whole lines (ended
// by '\n': a line being written is not yet one) contains every one of
// `texts`, for up to `timeout`: a process or thread logs an event a little
// after what the test saw of it. Returns the last such line, without its
// '\n'. kDeadlineExceeded when none came, naming the texts, with the log's
// last kLogTailLines lines.
absl::StatusOr<std::string> WaitForLogLine(
    const std::function<std::string()>& read_log,
    const std::vector<std::string>& texts,
    absl::Duration timeout = absl::Seconds(30));
// Writes a file (truncating) with the given mode.
absl::Status WriteFile(const std::string& path, const std::string& contents,
                       int mode = 0644);

}  // namespace sallyport::testing

#endif  // SALLYPORT_TESTS_HARNESS_SUBPROCESS_H_
