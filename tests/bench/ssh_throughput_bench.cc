// Download throughput of example_server against the machine's real sshd:
// the stock `ssh` client pulls N bytes (`head -c N /dev/zero`) from each
// server over loopback, once per cipher, and we print MB/s, the ratio, and
// the server's CPU seconds per GB transferred.
//
//   bazel run --config=opt //tests/bench:ssh_throughput_bench --
//       [--bytes=2147483648] [--runs=1] [--ciphers=aes128-gcm@openssh.com,...]
//
// Server CPU: user+system time of the server's process tree (for sshd the
// listener, which reaps the per-connection processes, so their time lands
// in its cutime/cstime), before and after the transfer, minus the time of
// the remote command itself (`times` in the remote shell reports it).
// "floor": the least this machine can do for the same transfer: one thread
// reading `head -c N /dev/zero` from a pipe straight into 32 KiB packet
// slots, sealing them in place with our packet cipher and writing them to
// a loopback TCP socket (read and dropped by another thread), with blocking
// I/O and no SSH protocol at all; its CPU seconds per GB are the kernel's
// pipe and TCP costs plus the AEAD. A server cannot go below it.
// A benchmark, not a test: it asserts nothing (CONVENTIONS.md "Tests").
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <iostream>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "ssh/crypto/cipher.h"
#include "ssh/transport/packet_codec.h"
#include "tests/bench/build_mode.h"
#include "tests/bench/process_cpu.h"
#include "tests/bench/ssh_bench_setup.h"
#include "tests/harness/listening_process.h"
#include "tests/harness/sshd_fixture.h"
#include "tests/harness/subprocess.h"
#include "tests/harness/temp_dir.h"

