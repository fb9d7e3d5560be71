// CPU time of a server's process tree, for benchmarks that charge a server
// for what its per-connection processes spent.
#ifndef SALLYPORT_TESTS_BENCH_PROCESS_CPU_H_
#define SALLYPORT_TESTS_BENCH_PROCESS_CPU_H_

#include <sys/types.h>

namespace sallyport::testing {

// utime + stime + cutime + cstime of `pid` from /proc, in seconds: its own
// time and that of the children it has reaped. Negative if unreadable.
double ProcessTreeCpuSeconds(pid_t pid);

// cutime + cstime of `pid`: the CPU of the children it has reaped, in
// seconds. Negative if unreadable.
double ReapedChildrenCpuSeconds(pid_t pid);

// ProcessTreeCpuSeconds of `pid` plus that of each child it has now (e.g.
// the PostgreSQL postmaster and its backends, which live as long as their
// connection). Negative if `pid` is unreadable.
double ProcessAndChildrenCpuSeconds(pid_t pid);

// Whether `pid` still has children (e.g. sshd's per-connection processes,
// whose time lands in cutime/cstime only once reaped).
bool HasChildren(pid_t pid);

// Waits (up to ~2 s) until `pid` has no children, so a following
// ProcessTreeCpuSeconds includes them.
void WaitForNoChildren(pid_t pid);

// The time `pid`'s live threads have spent runnable with no CPU to run on
// (the second field of /proc/PID/task/TID/schedstat), summed, in seconds;
// negative if unreadable. Its growth over a stretch of wall time, divided
// by that time, is how many of the process's threads waited for a CPU on
// average: beside its CPU time over the same stretch, whether the process
// was the one the others waited for (a thread on a CPU or waiting for one
// all the time) or was itself waiting for work. Threads that exit take
// their time with them.
double ProcessRunQueueWaitSeconds(pid_t pid);

// This thread's user + system CPU time, in seconds.
double ThreadCpuSeconds();

}  // namespace sallyport::testing

#endif  // SALLYPORT_TESTS_BENCH_PROCESS_CPU_H_
