#include "tests/bench/process_cpu.h"

#include <dirent.h>
#include <sys/resource.h>
#include <unistd.h>

#include <cstdint>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "tests/harness/subprocess.h"

namespace sallyport::testing {

namespace {

// Fields `first`..`last` of /proc/PID/stat (14: utime, 15: stime, 16:
// cutime, 17: cstime) added up, in seconds; negative if unreadable.
double StatSeconds(pid_t pid, int first, int last) {
  std::string stat = ReadFileOrEmpty(absl::StrCat("/proc/", pid, "/stat"));
  size_t paren = stat.rfind(')');
  if (paren == std::string::npos) return -1;
  std::vector<std::string> f =
      absl::StrSplit(stat.substr(paren + 2), ' ', absl::SkipEmpty());
  // Fields after "(comm)": state is field 3, so field N is index N - 3.
  double total = 0;
  for (int i = first - 3; i <= last - 3 && i < static_cast<int>(f.size());
       ++i) {
    int64_t ticks = 0;
    if (absl::SimpleAtoi(f[i], &ticks)) total += static_cast<double>(ticks);
  }
  return total / static_cast<double>(sysconf(_SC_CLK_TCK));
}

}  // namespace

double ProcessTreeCpuSeconds(pid_t pid) { return StatSeconds(pid, 14, 17); }

double ReapedChildrenCpuSeconds(pid_t pid) { return StatSeconds(pid, 16, 17); }

double ProcessAndChildrenCpuSeconds(pid_t pid) {
  double total = ProcessTreeCpuSeconds(pid);
  if (total < 0) return total;
  const std::string children =
      ReadFileOrEmpty(absl::StrCat("/proc/", pid, "/task/", pid, "/children"));
  for (absl::string_view child :
       absl::StrSplit(children, ' ', absl::SkipEmpty())) {
    pid_t c = 0;
    if (!absl::SimpleAtoi(child, &c)) continue;
    // A child that exited since is in its parent's cutime once reaped.
    const double t = ProcessTreeCpuSeconds(c);
    if (t > 0) total += t;
  }
  return total;
}

double ProcessRunQueueWaitSeconds(pid_t pid) {
  const std::string dir = absl::StrCat("/proc/", pid, "/task");
  DIR* d = opendir(dir.c_str());
  if (d == nullptr) return -1;
  uint64_t total_ns = 0;
  while (const dirent* e = readdir(d)) {
    if (e->d_name[0] == '.') continue;
    const std::vector<std::string> f = absl::StrSplit(
        ReadFileOrEmpty(absl::StrCat(dir, "/", e->d_name, "/schedstat")), ' ',
        absl::SkipEmpty());
    uint64_t ns = 0;
    if (f.size() >= 2 && absl::SimpleAtoi(f[1], &ns)) total_ns += ns;
  }
  closedir(d);
  return static_cast<double>(total_ns) / 1e9;
}

bool HasChildren(pid_t pid) {
  std::string children =
      ReadFileOrEmpty(absl::StrCat("/proc/", pid, "/task/", pid, "/children"));
  return !absl::StripAsciiWhitespace(children).empty();
}

void WaitForNoChildren(pid_t pid) {
  for (int i = 0; i < 200 && HasChildren(pid); ++i) {
    absl::SleepFor(absl::Milliseconds(10));
  }
  absl::SleepFor(absl::Milliseconds(50));
}

double ThreadCpuSeconds() {
  rusage u{};
  getrusage(RUSAGE_THREAD, &u);
  return static_cast<double>(u.ru_utime.tv_sec + u.ru_stime.tv_sec) +
         static_cast<double>(u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e6;
}

}  // namespace sallyport::testing
