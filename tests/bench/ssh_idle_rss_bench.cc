// Memory per idle authenticated connection (DESIGN.md §11: ≤ 48 KiB), over
// the net driver: example_server with N idle connections, each logged in
// with a key and running `sleep` in a session channel (the shell that
// sleeps of issue 10). The clients are ClientSessions on SessionDrivers in
// this process, so the only server-side process measured is
// example_server itself (its children, the sleeps, are not counted).
//
// Reported: the server's VmRSS before the connections (after one warm-up
// connection) and with N idle connections, as a per-connection delta next
// to the goal; and, as a reference measured in
// the same run, OpenSSH sshd with M connections of the same kind: the PSS
// and RSS of its per-connection processes (privileged monitor +
// unprivileged child), per connection.
//
//   bazel run --config=opt //tests/bench:ssh_idle_rss_bench --
//       [--connections=1000] [--sshd_connections=50] [--concurrency=50]
#include <dirent.h>
#include <sys/resource.h>
#include <unistd.h>

#include <asio.hpp>
#include <cstdio>
#include <iostream>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "ssh/connection/messages.h"
#include "ssh/crypto/key_files.h"
#include "ssh/crypto/keys.h"
#include "ssh/net/listener.h"
#include "ssh/net/session_driver.h"
#include "ssh/net/spawn.h"
#include "ssh/session/session.h"
#include "ssh/transport/host_key.h"
#include "tests/bench/build_mode.h"
#include "tests/bench/ssh_bench_setup.h"
#include "tests/harness/listening_process.h"
#include "tests/harness/sshd_fixture.h"
#include "tests/harness/subprocess.h"
#include "tests/harness/temp_dir.h"

namespace sallyport::testing {
namespace {

using ssh::session::Channel;
using ssh::session::ClientSession;
using ssh::session::Session;

constexpr double kGoalKiB = 48;

// A "VmRSS"-style field of /proc/PID/status or smaps_rollup, in KiB
// (-1 if absent).
int64_t ProcField(pid_t pid, const std::string& file,
                  const std::string& field) {
  const std::string text =
      ReadFileOrEmpty(absl::StrCat("/proc/", pid, "/", file));
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    if (!absl::ConsumePrefix(&line, field + ":")) continue;
    int64_t kib = 0;
    line = absl::StripAsciiWhitespace(line);
    if (absl::ConsumeSuffix(&line, " kB") &&
        absl::SimpleAtoi(absl::StripAsciiWhitespace(line), &kib))
      return kib;
  }
  return -1;
}
int64_t RssKiB(pid_t pid) { return ProcField(pid, "status", "VmRSS"); }
int64_t PssKiB(pid_t pid) { return ProcField(pid, "smaps_rollup", "Pss"); }

// One idle client: logs in, opens a session channel, execs `command`,
// then stays idle. `ready` once the exec was accepted.
class IdleClient : public ssh::session::SessionHandler {
 public:
  explicit IdleClient(std::string command) : command_(std::move(command)) {}
  bool ready = false;
  bool ended = false;
  absl::Status end;
  std::unique_ptr<ssh::net::SessionDriver> driver;

  void OnAuthenticated(Session& s) override {
    if (!s.OpenChannel("session").ok()) s.Disconnect("cannot open");
  }
  void OnChannelOpenResult(Channel c,
                           const ssh::connection::OpenResult& r) override {
    if (!r.ok()) {
      c.session()->Disconnect("channel refused");
      return;
    }
    (void)c.SendRequest("exec", true,
                        ssh::connection::SerializeStringRequest(command_));
  }
  void OnChannelRequestReply(Channel c, bool ok) override {
    if (ok) {
      ready = true;
    } else {
      c.session()->Disconnect("exec refused");
    }
  }
  void OnData(Channel c, uint32_t, ssh::wire::Bytes data) override {
    c.Consume(data.size());
  }
  void OnEnd(Session&, const absl::Status& why) override {
    ended = true;
    end = why;
  }
  bool counted = false;  // left the logins in flight

