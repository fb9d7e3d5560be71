#include "tests/harness/subprocess.h"

#include <dirent.h>
#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <functional>
#include <mutex>
#include <optional>
#include <set>
#include <sstream>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "base/clock.h"
#include "gtest/gtest.h"

extern char** environ;

namespace sallyport::testing {
namespace {

// The sanitizer option variables whose log_path the harness redirects.
constexpr const char* kSanitizerOptionVars[] = {"ASAN_OPTIONS", "UBSAN_OPTIONS",
                                                "LSAN_OPTIONS"};

// The `log_path=P` of a sanitizer options string; "" when there is none or
// it names a stream.
std::string SanitizerLogPath(const std::string& options) {
  for (absl::string_view part :
       absl::StrSplit(options, absl::ByAnyChar(": ,"))) {
    if (absl::ConsumePrefix(&part, "log_path=") && !part.empty() &&
        part != "stderr" && part != "stdout") {
      return std::string(part);
    }
  }
  return "";
}

// P.t<our pid>: where the children's reports go (they append .<pid>).
std::string ChildLogPath(const std::string& path) {
  return absl::StrCat(path, ".t", getpid());
}

// Every distinct log path in our own environment.
std::set<std::string> OwnSanitizerLogPaths() {
  std::set<std::string> paths;
  for (const char* var : kSanitizerOptionVars) {
    const char* value = getenv(var);
    if (value == nullptr) continue;
    std::string path = SanitizerLogPath(value);
    if (!path.empty()) paths.insert(path);
  }
  return paths;
}

struct UserIds {
  uid_t uid;
  gid_t gid;
  std::string home;
};

absl::StatusOr<std::optional<UserIds>> LookupUser(
    const std::optional<std::string>& user) {
  if (!user.has_value() || geteuid() != 0) return std::optional<UserIds>();
  struct passwd* pw = getpwnam(user->c_str());
  if (pw == nullptr) {
    return absl::NotFoundError(absl::StrCat("no such user: ", *user));
  }
  return std::optional<UserIds>(UserIds{pw->pw_uid, pw->pw_gid, pw->pw_dir});
}

// Everything the child needs, prepared before fork so that the child only
// makes async-signal-safe calls.
struct ChildPlan {
  std::vector<std::string> argv_storage;
  std::vector<std::string> env_storage;
  std::vector<char*> argv;
  std::vector<char*> envp;
  std::optional<UserIds> user;
  std::string cwd;

  ChildPlan(const std::vector<std::string>& args,
            const std::map<std::string, std::string>& extra_env)
      : argv_storage(args) {
    std::map<std::string, std::string> env;
    for (char** e = environ; *e != nullptr; ++e) {
      std::string kv(*e);
      size_t eq = kv.find('=');
      if (eq == std::string::npos) continue;
      env[kv.substr(0, eq)] = kv.substr(eq + 1);
    }
    for (const auto& [k, v] : extra_env) env[k] = v;
    // Sanitizer reports of children go to files CheckSanitizerReports()
    // finds (see subprocess.h).
    for (const char* var : kSanitizerOptionVars) {
      auto it = env.find(var);
      if (it == env.end()) continue;
      const std::string path = SanitizerLogPath(it->second);
      if (path.empty()) continue;
      it->second = absl::StrReplaceAll(
          it->second, {{"log_path=" + path, "log_path=" + ChildLogPath(path)}});
    }
    for (const auto& [k, v] : env) env_storage.push_back(k + "=" + v);
    for (auto& a : argv_storage) argv.push_back(a.data());
    argv.push_back(nullptr);
    for (auto& e : env_storage) envp.push_back(e.data());
    envp.push_back(nullptr);
  }

