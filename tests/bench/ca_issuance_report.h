// What ca_issuance_bench prints: its rates and CPU figures beside the
// goals (issue 11), with the yardsticks of a loaded shared machine (the
// load average, one Ed25519 signature's CPU, the disk's sync latency).
#ifndef SALLYPORT_TESTS_BENCH_CA_ISSUANCE_REPORT_H_
#define SALLYPORT_TESTS_BENCH_CA_ISSUANCE_REPORT_H_

#include <cstdint>
#include <string>

namespace sallyport::ca::bench {

// One measurement of an RPC at one concurrency.
struct Result {
  double rate = 0;
  int64_t ok = 0, failed = 0;
  double ca_cpu_us = 0, client_cpu_us = 0;  // per successful call
  double sign_us = 0;                       // ReferenceSignMicros()
};

// The 1, 5 and 15 minute load averages ("?" when /proc cannot say).
std::string LoadAverage();

// The machine's speed now, as a yardstick for CPU figures taken on a loaded
// shared machine: CPU microseconds of one Ed25519 signature (~50 us on an
// idle core), the median of 5 runs of 100 on this thread.
double ReferenceSignMicros();

// The disk's sync latency under an idle SQLite issuance, measured just
// before it: p50/p99 of one fdatasync after overwriting 4 KiB of a file in
// `dir`. A commit in WAL mode with synchronous=FULL syncs the WAL once and
// an idle call is a batch of one, so the idle p99 follows this p99 (the
// p50 of this probe is not a strict floor: SQLite's own sync was measured
// below it).
void PrintSyncFloor(const std::string& dir, int calls);

// The rate and CPU per certificate of `n` clients calling `rpc`.
void PrintRate(const std::string& backend, const std::string& rpc, int n,
               const Result& r);

// The figure the goal is about: the CA's rate at the concurrency (of those
// run) where it issued the most, with no failed call, beside the goal; and
// the idle p99 beside its goal.
void PrintPeak(const std::string& backend, const std::string& rpc, double peak,
               int clients, double idle_p99_ms);

}  // namespace sallyport::ca::bench

#endif  // SALLYPORT_TESTS_BENCH_CA_ISSUANCE_REPORT_H_