namespace sallyport::testing {
namespace {

// Seconds from one "0m1.234s" field of the `times` builtin.
double ParseTimesField(absl::string_view s) {
  size_t m = s.find('m');
  if (m == absl::string_view::npos) return 0;
  double minutes = 0, seconds = 0;
  (void)absl::SimpleAtod(s.substr(0, m), &minutes);
  absl::string_view rest = absl::StripSuffix(s.substr(m + 1), "s");
  (void)absl::SimpleAtod(rest, &seconds);
  return minutes * 60 + seconds;
}

// The total of the four numbers `times` prints (shell and children).
double ParseTimes(const std::string& err) {
  double total = 0;
  int fields = 0;
  for (absl::string_view line : absl::StrSplit(err, '\n')) {
    std::vector<absl::string_view> parts =
        absl::StrSplit(line, ' ', absl::SkipEmpty());
    if (parts.size() != 2 || !absl::EndsWith(parts[0], "s") ||
        parts[0].find('m') == absl::string_view::npos) {
      continue;
    }
    total += ParseTimesField(parts[0]) + ParseTimesField(parts[1]);
    fields += 2;
  }
  return fields == 4 ? total : 0;
}

// The floor (see the top of the file): CPU seconds per GB of the minimal
// loop for `cipher`, or a negative number if it could not run.
double FloorCoreSecondsPerGb(const std::string& cipher, uint64_t bytes) {
  auto spec = ssh::crypto::LookupCipher(cipher);
  if (!spec.ok()) return -1;
  std::vector<uint8_t> key(spec->key_length, 0x5a), iv(spec->iv_length, 0xa5);
  auto sealer = ssh::crypto::CreatePacketCipher(cipher, "", key, iv, {}, true);
  if (!sealer.ok()) return -1;
  ssh::transport::PacketEncoder encoder;
  encoder.SetCipher(*std::move(sealer));

  // Loopback TCP pair; the receiving end is drained by a thread.
  int listener = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof(addr);
  if (listener < 0 ||
      bind(listener, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0 ||
      listen(listener, 1) != 0 ||
      getsockname(listener, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    if (listener >= 0) close(listener);
    return -1;
  }
  int receiver = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (connect(receiver, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) !=
      0) {
    close(listener);
    close(receiver);
    return -1;
  }
  int sender = accept4(listener, nullptr, nullptr, SOCK_CLOEXEC);
  close(listener);
  if (sender < 0) {
    close(receiver);
    return -1;
  }
  int one = 1;
  setsockopt(sender, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  std::thread drain([receiver] {
    std::vector<char> sink(1 << 20);
    while (read(receiver, sink.data(), sink.size()) > 0) {
    }
  });

  // The data source, as example_server runs it (a 256 KiB pipe).
  int p[2];
  if (pipe2(p, O_CLOEXEC) != 0) return -1;
  fcntl(p[1], F_SETPIPE_SZ, 256 << 10);
  const std::string count = absl::StrCat(bytes);
  pid_t child = fork();
  if (child == 0) {
    dup2(p[1], 1);
    execl("/usr/bin/head", "head", "-c", count.c_str(), "/dev/zero", nullptr);
    _exit(127);
  }
  close(p[1]);

  constexpr size_t kData = 32768, kHead = 9, kPackets = 8;
  const size_t stride = encoder.SealedSize(kHead + kData);
  std::vector<uint8_t> buffer(kPackets * stride);
  iovec slots[kPackets];
  for (size_t i = 0; i < kPackets; ++i) {
    slots[i].iov_base = buffer.data() + i * stride +
                        ssh::transport::PacketEncoder::kPayloadOffset + kHead;
    slots[i].iov_len = kData;
  }
  const double cpu_before = ThreadCpuSeconds();
  uint64_t moved = 0;
  bool ok = child > 0;
  while (ok) {
    const ssize_t n = readv(p[0], slots, kPackets);
    if (n <= 0) break;
    size_t end = 0;
    for (size_t i = 0; i * kData < static_cast<size_t>(n); ++i) {
      const size_t data = std::min(kData, static_cast<size_t>(n) - i * kData);
      uint8_t* packet = buffer.data() + i * stride;
      packet[5] = 94;  // CHANNEL_DATA; the rest of the head is not read
      end = i * stride + encoder.SealedSize(kHead + data);
      encoder.SealInPlace(absl::MakeSpan(packet, end - i * stride),
                          kHead + data);
    }
    for (size_t at = 0; at < end;) {
      const ssize_t w = write(sender, buffer.data() + at, end - at);
      if (w <= 0) {
        ok = false;
        break;
      }
      at += static_cast<size_t>(w);
    }
    moved += static_cast<uint64_t>(n);
  }
  const double cpu = ThreadCpuSeconds() - cpu_before;
  close(p[0]);
  shutdown(sender, SHUT_WR);
  drain.join();
  close(sender);
  close(receiver);
  if (child > 0) waitpid(child, nullptr, 0);
  if (!ok || moved != bytes) return -1;
  return cpu / (static_cast<double>(bytes) / 1e9);
}

struct Result {
  double mb_per_s = 0;
  double server_cpu_s = 0;
  bool ok = false;
};

struct Target {
  std::string name;
  uint16_t port;
  std::string known_hosts;
  pid_t server_pid;
};

Result Pull(const Target& target, const std::string& identity,
            const std::string& cipher, uint64_t bytes) {
  Result result;
  std::vector<std::string> ssh =
      SshClientArgs(target.port, target.known_hosts, identity);
  ssh.insert(ssh.end(), {"-c", cipher, CurrentUserName() + "@127.0.0.1",
                         absl::StrCat("head -c ", bytes,
                                      " /dev/zero; times "
                                      ">&2")});
  std::vector<std::string> quoted;
  for (const auto& a : ssh) {
    std::string q = "'";
    for (char c : a) q += c == '\'' ? std::string("'\\''") : std::string(1, c);
    quoted.push_back(q + "'");
  }
  const double cpu_before = ProcessTreeCpuSeconds(target.server_pid);
  const absl::Time start = absl::Now();
  RunOptions run;
  run.timeout = absl::Minutes(10);
  auto r =
      RunCommand({"/bin/sh", "-c",
                  absl::StrCat(absl::StrJoin(quoted, " "), " > /dev/null")},
                 run);
  const double seconds = absl::ToDoubleSeconds(absl::Now() - start);
  if (!r.ok() || !r->ok()) {
    std::cerr << target.name << " " << cipher << ": ssh failed: "
              << (r.ok() ? r->Describe() : r.status().ToString()) << "\n";
    return result;
  }
  // Wait until the per-connection processes are gone and reaped.
  WaitForNoChildren(target.server_pid);
  const double command_cpu = ParseTimes(r->err);
  result.server_cpu_s =
      ProcessTreeCpuSeconds(target.server_pid) - cpu_before - command_cpu;
  result.mb_per_s = static_cast<double>(bytes) / seconds / 1e6;
  result.ok = true;
  return result;
}

int Main(int argc, char** argv) {
  uint64_t bytes = uint64_t{2} << 30;
  int runs = 1;
  std::vector<std::string> ciphers = {"aes128-gcm@openssh.com",
                                      "aes256-gcm@openssh.com",
                                      "chacha20-poly1305@openssh.com"};
  for (int i = 1; i < argc; ++i) {
    absl::string_view a = argv[i];
    if (absl::ConsumePrefix(&a, "--bytes=")) {
      (void)absl::SimpleAtoi(a, &bytes);
    } else if (absl::ConsumePrefix(&a, "--runs=")) {
      (void)absl::SimpleAtoi(a, &runs);
    } else if (absl::ConsumePrefix(&a, "--ciphers=")) {
      ciphers = absl::StrSplit(a, ',', absl::SkipEmpty());
    } else {
      std::cerr << "usage: ssh_throughput_bench [--bytes=N] [--runs=N] "
                   "[--ciphers=a,b]\n";
      return 2;
    }
  }

  auto dir = TempDir::Create("sshbench");
  if (!dir.ok()) return 1;
  auto keys = MakeBenchKeys(*dir);
  if (!keys.ok()) {
    std::cerr << keys.status() << "\n";
    return 1;
  }
  const KeyPair* user = &keys->user;
  const KeyPair* host = &keys->host;

  // sshd as the harness runs it, with logging that does not cost per packet.
  SshdFixture::Options options;
  options.config["Ciphers"] = absl::StrJoin(ciphers, ",");
  options.config["LogLevel"] = "ERROR";
  auto sshd = StartBenchSshd(options, *keys);
  if (!sshd.ok()) {
    std::cerr << sshd.status() << "\n";
    return 1;
  }
  const pid_t sshd_pid = sshd->pid;

  auto ours = StartExampleServer(*dir, *keys);
  if (!ours.ok()) {
    std::cerr << ours.status() << "\n";
    return 1;
  }
  if (!WriteFile(dir->File("known_hosts"),
                 absl::StrCat("[127.0.0.1]:", (*ours)->port(), " ",
                              host->public_line, "\n"))
           .ok())
    return 1;

  const Target targets[] = {
      {"example_server", (*ours)->port(), dir->File("known_hosts"),
       (*ours)->process().pid()},
      {"sshd", sshd->sshd->port(), sshd->sshd->known_hosts_path(), sshd_pid},
  };
  std::cout << absl::StrFormat(
      "ssh pulling %d MiB from each server over loopback; best MB/s and "
      "least CPU of %d run(s)\n",
      bytes >> 20, runs);
  std::cout << absl::StrFormat("%-31s %12s %12s %7s %14s %14s %15s\n", "cipher",
                               "ours MB/s", "sshd MB/s", "ratio",
                               "ours core-s/GB", "sshd core-s/GB",
                               "floor core-s/GB");
  for (const std::string& cipher : ciphers) {
    Result best[2];
    double floor = -1;
    for (int run = 0; run < runs; ++run) {
      for (int t = 0; t < 2; ++t) {
        Result r = Pull(targets[t], user->private_path, cipher, bytes);
        if (!r.ok) continue;
        // Best throughput and least CPU, each over the runs.
        const bool first = !best[t].ok;
        best[t].ok = true;
        best[t].mb_per_s = std::max(best[t].mb_per_s, r.mb_per_s);
        best[t].server_cpu_s =
            first ? r.server_cpu_s
                  : std::min(best[t].server_cpu_s, r.server_cpu_s);
      }
      const double f = FloorCoreSecondsPerGb(cipher, bytes);
      if (f >= 0 && (floor < 0 || f < floor)) floor = f;
    }
    const double gb = static_cast<double>(bytes) / 1e9;
    std::cout << absl::StrFormat(
        "%-31s %12.1f %12.1f %6.2fx %14.3f %14.3f %15.3f\n", cipher,
        best[0].mb_per_s, best[1].mb_per_s,
        best[1].mb_per_s > 0 ? best[0].mb_per_s / best[1].mb_per_s : 0.0,
        best[0].server_cpu_s / gb, best[1].server_cpu_s / gb, floor);
  }
  return 0;
}

}  // namespace
}  // namespace sallyport::testing

int main(int argc, char** argv) {
  sallyport::testing::PrintBuildMode();
  return sallyport::testing::Main(argc, argv);
}
