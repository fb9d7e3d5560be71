// The recording benchmark of issue 14, in one run, on a real deployment
// from BastionFixture (real CA, `sp login` certificates, sshd targets), over
// loopback with aes128-gcm (tests/bench/recording_bench_setup.h):
//
//   recording on   the real `sallyport-gateway serve` binary (spool
//                  recorder with the default policy, shipper to the CA);
//   recording off  the same gateway code with a NullRecorder, in a child
//                  process of this bench (`--serve-null=CONFIG`: the same
//                  enrolled gateway.yaml, its own port, no spool, no
//                  shipper).
//
// Workloads (stock ssh, output counted by `wc -c`):
//   (a) exec bulk  ssh -l LOGIN+web01 gateway 'head -c N /dev/zero'
//       (recorded: the command line, the first record_exec_output_limit
//       bytes, then counts and a SHA-256 of the whole stream)
//   (b) pty text   ssh -tt -l LOGIN+web01 gateway 'yes TEXT | head -c N'
//       (a pty session: every byte recorded)
//
// Per row: MB/s (bytes the client received / wall time), gateway core-s
// per GB from /proc/PID/stat (tests/bench/process_cpu.h) over the session,
// the client's (ssh + wc) core-s per GB, and for "on" rows: the spool
// file's size and write rate (spool bytes / session time), the upload to
// the CA (time from the session's start until the shipper deleted the
// spool file, i.e. the CA confirmed every record and the session's end;
// its MB/s and the lag after the session ended), and the gateway's and the
// CA's CPU including the shipping. Rows alternate off/on (the first of
// each round rotates) for --rounds rounds; every row prints the load. The
// table gives the means, and per recording gateway the loss of each round
// against that round's "off" row: min / median / max, the spread.
//
// Then the spool writer alone: its write rate and CPU per GB, the
// recorder's capacity without SSH around it; and SHA-256 alone over
// --bytes: the least CPU per GB that recording adds to exec bulk (all
// output past record_exec_output_limit is hashed on the gateway's I/O
// thread), the reference for the exec row's gateway core-s/GB.
//
//   bazel run -c opt //tests/bench:recording_bench --
//       [--bytes=2147483648] [--pty-bytes=209715200] [--rounds=1]
//       [--spool-bytes=536870912] [--gateway-b=BIN[,BIN...]] [--perf=DIR]
//
// --gateway-b=BIN adds a third gateway with recording on: another build of
// `sallyport-gateway` (e.g. before a change), on a copy of the config with
// its own spool_dir, measured in the same rounds ("on B"); a comma-separated
// list adds one per build ("on B", "on C", ...). --perf=DIR runs
// `perf record -e cpu-clock -g` on the gateway of every row into
// DIR/<workload>-<gateway>-<round>.perf. With --bytes=0 --pty-bytes=0 only
// the spool writer runs (no deployment).
//
// Goals (issue 14): ≤ 3 % throughput loss for (a), ≤ 10 % for (b).
// A benchmark: it asserts nothing.
#include <unistd.h>

#include <algorithm>
#include <iostream>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "tests/bench/build_mode.h"
#include "tests/bench/null_gateway.h"
#include "tests/bench/process_cpu.h"
#include "tests/bench/recording_bench_setup.h"
#include "tests/harness/temp_dir.h"