  // In the child: never returns.
  [[noreturn]] void Exec() {
    setpgid(0, 0);
    signal(SIGPIPE, SIG_DFL);
    if (user.has_value()) {
      if (setgroups(0, nullptr) != 0 || setgid(user->gid) != 0 ||
          setuid(user->uid) != 0) {
        _exit(126);
      }
    }
    if (!cwd.empty() && chdir(cwd.c_str()) != 0) _exit(126);
    execvpe(argv[0], argv.data(), envp.data());
    _exit(127);
  }
};

void SetNonBlocking(int fd) {
  fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
}

}  // namespace

std::string ShellQuote(const std::string& s) {
  return absl::StrCat("'", absl::StrReplaceAll(s, {{"'", "'\\''"}}), "'");
}

std::string ShellJoin(const std::vector<std::string>& words) {
  std::vector<std::string> quoted;
  quoted.reserve(words.size());
  for (const std::string& w : words) quoted.push_back(ShellQuote(w));
  return absl::StrJoin(quoted, " ");
}

std::string RunResult::Describe() const {
  std::string status;
  if (timed_out) {
    status = "timed out";
  } else if (term_signal != 0) {
    status = absl::StrCat("signal ", term_signal);
  } else {
    status = absl::StrCat("exit ", exit_code);
  }
  return absl::StrCat(status, "\n--- stdout ---\n", out, "\n--- stderr ---\n",
                      err);
}

absl::StatusOr<RunResult> RunCommand(const std::vector<std::string>& argv,
                                     const RunOptions& options) {
  if (argv.empty()) return absl::InvalidArgumentError("empty argv");
  auto user = LookupUser(options.run_as_user);
  if (!user.ok()) return user.status();
  ChildPlan plan(argv, options.env);
  plan.user = *user;
  plan.cwd = options.cwd;

  int in_pipe[2], out_pipe[2], err_pipe[2];
  if (pipe2(in_pipe, O_CLOEXEC) != 0 || pipe2(out_pipe, O_CLOEXEC) != 0 ||
      pipe2(err_pipe, O_CLOEXEC) != 0) {
    return absl::InternalError(absl::StrCat("pipe: ", strerror(errno)));
  }
  pid_t pid = fork();
  if (pid < 0)
    return absl::InternalError(absl::StrCat("fork: ", strerror(errno)));
  if (pid == 0) {
    dup2(in_pipe[0], 0);
    dup2(out_pipe[1], 1);
    dup2(err_pipe[1], 2);
    plan.Exec();
  }
  close(in_pipe[0]);
  close(out_pipe[1]);
  close(err_pipe[1]);
  int in_fd = in_pipe[1], out_fd = out_pipe[0], err_fd = err_pipe[0];
  SetNonBlocking(in_fd);
  SetNonBlocking(out_fd);
  SetNonBlocking(err_fd);

  RunResult result;
  size_t written = 0;
  if (options.stdin_data.empty()) {
    close(in_fd);
    in_fd = -1;
  }
  // On the monotonic clock: a test that steps this process's wall clock
  // (tests/harness/wall_clock_step.h) must not time its commands out.
  const base::Clock* clock = base::Clock::Real();
  const absl::Duration deadline = clock->Monotonic() + options.timeout;
  char buf[65536];
  while (out_fd >= 0 || err_fd >= 0) {
    absl::Duration left = deadline - clock->Monotonic();
    if (left <= absl::ZeroDuration()) {
      result.timed_out = true;
      kill(-pid, SIGKILL);
      kill(pid, SIGKILL);
      break;
    }
    struct pollfd fds[3];
    int n = 0;
    if (in_fd >= 0) fds[n++] = {in_fd, POLLOUT, 0};
    if (out_fd >= 0) fds[n++] = {out_fd, POLLIN, 0};
    if (err_fd >= 0) fds[n++] = {err_fd, POLLIN, 0};
    int timeout_ms = static_cast<int>(
        std::min<int64_t>(absl::ToInt64Milliseconds(left) + 1, 1000));
    int rc = poll(fds, n, timeout_ms);
    if (rc < 0 && errno != EINTR) break;
    for (int i = 0; i < n; ++i) {
      if (fds[i].revents == 0) continue;
      int fd = fds[i].fd;
      if (fd == in_fd) {
        ssize_t w = write(in_fd, options.stdin_data.data() + written,
                          options.stdin_data.size() - written);
        if (w > 0) written += static_cast<size_t>(w);
        if (w < 0 && errno != EAGAIN && errno != EINTR)
          written = options.stdin_data.size();
        if (written >= options.stdin_data.size()) {
          close(in_fd);
          in_fd = -1;
        }
        continue;
      }
      ssize_t r = read(fd, buf, sizeof(buf));
      if (r > 0) {
        (fd == out_fd ? result.out : result.err)
            .append(buf, static_cast<size_t>(r));
      } else if (r == 0 || (errno != EAGAIN && errno != EINTR)) {
        close(fd);
        if (fd == out_fd) out_fd = -1;
        if (fd == err_fd) err_fd = -1;
      }
    }
  }
  if (in_fd >= 0) close(in_fd);
  if (out_fd >= 0) close(out_fd);
  if (err_fd >= 0) close(err_fd);

  // The child may have closed its output and still be running.
  int status = 0;
  while (true) {
    pid_t w = waitpid(pid, &status, WNOHANG);
    if (w == pid) break;
    if (w < 0 && errno != EINTR) break;
    if (clock->Monotonic() > deadline) {
      result.timed_out = true;
      kill(-pid, SIGKILL);
      kill(pid, SIGKILL);
      waitpid(pid, &status, 0);
      break;
    }
    absl::SleepFor(absl::Milliseconds(5));
  }
  if (WIFEXITED(status)) {
    result.exit_code = WEXITSTATUS(status);
  } else if (WIFSIGNALED(status)) {
    result.term_signal = WTERMSIG(status);
  }
  if (result.exit_code == 127 && result.err.empty()) {
    result.err = absl::StrCat("could not execute ", argv[0]);
  }
  CheckSanitizerReports();
  return result;
}

absl::StatusOr<RunResult> RunCommandOk(const std::vector<std::string>& argv,
                                       const RunOptions& options) {
  auto result = RunCommand(argv, options);
  if (!result.ok()) return result.status();
  if (!result->ok()) {
    return absl::InternalError(
        absl::StrCat("command failed: ", absl::StrJoin(argv, " "), ": ",
                     result->Describe()));
  }
  return result;
}

absl::StatusOr<std::unique_ptr<BackgroundProcess>> BackgroundProcess::Start(
    const std::vector<std::string>& argv, const Options& options) {
  if (argv.empty()) return absl::InvalidArgumentError("empty argv");
  if (options.log_path.empty())
    return absl::InvalidArgumentError("no log path");
  auto user = LookupUser(options.run_as_user);
  if (!user.ok()) return user.status();
  ChildPlan plan(argv, options.env);
  plan.user = *user;
  int log_fd = open(options.log_path.c_str(),
                    O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (log_fd < 0) {
    return absl::InternalError(
        absl::StrCat("open ", options.log_path, ": ", strerror(errno)));
  }
  if (user->has_value()) {
    if (fchown(log_fd, (*user)->uid, (*user)->gid) != 0) {
      // Not fatal: the child only writes through the inherited fd.
    }
  }
  int null_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
  pid_t pid = fork();
  if (pid < 0)
    return absl::InternalError(absl::StrCat("fork: ", strerror(errno)));
  if (pid == 0) {
    dup2(null_fd, 0);
    dup2(log_fd, 1);
    dup2(log_fd, 2);
    plan.Exec();
  }
  close(log_fd);
  close(null_fd);
  return std::unique_ptr<BackgroundProcess>(
      new BackgroundProcess(pid, options));
}

bool BackgroundProcess::Running() {
  if (reaped_) return false;
  pid_t w = waitpid(pid_, &wait_status_, WNOHANG);
  if (w == pid_) {
    reaped_ = true;
    CheckSanitizerReports();
  }
  return !reaped_;
}

void BackgroundProcess::Signal(int sig) {
  if (!reaped_) kill(pid_, sig);
}

int BackgroundProcess::Stop() {
  if (reaped_) return wait_status_;
  kill(pid_, options_.stop_signal);
  const absl::Time deadline = absl::Now() + options_.stop_grace;
  while (absl::Now() < deadline) {
    if (!Running()) break;
    absl::SleepFor(absl::Milliseconds(10));
  }
  if (!reaped_) {
    // No exit handlers run (no leak check under LeakSanitizer): say so.
    std::fprintf(stderr,
                 "harness: pid %d did not stop within %s of signal %d; "
                 "killed\n",
                 static_cast<int>(pid_),
                 absl::FormatDuration(options_.stop_grace).c_str(),
                 options_.stop_signal);
    kill(-pid_, SIGKILL);
    kill(pid_, SIGKILL);
    waitpid(pid_, &wait_status_, 0);
    reaped_ = true;
  }
  // Leftover children in its group (e.g. sshd's per-connection processes).
  kill(-pid_, SIGKILL);
  CheckSanitizerReports();
  return wait_status_;
}

BackgroundProcess::~BackgroundProcess() { Stop(); }

std::vector<std::string> SanitizerReportFiles() {
  std::vector<std::string> files;
  for (const std::string& path : OwnSanitizerLogPaths()) {
    const std::string child = ChildLogPath(path);
    const size_t slash = child.rfind('/');
    const std::string dir =
        slash == std::string::npos ? "." : child.substr(0, slash);
    const std::string prefix =
        (slash == std::string::npos ? child : child.substr(slash + 1)) + ".";
    DIR* d = opendir(dir.c_str());
    if (d == nullptr) continue;
    while (struct dirent* e = readdir(d)) {
      if (absl::StartsWith(e->d_name, prefix)) {
        files.push_back(absl::StrCat(dir, "/", e->d_name));
      }
    }
    closedir(d);
  }
  std::sort(files.begin(), files.end());
  return files;
}

void CheckSanitizerReports() {
  static std::mutex mu;
  static std::set<std::string>* seen = new std::set<std::string>();
  std::lock_guard<std::mutex> lock(mu);
  for (const std::string& file : SanitizerReportFiles()) {
    if (!seen->insert(file).second) continue;
    ADD_FAILURE() << "sanitizer report of a process this test started (" << file
                  << "):\n"
                  << ReadFileOrEmpty(file);
  }
}

namespace {
// The last look, after every test and suite has stopped its processes.
class SanitizerReportCheck : public ::testing::Environment {
 public:
  void TearDown() override { CheckSanitizerReports(); }
};
[[maybe_unused]] const bool kSanitizerReportCheckAdded =
    (::testing::AddGlobalTestEnvironment(new SanitizerReportCheck), true);
}  // namespace

std::string ReadFileOrEmpty(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return "";
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

absl::StatusOr<std::string> WaitForLogLine(
    const std::function<std::string()>& read_log,
    const std::vector<std::string>& texts, absl::Duration timeout) {
  const absl::Time limit = absl::Now() + timeout;
  std::string log;
  while (true) {
    log = read_log();
    // The whole lines only: the part after the last '\n' is still written.
    const absl::string_view whole(log.data(), log.rfind('\n') + 1);
    std::optional<absl::string_view> found;
    for (absl::string_view line : absl::StrSplit(whole, '\n')) {
      if (std::all_of(texts.begin(), texts.end(), [&](const std::string& t) {
            return absl::StrContains(line, t);
          })) {
        found = line;
      }
    }
    if (found.has_value()) return std::string(*found);
    if (absl::Now() >= limit) break;
    absl::SleepFor(absl::Milliseconds(100));
  }
  std::vector<absl::string_view> lines =
      absl::StrSplit(log, '\n', absl::SkipEmpty());
  const size_t from =
      lines.size() > kLogTailLines ? lines.size() - kLogTailLines : 0;
  return absl::DeadlineExceededError(
      absl::StrCat("no log line with \"", absl::StrJoin(texts, "\" and \""),
                   "\" within ", absl::FormatDuration(timeout),
                   "; the log's last ", lines.size() - from, " lines:\n",
                   absl::StrJoin(lines.begin() + static_cast<ptrdiff_t>(from),
                                 lines.end(), "\n")));
}

absl::Status WriteFile(const std::string& path, const std::string& contents,
                       int mode) {
  int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
  if (fd < 0)
    return absl::InternalError(
        absl::StrCat("open ", path, ": ", strerror(errno)));
  fchmod(fd, static_cast<mode_t>(mode));
  size_t off = 0;
  while (off < contents.size()) {
    ssize_t w = write(fd, contents.data() + off, contents.size() - off);
    if (w < 0) {
      if (errno == EINTR) continue;
      close(fd);
      return absl::InternalError(
          absl::StrCat("write ", path, ": ", strerror(errno)));
    }
    off += static_cast<size_t>(w);
  }
  close(fd);
  return absl::OkStatus();
}

}  // namespace sallyport::testing
