#include "tests/bench/proc_memory.h"

#include <string>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "tests/harness/subprocess.h"

namespace sallyport::testing {
namespace {

// The number in the "Field:   123 kB" line of a /proc file, in KiB.
int64_t KibField(const std::string& text, const std::string& field) {
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    if (!absl::ConsumePrefix(&line, field + ":")) continue;
    line = absl::StripSuffix(absl::StripAsciiWhitespace(line), "kB");
    int64_t kib = 0;
    if (absl::SimpleAtoi(absl::StripAsciiWhitespace(line), &kib)) return kib;
  }
  return -1;
}

}  // namespace

std::vector<pid_t> ProcessTree(pid_t pid) {
  std::vector<pid_t> out = {pid};
  for (size_t i = 0; i < out.size(); ++i) {
    // Children forked by the main thread (sshd and shells are
    // single-threaded).
    const std::string children = ReadFileOrEmpty(
        absl::StrCat("/proc/", out[i], "/task/", out[i], "/children"));
    for (absl::string_view c :
         absl::StrSplit(children, ' ', absl::SkipWhitespace())) {
      int child = 0;
      if (absl::SimpleAtoi(c, &child)) out.push_back(child);
    }
  }
  return out;
}

int64_t RssBytes(pid_t pid) {
  const int64_t kib = KibField(
      ReadFileOrEmpty(absl::StrCat("/proc/", pid, "/status")), "VmRSS");
  return kib < 0 ? -1 : kib * 1024;
}

int64_t ProcessTreePssBytes(pid_t pid) {
  int64_t total = 0;
  for (pid_t p : ProcessTree(pid)) {
    const int64_t kib = KibField(
        ReadFileOrEmpty(absl::StrCat("/proc/", p, "/smaps_rollup")), "Pss");
    if (kib > 0) total += kib * 1024;
  }
  return total;
}

}  // namespace sallyport::testing