namespace sallyport::testing::recbench {
namespace {

struct Row {
  std::string workload;
  std::string variant;
  int round = 0;
  bool ok = false;
  double mb_per_s = 0;
  double core_s_per_gb = 0;
  double client_core_s_per_gb = 0;
  double spool_mb_per_s = 0;
  double upload_mb_per_s = 0;
  double upload_lag_s = 0;
  double ship_core_s_per_gb = 0;  // gateway until shipped
  double ca_core_s_per_gb = 0;
};

struct Settings {
  uint64_t bytes = uint64_t{2} << 30;
  uint64_t pty_bytes = uint64_t{200} << 20;
  uint64_t spool_bytes = uint64_t{512} << 20;
  int rounds = 1;
  std::vector<std::string> gateway_b;
  std::string perf_dir;
};

// One session of `workload` through `v`.
Row RunRow(Deployment& d, const Settings& s, const std::string& workload,
           bool pty, const Variant& v, int round) {
  BastionFixture& fx = *d.fixture;
  const bool recording = !v.spool_dir.empty();
  Row row;
  row.workload = workload;
  row.variant = v.name;
  row.round = round;
  const BastionFixture::User* user = *fx.user(kUser);
  const std::string command =
      pty ? absl::StrCat(
                "yes 'the quick brown fox jumps over the lazy dog "
                "0123456789' | head -c ",
                s.pty_bytes)
          : absl::StrCat("head -c ", s.bytes, " /dev/zero");
  const std::string line =
      absl::StrCat("ssh -F '", user->ssh_config, "' -c ", kCipher, " -p ",
                   v.port, " -l '", fx.target_login(), "+web01'",
                   pty ? " -tt" : "", " gateway \"$1\" | wc -c");
  std::unique_ptr<SpoolWatch> watch;
  if (recording) watch = std::make_unique<SpoolWatch>(v.spool_dir);
  const pid_t ca_pid = fx.ca_process().pid();
  const double cpu0 = ProcessTreeCpuSeconds(v.pid);
  const double ca0 = ProcessTreeCpuSeconds(ca_pid);
  const double client0 = ChildrenCpuSeconds();
  absl::StatusOr<RunResult> r;
  absl::Time t0, t1;
  {
    PerfRecord perf(
        s.perf_dir, v.pid,
        absl::StrCat(absl::StrReplaceAll(workload, {{" ", "-"}}), "-",
                     absl::StrReplaceAll(v.name, {{" ", ""}}), "-", round));
    t0 = absl::Now();
    RunOptions ro;
    ro.timeout = absl::Minutes(30);
    r = RunCommand({"/bin/sh", "-c", line, "sh", command}, ro);
    t1 = absl::Now();
  }
  const double seconds = absl::ToDoubleSeconds(t1 - t0);
  const double cpu = ProcessTreeCpuSeconds(v.pid) - cpu0;
  const double client = ChildrenCpuSeconds() - client0;
  uint64_t received = 0;
  if (!r.ok() || !r->ok() ||
      !absl::SimpleAtoi(absl::StripAsciiWhitespace(r->out), &received) ||
      received == 0) {
    std::cerr << workload << " " << v.name << ": failed: "
              << (r.ok() ? r->Describe() : r.status().ToString()) << "\n";
    return row;
  }
  const double gb = static_cast<double>(received) / 1e9;
  row.ok = true;
  row.mb_per_s = gb * 1e3 / seconds;
  row.core_s_per_gb = cpu / gb;
  row.client_core_s_per_gb = client / gb;
  std::string extra;
  if (recording) {
    std::optional<absl::Time> shipped = watch->WaitShipped(absl::Minutes(10));
    const uint64_t spooled = watch->Bytes();
    const double mb = static_cast<double>(spooled) / 1e6;
    row.spool_mb_per_s = mb / seconds;
    row.ship_core_s_per_gb = (ProcessTreeCpuSeconds(v.pid) - cpu0) / gb;
    row.ca_core_s_per_gb = (ProcessTreeCpuSeconds(ca_pid) - ca0) / gb;
    if (shipped.has_value()) {
      row.upload_mb_per_s = mb / absl::ToDoubleSeconds(*shipped - t0);
      row.upload_lag_s = absl::ToDoubleSeconds(*shipped - t1);
      extra = absl::StrFormat(
          "\n      spool %.1f MiB, %.1f MB/s; at the CA %.2f s after the end "
          "(upload %.1f MB/s); with shipping: gateway %.3f, CA %.3f "
          "core-s/GB",
          static_cast<double>(spooled) / (1 << 20), row.spool_mb_per_s,
          row.upload_lag_s, row.upload_mb_per_s, row.ship_core_s_per_gb,
          row.ca_core_s_per_gb);
    } else {
      extra =
          absl::StrFormat("\n      spool %.1f MiB: NOT SHIPPED within 10 min",
                          static_cast<double>(spooled) / (1 << 20));
    }
  }
  std::cout << absl::StrFormat(
                   "  %-9s %-4s %7.1f MiB %7.2f s %8.1f MB/s  gateway %6.3f "
                   "client %6.3f core-s/GB  (load %s)%s\n",
                   workload, v.name, static_cast<double>(received) / (1 << 20),
                   seconds, row.mb_per_s, row.core_s_per_gb,
                   row.client_core_s_per_gb, LoadAverage(), extra)
            << std::flush;
  return row;
}

double Median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  const size_t n = v.size();
  return n % 2 == 1 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

void PrintTable(const std::vector<Variant>& variants,
                const std::vector<Row>& rows) {
  std::cout << "\n| workload | gateway | MB/s | gateway core-s/GB | client "
               "core-s/GB | spool write MB/s | upload MB/s (lag after end) | "
               "gateway + CA core-s/GB with shipping | loss of the means | "
               "loss per round min / median / max | goal |\n"
               "|---|---|---|---|---|---|---|---|---|---|---|\n";
  for (const std::string workload : {"exec bulk", "pty text"}) {
    double off_mbs = 0;
    for (const Variant& v : variants) {
      Row sum;
      int n = 0;
      std::vector<double> losses;
      for (const Row& r : rows) {
        if (r.workload != workload || r.variant != v.name || !r.ok) continue;
        sum.mb_per_s += r.mb_per_s;
        sum.core_s_per_gb += r.core_s_per_gb;
        sum.client_core_s_per_gb += r.client_core_s_per_gb;
        sum.spool_mb_per_s += r.spool_mb_per_s;
        sum.upload_mb_per_s += r.upload_mb_per_s;
        sum.upload_lag_s += r.upload_lag_s;
        sum.ship_core_s_per_gb += r.ship_core_s_per_gb;
        sum.ca_core_s_per_gb += r.ca_core_s_per_gb;
        ++n;
        for (const Row& off : rows) {
          if (off.workload == workload && off.variant == "off" && off.ok &&
              off.round == r.round) {
            losses.push_back((1 - r.mb_per_s / off.mb_per_s) * 100);
          }
        }
      }
      if (n == 0) continue;
      const double mbs = sum.mb_per_s / n;
      if (v.spool_dir.empty()) {
        off_mbs = mbs;
        std::cout << absl::StrFormat(
            "| %s | off | %.1f | %.3f | %.3f | – | – | – | | | |\n", workload,
            mbs, sum.core_s_per_gb / n, sum.client_core_s_per_gb / n);
        continue;
      }
      const double ratio = off_mbs > 0 ? mbs / off_mbs : 0;
      const std::string goal = workload == "exec bulk" ? "≤ 3 %" : "≤ 10 %";
      std::string spread = "–";
      if (!losses.empty()) {
        spread = absl::StrFormat(
            "%.1f / %.1f / %.1f %%",
            *std::min_element(losses.begin(), losses.end()), Median(losses),
            *std::max_element(losses.begin(), losses.end()));
      }
      std::cout << absl::StrFormat(
          "| %s | %s | %.1f | %.3f | %.3f | %.1f | %.1f (%.2f s) | %.3f + "
          "%.3f | %.1f %% | %s | %s |\n",
          workload, v.name, mbs, sum.core_s_per_gb / n,
          sum.client_core_s_per_gb / n, sum.spool_mb_per_s / n,
          sum.upload_mb_per_s / n, sum.upload_lag_s / n,
          sum.ship_core_s_per_gb / n, sum.ca_core_s_per_gb / n,
          (1 - ratio) * 100, spread, goal);
    }
  }
}

int Main(int argc, char** argv) {
  Settings s;
  std::string serve_null, listen;
  for (int i = 1; i < argc; ++i) {
    absl::string_view a = argv[i];
    if (absl::ConsumePrefix(&a, "--bytes=")) {
      (void)absl::SimpleAtoi(a, &s.bytes);
    } else if (absl::ConsumePrefix(&a, "--pty-bytes=")) {
      (void)absl::SimpleAtoi(a, &s.pty_bytes);
    } else if (absl::ConsumePrefix(&a, "--spool-bytes=")) {
      (void)absl::SimpleAtoi(a, &s.spool_bytes);
    } else if (absl::ConsumePrefix(&a, "--rounds=")) {
      (void)absl::SimpleAtoi(a, &s.rounds);
    } else if (absl::ConsumePrefix(&a, "--gateway-b=")) {
      s.gateway_b = absl::StrSplit(a, ',', absl::SkipEmpty());
    } else if (absl::ConsumePrefix(&a, "--perf=")) {
      s.perf_dir = std::string(a);
    } else if (absl::ConsumePrefix(&a, "--serve-null=")) {
      serve_null = std::string(a);
    } else if (absl::ConsumePrefix(&a, "--listen=")) {
      listen = std::string(a);
    } else {
      std::cerr << "usage: recording_bench [--bytes=N] [--pty-bytes=N] "
                   "[--spool-bytes=N] [--rounds=N] [--gateway-b=BIN[,BIN...]] "
                   "[--perf=DIR]\n";
      return 2;
    }
  }
  if (!serve_null.empty()) return ServeNullRecorderGateway(serve_null, listen);
  PrintBuildMode();
  if (s.bytes == 0 && s.pty_bytes == 0) {
    std::cout << "recording_bench: spool writer only; " << Uptime() << "\n";
    absl::StatusOr<TempDir> tmp = TempDir::Create("spoolbench");
    if (!tmp.ok()) return 1;
    SpoolOnly(tmp->path(), s.spool_bytes);
    return 0;
  }

  absl::StatusOr<std::unique_ptr<Deployment>> d = StartDeployment(s.gateway_b);
  if (!d.ok()) {
    std::cerr << "deployment: " << d.status() << "\n";
    return 1;
  }
  const std::vector<Variant>& variants = (*d)->variants;
  std::cout << absl::StrFormat(
                   "recording_bench: %s, exec %d MiB, pty %d MiB, %d round(s); "
                   "user %s; %d cores; gateways B... %s\n%s\n",
                   kCipher, s.bytes >> 20, s.pty_bytes >> 20, s.rounds, kUser,
                   sysconf(_SC_NPROCESSORS_ONLN),
                   s.gateway_b.empty() ? "-" : absl::StrJoin(s.gateway_b, ", "),
                   Uptime())
            << std::flush;
  std::vector<Row> rows;
  for (int i = 0; i < s.rounds; ++i) {
    // Rotate which goes first, so load drifts hit each alike.
    std::vector<const Variant*> order;
    for (size_t k = 0; k < variants.size(); ++k) {
      order.push_back(&variants[(k + i) % variants.size()]);
    }
    for (const Variant* v : order) {
      if (s.bytes > 0)
        rows.push_back(RunRow(**d, s, "exec bulk", false, *v, i));
    }
    for (const Variant* v : order) {
      if (s.pty_bytes > 0) {
        rows.push_back(RunRow(**d, s, "pty text", true, *v, i));
      }
    }
  }
  PrintTable(variants, rows);
  std::cout << "(means over " << s.rounds << " round(s)) " << Uptime() << "\n"
            << std::flush;

  if (s.spool_bytes > 0) {
    absl::StatusOr<TempDir> tmp = TempDir::Create("spoolbench");
    if (tmp.ok()) SpoolOnly(tmp->path(), s.spool_bytes);
  }
  if (s.bytes > 0) HashOnly(s.bytes);
  return 0;
}

}  // namespace
}  // namespace sallyport::testing::recbench

int main(int argc, char** argv) {
  return sallyport::testing::recbench::Main(argc, argv);
}