 private:
  std::string command_;
};

struct Setup {
  ssh::crypto::PrivateKey user_key;
  ssh::crypto::PublicKey host_key;
  std::string user;
};

// Connects `n` idle clients to 127.0.0.1:port, at most `concurrency`
// logins in flight; returns them once all are ready (or failed).
std::vector<std::unique_ptr<IdleClient>> Connect(asio::io_context& io,
                                                 const Setup& setup,
                                                 uint16_t port, int n,
                                                 int concurrency) {
  std::vector<std::unique_ptr<IdleClient>> clients;
  int started = 0, in_flight = 0, failed = 0;
  std::function<void()> start_more;
  start_more = [&] {
    while (started < n && in_flight < concurrency) {
      ++started;
      ++in_flight;
      clients.push_back(std::make_unique<IdleClient>("sleep 3600"));
      IdleClient* client = clients.back().get();
      ssh::net::Spawn(
          io.get_executor(),
          [&, client]() -> asio::awaitable<void> {
            auto socket = co_await ssh::net::Dial(
                io.get_executor(), "127.0.0.1", port, absl::Seconds(30));
            if (!socket.ok()) {
              ++failed;
              --in_flight;
              client->ended = true;
              client->end = socket.status();
              start_more();
              co_return;
            }
            ssh::session::ClientSessionOptions o;
            o.transport.host_key_policy =
                std::make_shared<ssh::transport::PinnedHostKeyPolicy>(
                    std::vector<ssh::crypto::PublicKey>{setup.host_key});
            o.auth.user = setup.user;
            o.auth.identities.push_back({setup.user_key, {}});
            auto session = ClientSession::Create(std::move(o), *client);
            auto driver = ssh::net::SessionDriver::Create(std::move(*socket),
                                                          std::move(*session));
            client->driver = std::move(*driver);
            client->driver->set_on_progress([&, client] {
              if (client->ready && !client->counted) {
                client->counted = true;
                --in_flight;
                start_more();
              }
            });
            absl::Status end = co_await client->driver->Run();
            if (!client->counted) {
              client->counted = true;
              ++failed;
              --in_flight;
              start_more();
            }
            (void)end;
          },
          "idle client");
    }
  };
  start_more();
  const absl::Time limit = absl::Now() + absl::Minutes(5);
  while (absl::Now() < limit) {
    io.run_for(std::chrono::milliseconds(20));
    int ready = 0, ended = 0;
    for (const auto& c : clients) {
      ready += c->ready && !c->ended;
      ended += c->ended;
    }
    if (started == n && ready + ended == n && in_flight == 0) break;
  }
  int ok = 0;
  absl::Status first_error;
  for (const auto& c : clients) {
    if (c->ready && !c->ended) ++ok;
    if (c->ended && first_error.ok()) first_error = c->end;
  }
  if (ok != n) {
    std::cerr << "only " << ok << " of " << n
              << " connections are idle and ready; first error: " << first_error
              << "\n";
  }
  return clients;
}

// Lets the connections settle: the driver releases large buffers
// (shrink_delay, 1 s) after the login burst.
void Idle(asio::io_context& io, absl::Duration d) {
  const absl::Time until = absl::Now() + d;
  while (absl::Now() < until) io.run_for(std::chrono::milliseconds(50));
}

void Close(asio::io_context& io,
           std::vector<std::unique_ptr<IdleClient>>& clients) {
  for (auto& c : clients) {
    if (c->driver != nullptr && !c->ended)
      c->driver->session().Disconnect("bye");
  }
  Idle(io, absl::Seconds(2));
  for (auto& c : clients) {
    if (c->driver != nullptr && !c->ended) c->driver->driver().Abort();
  }
  Idle(io, absl::Milliseconds(200));
  clients.clear();
}

// The sshd processes serving connections: descendants of the listener
// named "sshd..." (its children and their sshd children; the commands
// they run are not counted).
std::vector<pid_t> SshdConnectionProcesses(pid_t listener) {
  std::map<pid_t, pid_t> parent;
  std::map<pid_t, std::string> name;
  std::vector<std::string> entries;
  if (DIR* d = opendir("/proc")) {
    while (const dirent* e = readdir(d)) entries.emplace_back(e->d_name);
    closedir(d);
  }
  for (const std::string& entry : entries) {
    int pid = 0;
    if (!absl::SimpleAtoi(entry, &pid)) continue;
    const std::string stat =
        ReadFileOrEmpty(absl::StrCat("/proc/", pid, "/stat"));
    const size_t open = stat.find('('), close = stat.rfind(')');
    if (open == std::string::npos || close == std::string::npos) continue;
    std::vector<std::string> f =
        absl::StrSplit(stat.substr(close + 2), ' ', absl::SkipEmpty());
    int ppid = 0;
    if (f.size() < 2 || !absl::SimpleAtoi(f[1], &ppid)) continue;
    parent[pid] = ppid;
    name[pid] = stat.substr(open + 1, close - open - 1);
  }
  std::vector<pid_t> result;
  for (const auto& [pid, ppid] : parent) {
    if (name[pid].rfind("sshd", 0) != 0) continue;
    // An sshd whose ancestry reaches the listener through sshd processes.
    pid_t p = ppid;
    while (p > 1 && p != listener && name[p].rfind("sshd", 0) == 0)
      p = parent.count(p) ? parent[p] : 0;
    if (p == listener) result.push_back(pid);
  }
  return result;
}

int Main(int argc, char** argv) {
  int n = 1000;          // idle connections to example_server
  int m = 50;            // to sshd, for the reference (0: skip)
  int concurrency = 50;  // logins in flight at once
  for (int i = 1; i < argc; ++i) {
    absl::string_view arg = argv[i];
    int* target = nullptr;
    if (absl::ConsumePrefix(&arg, "--connections=")) target = &n;
    if (absl::ConsumePrefix(&arg, "--sshd_connections=")) target = &m;
    if (absl::ConsumePrefix(&arg, "--concurrency=")) target = &concurrency;
    if (target == nullptr || !absl::SimpleAtoi(arg, target) || *target < 0) {
      std::fprintf(stderr,
                   "usage: %s [--connections=N] [--sshd_connections=M] "
                   "[--concurrency=C]\n",
                   argv[0]);
      return 2;
    }
  }
  if (n < 1 || concurrency < 1) return 2;

  // Descriptors: a socket per connection here, a socket and three pipes
  // per connection in the server (it inherits the limit).
  rlimit limit;
  if (getrlimit(RLIMIT_NOFILE, &limit) == 0) {
    limit.rlim_cur = limit.rlim_max;
    setrlimit(RLIMIT_NOFILE, &limit);
  }
  if (limit.rlim_cur < static_cast<rlim_t>(5 * n + 100)) {
    std::cerr << "RLIMIT_NOFILE " << limit.rlim_cur << " is too low for " << n
              << " connections\n";
    return 1;
  }

  auto dir = TempDir::Create("idlerss");
  if (!dir.ok()) return 1;
  auto keys = MakeBenchKeys(*dir);
  if (!keys.ok()) {
    std::cerr << keys.status() << "\n";
    return 1;
  }
  auto user_key = ssh::crypto::PrivateKey::LoadFile(keys->user.private_path);
  auto host_keys = ssh::crypto::LoadPublicKeys(keys->host.public_path);
  if (!user_key.ok() || !host_keys.ok()) {
    std::cerr << "cannot load the keys\n";
    return 1;
  }
  Setup setup{*user_key, (*host_keys)[0], CurrentUserName()};

  const std::string cap = absl::StrCat(n + 100);
  auto ours = StartExampleServer(
      *dir, *keys, {"--max-startups", cap, "--max-unauthenticated", cap});
  if (!ours.ok()) {
    std::cerr << ours.status() << "\n";
    return 1;
  }
  const pid_t server = (*ours)->process().pid();

  asio::io_context io(1);
  // run_for() between phases must not find the context stopped.
  auto work = asio::make_work_guard(io);
  {  // warm-up: one connection in and out
    auto warm = Connect(io, setup, (*ours)->port(), 1, 1);
    Idle(io, absl::Milliseconds(200));
    Close(io, warm);
    Idle(io, absl::Seconds(1));
  }
  const int64_t before = RssKiB(server);

  auto clients = Connect(io, setup, (*ours)->port(), n, concurrency);
  Idle(io, absl::Seconds(3));
  int idle = 0;
  for (const auto& c : clients) idle += c->ready && !c->ended;
  const int64_t after = RssKiB(server);
  const int64_t after_pss = PssKiB(server);

  std::cout << absl::StrFormat(
      "example_server: %d idle authenticated connections, each running "
      "`sleep` in a session channel\n",
      idle);
  std::cout << absl::StrFormat(
      "  server VmRSS %lld KiB before, %lld KiB after (Pss %lld KiB)\n",
      static_cast<long long>(before), static_cast<long long>(after),
      static_cast<long long>(after_pss));
  const double per = idle > 0 ? static_cast<double>(after - before) / idle : 0;
  std::cout << absl::StrFormat(
      "  per idle connection: %.1f KiB   (goal <= %.0f KiB, DESIGN.md §11)\n",
      per, kGoalKiB);
  Close(io, clients);

  if (m > 0) {
    SshdFixture::Options options;
    options.config["LogLevel"] = "ERROR";
    options.config["MaxStartups"] = absl::StrCat(m + 10);
    options.config["MaxSessions"] = "10";
    auto sshd = StartBenchSshd(options, *keys);
    if (!sshd.ok()) {
      std::cerr << sshd.status() << "\n";
      return 1;
    }
    auto sshd_host = ssh::crypto::ParsePublicKeys(sshd->sshd->host_public_key(),
                                                  "sshd host key");
    if (!sshd_host.ok() || sshd_host->empty()) {
      std::cerr << "sshd host key: " << sshd_host.status() << "\n";
      return 1;
    }
    Setup sshd_setup{*user_key, (*sshd_host)[0], CurrentUserName()};
    auto sshd_clients =
        Connect(io, sshd_setup, sshd->sshd->port(), m, std::min(m, 10));
    Idle(io, absl::Seconds(2));
    int sshd_idle = 0;
    for (const auto& c : sshd_clients) sshd_idle += c->ready && !c->ended;
    int64_t rss = 0, pss = 0;
    const std::vector<pid_t> procs = SshdConnectionProcesses(sshd->pid);
    for (pid_t p : procs) {
      rss += std::max<int64_t>(0, RssKiB(p));
      pss += std::max<int64_t>(0, PssKiB(p));
    }
    std::cout << absl::StrFormat(
        "reference, OpenSSH sshd: %d idle connections of the same kind, %zu "
        "sshd processes serving them\n",
        sshd_idle, procs.size());
    if (sshd_idle > 0) {
      std::cout << absl::StrFormat(
          "  per idle connection: %.1f KiB PSS, %.1f KiB RSS (processes "
          "summed)\n",
          static_cast<double>(pss) / sshd_idle,
          static_cast<double>(rss) / sshd_idle);
    }
    Close(io, sshd_clients);
  }
  return 0;
}

}  // namespace
}  // namespace sallyport::testing

int main(int argc, char** argv) {
  sallyport::testing::PrintBuildMode();
  return sallyport::testing::Main(argc, argv);
}
