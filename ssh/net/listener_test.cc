// Listener admission rules, login grace, accept-error backoff, Dial, the
// multi-thread runtime and Spawn, over real loopback sockets.
#include "ssh/net/listener.h"

#include <fcntl.h>
#include <sys/resource.h>
#include <unistd.h>

#include <asio/experimental/as_tuple.hpp>
#include <atomic>
#include <chrono>
#include <set>
#include <stdexcept>
#include <thread>

#include "absl/strings/match.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "gtest/gtest.h"
#include "ssh/net/io_threads.h"
#include "ssh/net/spawn.h"
#include "ssh/net/test_peer.h"
#include "tests/harness/wall_clock_step.h"

// GCC 12 at -O1 (the ASan config) reports a false
// -Wmismatched-new-delete for the frames of Asio coroutines (as in
// gateway/jump_inner.cc).
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
#endif

namespace sallyport::ssh::net {
namespace {

constexpr auto kUseTuple = asio::experimental::as_tuple(asio::use_awaitable);
const asio::ip::tcp::endpoint kLoopback(asio::ip::make_address("127.0.0.1"), 0);

// Holds every admitted connection's slot until the test releases them.
struct Held {
  std::vector<std::shared_ptr<PreAuthSlot>> slots;
  std::vector<std::shared_ptr<asio::ip::tcp::socket>> sockets;
};

Listener::Handler HoldingHandler(Held* held) {
  return [held](asio::ip::tcp::socket socket,
                std::shared_ptr<PreAuthSlot> slot) -> asio::awaitable<void> {
    held->slots.push_back(std::move(slot));
    held->sockets.push_back(
        std::make_shared<asio::ip::tcp::socket>(std::move(socket)));
    co_return;
  };
}

void RunFor(asio::io_context& io, int ms) {
  io.restart();
  io.run_for(std::chrono::milliseconds(ms));
}

// Runs `io` until `done()` holds or `max_ms` have passed (a loaded machine
// may need far longer than the usual few hundred milliseconds).
template <typename Done>
void RunUntil(asio::io_context& io, Done done, int max_ms = 30'000) {
  const auto deadline =
      std::chrono::steady_clock::now() + std::chrono::milliseconds(max_ms);
  while (!done() && std::chrono::steady_clock::now() < deadline) {
    RunFor(io, 50);
  }
}

// Connects `n` clients; returns them.
std::vector<asio::ip::tcp::socket> ConnectClients(
    asio::io_context& io, const asio::ip::tcp::endpoint& to, int n) {
  std::vector<asio::ip::tcp::socket> clients;
  for (int i = 0; i < n; ++i) {
    clients.emplace_back(io);
    clients.back().connect(to);
  }
  return clients;
}

// Whether the server closed this client's connection (EOF/reset).
bool ClosedByServer(asio::ip::tcp::socket& s) {
  s.non_blocking(true);
  uint8_t b;
  asio::error_code ec;
  s.read_some(asio::buffer(&b, 1), ec);
  return ec && ec != asio::error::would_block;
}

int CountClosed(std::vector<asio::ip::tcp::socket>& clients) {
  int closed = 0;
  for (auto& c : clients) closed += ClosedByServer(c) ? 1 : 0;
  return closed;
}

TEST(MaxStartupsTest, ParseAndDropProbability) {
  auto m = MaxStartups::Parse("10:30:100");
  ASSERT_TRUE(m.ok());
  EXPECT_EQ(m->DropProbability(9), 0);
  EXPECT_DOUBLE_EQ(m->DropProbability(10), 0.3);
  EXPECT_DOUBLE_EQ(m->DropProbability(55), 0.65);
  EXPECT_EQ(m->DropProbability(100), 1);
  auto n = MaxStartups::Parse("5");
  ASSERT_TRUE(n.ok());
  EXPECT_EQ(n->DropProbability(4), 0);
  EXPECT_EQ(n->DropProbability(5), 1);
  EXPECT_FALSE(MaxStartups::Parse("10:30").ok());
  EXPECT_FALSE(MaxStartups::Parse("10:130:100").ok());
  EXPECT_FALSE(MaxStartups::Parse("100:30:10").ok());
  EXPECT_FALSE(MaxStartups::Parse("0").ok());
}

TEST(ListenerTest, FullMaxStartupsDropsUntilOneAuthenticates) {
  asio::io_context io;
  Held held;
  ListenerOptions o;
  o.max_startups = *MaxStartups::Parse("3");
  auto listener = Listener::Create(io.get_executor(), kLoopback, o, nullptr,
                                   HoldingHandler(&held));
  ASSERT_TRUE(listener.ok());
  (*listener)->Start();
  auto clients = ConnectClients(io, (*listener)->local_endpoint(), 5);
  RunFor(io, 200);
  EXPECT_EQ((*listener)->accepted(), 3u);
  EXPECT_EQ((*listener)->dropped(), 2u);
  EXPECT_EQ(CountClosed(clients), 2);
  EXPECT_EQ((*listener)->budget()->unauthenticated(), 3);

  held.slots[0]->Authenticated();  // leaves the pre-auth count
  EXPECT_EQ((*listener)->budget()->unauthenticated(), 2);
  auto more = ConnectClients(io, (*listener)->local_endpoint(), 1);
  RunFor(io, 200);
  EXPECT_EQ((*listener)->accepted(), 4u);
  EXPECT_EQ(CountClosed(more), 0);

  held.slots.clear();  // the connections ended
  EXPECT_EQ((*listener)->budget()->unauthenticated(), 0);
}

TEST(ListenerTest, CapOnUnauthenticatedConnections) {
  asio::io_context io;
  Held held;
  ListenerOptions o;
  o.max_startups = *MaxStartups::Parse("100:30:200");
  o.max_unauthenticated = 2;
  auto listener = Listener::Create(io.get_executor(), kLoopback, o, nullptr,
                                   HoldingHandler(&held));
  ASSERT_TRUE(listener.ok());
  (*listener)->Start();
  auto clients = ConnectClients(io, (*listener)->local_endpoint(), 4);
  RunFor(io, 200);
  EXPECT_EQ((*listener)->accepted(), 2u);
  EXPECT_EQ((*listener)->dropped(), 2u);
  EXPECT_EQ(CountClosed(clients), 2);
}

TEST(ListenerTest, RandomEarlyDropBetweenStartAndFull) {
  asio::io_context io;
  Held held;
  ListenerOptions o;
  o.max_startups = *MaxStartups::Parse("1:50:100000");
  o.seed = 42;
  auto listener = Listener::Create(io.get_executor(), kLoopback, o, nullptr,
                                   HoldingHandler(&held));
  ASSERT_TRUE(listener.ok());
  (*listener)->Start();
  auto first = ConnectClients(io, (*listener)->local_endpoint(), 1);
  RunFor(io, 100);
  ASSERT_EQ((*listener)->accepted(), 1u);  // below start: always admitted
  auto clients = ConnectClients(io, (*listener)->local_endpoint(), 200);
  RunUntil(io, [&] {
    return (*listener)->accepted() + (*listener)->dropped() >= 201u;
  });
  EXPECT_EQ((*listener)->accepted() + (*listener)->dropped(), 201u);
  EXPECT_GT((*listener)->dropped(), 60u);  // ~50 %
  EXPECT_LT((*listener)->dropped(), 140u);
}

TEST(ListenerTest, LoginGraceEndsASilentConnection) {
  asio::io_context io;
  ListenerOptions o;
  o.login_grace_time = absl::Milliseconds(300);
  absl::Status end;
  absl::Time ended;
  auto listener = Listener::Create(
      io.get_executor(), kLoopback, o, nullptr,
      [&](asio::ip::tcp::socket socket,
          std::shared_ptr<PreAuthSlot> slot) -> asio::awaitable<void> {
        TransportDriver driver(std::move(socket), testing::ServerTransport());
        slot->Attach(&driver);
        testing::MinimalServer handler(true);
        end = co_await driver.Run(handler);
        ended = absl::Now();
        slot->Attach(nullptr);
      });
  ASSERT_TRUE(listener.ok());
  (*listener)->Start();
  const absl::Time start = absl::Now();
  auto clients = ConnectClients(io, (*listener)->local_endpoint(), 1);
  RunFor(io, 2000);
  EXPECT_EQ(end.code(), absl::StatusCode::kDeadlineExceeded) << end;
  EXPECT_NE(end.message().find("login grace"), std::string::npos) << end;
  EXPECT_LT(ended - start, absl::Seconds(1));
  EXPECT_EQ((*listener)->budget()->unauthenticated(), 0);
}

// The login grace is measured on the steady clock: with the wall clock set
// back an hour (NTP after a VM resume, `date -s`) a client that never
// authenticates kept its connection and its place among the
// unauthenticated ones (max startups) for that hour.
TEST(ListenerTest, LoginGraceEndsOnTimeWhenTheClockStepsBack) {
  if (!sallyport::testing::InChildUnderFakeWallClock()) return;
  // Longer than the step takes to show (SetWallClockInChild).
  constexpr absl::Duration kGrace = absl::Seconds(10);
  asio::io_context io;
  ListenerOptions o;
  o.login_grace_time = kGrace;
  absl::Status end;
  std::atomic<bool> ended{false};
  auto listener = Listener::Create(
      io.get_executor(), kLoopback, o, nullptr,
      [&](asio::ip::tcp::socket socket,
          std::shared_ptr<PreAuthSlot> slot) -> asio::awaitable<void> {
        // Only the slot's deadline can end it in time.
        TransportDriver driver(std::move(socket),
                               testing::ServerTransport(absl::Hours(2)));
        slot->Attach(&driver);
        testing::MinimalServer handler(true);
        end = co_await driver.Run(handler);
        slot->Attach(nullptr);
        ended = true;
      });
  ASSERT_TRUE(listener.ok());
  (*listener)->Start();
  auto work = asio::make_work_guard(io);
  std::thread runner([&] { io.run(); });
  const auto start = std::chrono::steady_clock::now();
  asio::io_context client_io;
  asio::ip::tcp::socket client(client_io);
  client.connect((*listener)->local_endpoint());  // and sends nothing
  const auto budget = (*listener)->budget();
  EXPECT_TRUE(sallyport::testing::WaitSteadily(
      [&] { return budget->unauthenticated() == 1; }, absl::Seconds(5)));
  sallyport::testing::SetWallClockInChild(-absl::Hours(1));
  EXPECT_TRUE(sallyport::testing::WaitSteadily([&] { return ended.load(); },
                                               absl::Seconds(30)))
      << "still connected " << sallyport::testing::SecondsSince(start)
      << " s in";
  const double took = sallyport::testing::SecondsSince(start);
  EXPECT_GE(took, absl::ToDoubleSeconds(kGrace) - 0.1);
  EXPECT_LT(took, absl::ToDoubleSeconds(kGrace) + 10);
  EXPECT_TRUE(sallyport::testing::WaitSteadily(
      [&] { return budget->unauthenticated() == 0; }, absl::Seconds(5)));
  work.reset();
  io.stop();
  runner.join();
  if (ended) {
    EXPECT_EQ(end.code(), absl::StatusCode::kDeadlineExceeded) << end;
    EXPECT_NE(end.message().find("login grace"), std::string::npos) << end;
  }
}

// Out of file descriptors: the accept loop backs off instead of spinning
// and logs at a limited rate; once descriptors are free it accepts again.
TEST(ListenerTest, AcceptBacksOffWhenOutOfDescriptors) {
  asio::io_context io;
  Held held;
  std::atomic<int> lines{0};
  ListenerOptions o;
  o.log = [&](std::string_view) { ++lines; };
  o.accept_backoff_initial = absl::Milliseconds(100);
  o.accept_backoff_max = absl::Milliseconds(400);
  o.log_interval = absl::Seconds(1);
  auto listener = Listener::Create(io.get_executor(), kLoopback, o, nullptr,
                                   HoldingHandler(&held));
  ASSERT_TRUE(listener.ok());
  (*listener)->Start();
  RunFor(io, 10);  // the loop is waiting in accept

  rlimit saved;
  ASSERT_EQ(getrlimit(RLIMIT_NOFILE, &saved), 0);
  auto clients = ConnectClients(io, (*listener)->local_endpoint(), 3);
  // Use up every descriptor below a lowered limit.
  rlimit low = saved;
  low.rlim_cur = 256;
  ASSERT_EQ(setrlimit(RLIMIT_NOFILE, &low), 0);
  std::vector<int> fillers;
  while (true) {
    int fd = ::open("/dev/null", O_RDONLY);
    if (fd < 0) break;
    fillers.push_back(fd);
  }
  RunFor(io, 2000);
  const uint64_t errors = (*listener)->accept_errors();
  const int logged = lines.load();
  for (int fd : fillers) ::close(fd);
  ASSERT_EQ(setrlimit(RLIMIT_NOFILE, &saved), 0);
  RunFor(io, 1000);

  EXPECT_GE(errors, 2u);
  // 100 + 200 + 400 + 400 + 400 + ... ms: at most ~7 attempts in 2 s.
  EXPECT_LE(errors, 10u) << "the accept loop spins";
  EXPECT_GE(logged, 1);
  EXPECT_LE(logged, 3) << "the accept error log is not rate-limited";
  EXPECT_EQ((*listener)->accepted(), 3u);  // recovered
}

TEST(DialTest, ResolvesLocalhostAndConnects) {
  asio::io_context io;
  asio::ip::tcp::acceptor acceptor(io, kLoopback);
  const uint16_t port = acceptor.local_endpoint().port();
  absl::StatusOr<asio::ip::tcp::socket> dialed = absl::UnknownError("not run");
  Spawn(
      io.get_executor(),
      [&]() -> asio::awaitable<void> {
        dialed = co_await Dial(io.get_executor(), "localhost", port,
                               absl::Seconds(5));
      },
      "dial");
  RunFor(io, 5000);
  ASSERT_TRUE(dialed.ok()) << dialed.status();
  EXPECT_EQ(dialed->remote_endpoint().port(), port);
}

TEST(DialTest, TimesOutAgainstAFullBacklog) {
  asio::io_context io;
  // A listener that never accepts, with its backlog full: further SYNs
  // are dropped and a connect hangs.
  asio::ip::tcp::acceptor acceptor(io);
  acceptor.open(asio::ip::tcp::v4());
  acceptor.bind(kLoopback);
  acceptor.listen(0);
  const auto to = acceptor.local_endpoint();
  std::vector<asio::ip::tcp::socket> fill;
  for (int i = 0; i < 4; ++i) {
    fill.emplace_back(io);
    fill.back().open(asio::ip::tcp::v4());
    fill.back().non_blocking(true);
    // Not asio's connect: it would wait for the handshake.
    (void)::connect(fill.back().native_handle(), to.data(), to.size());
  }
  absl::StatusOr<asio::ip::tcp::socket> dialed = absl::UnknownError("not run");
  absl::Time start = absl::Now(), end;
  Spawn(
      io.get_executor(),
      [&]() -> asio::awaitable<void> {
        dialed = co_await Dial(io.get_executor(), "127.0.0.1", to.port(),
                               absl::Milliseconds(300));
        end = absl::Now();
      },
      "dial");
  RunFor(io, 5000);
  EXPECT_EQ(dialed.status().code(), absl::StatusCode::kDeadlineExceeded)
      << dialed.status();
  EXPECT_LT(end - start, absl::Seconds(2));
}

TEST(DialTest, RefusedPortIsUnavailable) {
  asio::io_context io;
  uint16_t port;
  {
    asio::ip::tcp::acceptor a(io, kLoopback);
    port = a.local_endpoint().port();
  }
  absl::StatusOr<asio::ip::tcp::socket> dialed = absl::UnknownError("not run");
  Spawn(
      io.get_executor(),
      [&]() -> asio::awaitable<void> {
        dialed = co_await Dial(io.get_executor(), "127.0.0.1", port,
                               absl::Seconds(5));
      },
      "dial");
  RunFor(io, 5000);
  EXPECT_EQ(dialed.status().code(), absl::StatusCode::kUnavailable)
      << dialed.status();
}

// Dials 127.0.0.1:`port` from `local_addresses` (none: unbound).
absl::StatusOr<asio::ip::tcp::socket> DialLoopback(
    asio::io_context& io, uint16_t port,
    std::vector<asio::ip::address> local_addresses) {
  absl::StatusOr<asio::ip::tcp::socket> dialed = absl::UnknownError("not run");
  Spawn(
      io.get_executor(),
      [&]() -> asio::awaitable<void> {
        dialed = co_await Dial(io.get_executor(), "127.0.0.1", port,
                               absl::Seconds(5), std::move(local_addresses));
      },
      "dial");
  RunFor(io, 5000);  // returns once the dial is done
  return dialed;
}

TEST(DialTest, LeavesFromTheLocalAddressOfTheDestinationsFamily) {
  asio::io_context io;
  asio::ip::tcp::acceptor acceptor(io, kLoopback);
  const uint16_t port = acceptor.local_endpoint().port();
  // All of 127/8 is this machine's: 127.0.0.2 binds without setup. The
  // IPv6 address is skipped for an IPv4 destination.
  absl::StatusOr<asio::ip::tcp::socket> dialed = DialLoopback(
      io, port,
      {asio::ip::make_address("::1"), asio::ip::make_address("127.0.0.2"),
       asio::ip::make_address("127.0.0.3")});
  ASSERT_TRUE(dialed.ok()) << dialed.status();
  asio::ip::tcp::socket accepted = acceptor.accept();
  EXPECT_EQ(accepted.remote_endpoint().address().to_string(), "127.0.0.2");
  EXPECT_EQ(accepted.remote_endpoint(), dialed->local_endpoint());
  // Without local addresses, from the kernel's choice as before.
  dialed = DialLoopback(io, port, {});
  ASSERT_TRUE(dialed.ok()) << dialed.status();
  accepted = acceptor.accept();
  EXPECT_EQ(accepted.remote_endpoint().address().to_string(), "127.0.0.1");
}

TEST(DialTest, AnAddressThatCannotBeBoundIsRefusedBeforeConnecting) {
  asio::io_context io;
  asio::ip::tcp::acceptor acceptor(io, kLoopback);
  const uint16_t port = acceptor.local_endpoint().port();
  // TEST-NET-2: not an address of this machine, so bind fails.
  absl::StatusOr<asio::ip::tcp::socket> dialed =
      DialLoopback(io, port, {asio::ip::make_address("198.51.100.7")});
  EXPECT_EQ(dialed.status().code(), absl::StatusCode::kFailedPrecondition)
      << dialed.status();
  EXPECT_TRUE(absl::StrContains(dialed.status().message(),
                                "cannot bind egress address 198.51.100.7"))
      << dialed.status();
  // Nothing reached the destination.
  acceptor.non_blocking(true);
  asio::error_code ec;
  asio::ip::tcp::socket none = acceptor.accept(ec);
  EXPECT_EQ(ec, asio::error::would_block) << ec.message();
}

TEST(DialTest, NoLocalAddressOfTheDestinationsFamilyIsRefused) {
  asio::io_context io;
  asio::ip::tcp::acceptor acceptor(io, kLoopback);
  absl::StatusOr<asio::ip::tcp::socket> dialed = DialLoopback(
      io, acceptor.local_endpoint().port(), {asio::ip::make_address("::1")});
  EXPECT_EQ(dialed.status().code(), absl::StatusCode::kFailedPrecondition)
      << dialed.status();
  EXPECT_TRUE(absl::StrContains(dialed.status().message(),
                                "no egress address of the family of "
                                "127.0.0.1 (IPv4)"))
      << dialed.status();
}

TEST(ServerRuntimeTest, ListenersOnEveryThreadShareOnePort) {
  IoThreads threads(2);
  std::atomic<int> served{0};
  absl::Mutex mu;
  std::set<std::thread::id> thread_ids;
  auto runtime = ServerRuntime::Listen(
      threads, kLoopback, ListenerOptions{},
      [&](asio::ip::tcp::socket socket,
          std::shared_ptr<PreAuthSlot> slot) -> asio::awaitable<void> {
        {
          absl::MutexLock lock(&mu);
          thread_ids.insert(std::this_thread::get_id());
        }
        slot->Authenticated();
        ++served;  // before the client can see the reply
        const char hello[] = "hi";
        co_await asio::async_write(socket, asio::buffer(hello, 2), kUseTuple);
      });
  ASSERT_TRUE(runtime.ok()) << runtime.status();
  ASSERT_EQ((*runtime)->listeners().size(), 2u);
  threads.Start();
  asio::io_context io;
  for (int i = 0; i < 40; ++i) {
    asio::ip::tcp::socket s(io);
    s.connect((*runtime)->local_endpoint());
    char buf[2];
    asio::read(s, asio::buffer(buf, 2));
    EXPECT_EQ(std::string(buf, 2), "hi");
  }
  EXPECT_EQ(served.load(), 40);
  (*runtime)->Close();
  runtime->reset();
  threads.Stop();
  absl::MutexLock lock(&mu);
  EXPECT_EQ(thread_ids.size(), 2u);  // the kernel spread them
}

// Another process's listener with SO_REUSEPORT (another copy of the
// server, same user): the kernel would let a second one bind and share the
// port. A runtime refuses such a port unless it replaces its own.
TEST(ServerRuntimeTest, APortInUseIsRefusedUnlessItReplacesItsOwn) {
  asio::io_context io;
  asio::ip::tcp::acceptor other(io);
  other.open(asio::ip::tcp::v4());
  const int one = 1;
  ASSERT_EQ(::setsockopt(other.native_handle(), SOL_SOCKET, SO_REUSEPORT, &one,
                         sizeof one),
            0);
  other.bind(kLoopback);
  other.listen();
  const asio::ip::tcp::endpoint taken = other.local_endpoint();
  IoThreads threads(2);
  Held held;
  auto refused = ServerRuntime::Listen(threads, taken, ListenerOptions{},
                                       HoldingHandler(&held));
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_TRUE(absl::StrContains(refused.status().message(),
                                "cannot listen on 127.0.0.1:"))
      << refused.status();
  EXPECT_TRUE(absl::StrContains(refused.status().message(), "in use"))
      << refused.status();
  other.close();
  // Free again: it listens; a replacement on the same port shares its
  // budget.
  auto first = ServerRuntime::Listen(threads, taken, ListenerOptions{},
                                     HoldingHandler(&held));
  ASSERT_TRUE(first.ok()) << first.status();
  const auto budget = (*first)->listeners().front()->budget();
  auto second = ServerRuntime::Listen(threads, taken, ListenerOptions{},
                                      HoldingHandler(&held), budget,
                                      ServerRuntime::PortUse::kReplacesOwn);
  ASSERT_TRUE(second.ok()) << second.status();
  for (const auto& l : (*second)->listeners()) EXPECT_EQ(l->budget(), budget);
  EXPECT_FALSE(ServerRuntime::Listen(threads, taken, ListenerOptions{},
                                     HoldingHandler(&held))
                   .ok());
}

TEST(SpawnTest, LogsErrorsAndExceptionsThatEscape) {
  std::vector<std::string> lines;
  SetNetLogSink([&](std::string_view l) { lines.emplace_back(l); });
  asio::io_context io;
  Spawn(
      io.get_executor(),
      []() -> asio::awaitable<absl::Status> {
        co_return absl::InternalError("it broke");
      },
      "status task");
  Spawn(
      io.get_executor(),
      []() -> asio::awaitable<void> {
        throw std::runtime_error("thrown");
        co_return;
      },
      "throwing task");
  Spawn(
      io.get_executor(),
      []() -> asio::awaitable<absl::Status> { co_return absl::OkStatus(); },
      "quiet task");
  io.run();
  SetNetLogSink(nullptr);
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_EQ(lines[0], "status task: INTERNAL: it broke");
  EXPECT_EQ(lines[1], "throwing task: exception: thrown");
}

}  // namespace
}  // namespace sallyport::ssh::net
