// Memory of a process (tree) from /proc, for benchmarks that report bytes
// per idle connection or session.
#ifndef SALLYPORT_TESTS_BENCH_PROC_MEMORY_H_
#define SALLYPORT_TESTS_BENCH_PROC_MEMORY_H_

#include <sys/types.h>

#include <cstdint>
#include <vector>

namespace sallyport::testing {

// `pid` and all its live descendants (children forked by each process's
// main thread, as for sshd and shells).
std::vector<pid_t> ProcessTree(pid_t pid);
// VmRSS of `pid` in bytes (-1 when unknown).
int64_t RssBytes(pid_t pid);
// Sum of Pss (/proc/PID/smaps_rollup) over ProcessTree(pid), in bytes:
// pages shared inside the tree counted once.
int64_t ProcessTreePssBytes(pid_t pid);

}  // namespace sallyport::testing

#endif  // SALLYPORT_TESTS_BENCH_PROC_MEMORY_H_
