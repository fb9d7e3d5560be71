// Failing over between several CA addresses (base/address_list), over
// real gRPC servers on loopback: a dead first address, a silent one, an
// instance that goes away between calls, and none answering.
#include <grpcpp/grpcpp.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "base/address_list.h"
#include "gtest/gtest.h"
#include "proto/ca.grpc.pb.h"
#include "tests/harness/net_util.h"

namespace sallyport::base {
namespace {

namespace v1 = ::sallyport::ca::v1;

// One "CA instance": answers GetCaPublicKeys with its own name.
class FakeCa final : public v1::CertificateAuthority::Service {
 public:
  explicit FakeCa(std::string name) : name_(std::move(name)) {}
  grpc::Status GetCaPublicKeys(grpc::ServerContext*,
                               const v1::GetCaPublicKeysRequest*,
                               v1::CaPublicKeys* out) override {
    out->add_user_ca()->set_public_key(name_);
    ++calls;
    return grpc::Status::OK;
  }
  std::atomic<int> calls{0};

 private:
  std::string name_;
};

struct Instance {
  std::unique_ptr<FakeCa> service;
  std::unique_ptr<grpc::Server> server;
  uint16_t port = 0;
};

Instance Start(const std::string& name) {
  Instance i;
  i.service = std::make_unique<FakeCa>(name);
  grpc::ServerBuilder b;
  int port = 0;
  b.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port);
  b.RegisterService(i.service.get());
  i.server = b.BuildAndStart();
  i.port = static_cast<uint16_t>(port);
  return i;
}

uint16_t DeadPort() {
  absl::StatusOr<uint16_t> p = testing::FreeLoopbackPort();
  EXPECT_TRUE(p.ok());
  return p.ok() ? *p : 1;
}

HostPort Loopback(uint16_t port) { return HostPort{"127.0.0.1", port}; }

// A TCP socket listening on a free loopback port (its port in *port), or
// -1; the caller accepts (or not) and closes it.
int ListenOnLoopback(uint16_t* port) {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return -1;
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof(sa);
  if (bind(fd, reinterpret_cast<sockaddr*>(&sa), sizeof(sa)) != 0 ||
      listen(fd, 16) != 0 ||
      getsockname(fd, reinterpret_cast<sockaddr*>(&sa), &len) != 0) {
    close(fd);
    return -1;
  }
  *port = ntohs(sa.sin_port);
  return fd;
}

std::shared_ptr<grpc::Channel> Channel(const std::vector<HostPort>& list) {
  absl::StatusOr<std::shared_ptr<grpc::Channel>> ch = FailoverChannel(
      list, grpc::InsecureChannelCredentials(), grpc::ChannelArguments());
  EXPECT_TRUE(ch.ok()) << ch.status();
  return ch.ok() ? *ch : nullptr;
}

// The name of the instance that answered, or the failed status.
grpc::Status Ask(const std::shared_ptr<grpc::Channel>& channel,
                 std::string* who,
                 absl::Duration deadline = absl::Seconds(30)) {
  auto stub = v1::CertificateAuthority::NewStub(channel);
  grpc::ClientContext ctx;
  ctx.set_deadline(absl::ToChronoTime(absl::Now() + deadline));
  v1::CaPublicKeys keys;
  grpc::Status st = stub->GetCaPublicKeys(&ctx, {}, &keys);
  if (st.ok() && keys.user_ca_size() == 1) *who = keys.user_ca(0).public_key();
  return st;
}

TEST(ParseAddressList, OneOrSeveralWithDefaultPorts) {
  auto one = ParseAddressList("ca.example", 7443);
  ASSERT_TRUE(one.ok()) << one.status();
  ASSERT_EQ(one->size(), 1u);
  EXPECT_EQ(FormatHostPort((*one)[0]), "ca.example:7443");

  auto list = ParseAddressList("a:1, b , [::1]:3,[fe80::2]", 7443);
  ASSERT_TRUE(list.ok()) << list.status();
  EXPECT_EQ(FormatAddressList(*list), "a:1, b:7443, [::1]:3, [fe80::2]:7443");
}

TEST(ParseAddressList, RefusesBadLists) {
  for (const char* bad : {"", "a,", ",a", "a,,b", "a:0", "a:70000", "::1",
                          "a:1,a:1", "a,a:7443", "[::1"}) {
    EXPECT_FALSE(ParseAddressList(bad, 7443).ok()) << bad;
  }
  // Without a default port the port is required.
  EXPECT_FALSE(ParseAddressList("a:1,b", 0).ok());
  EXPECT_TRUE(ParseAddressList("a:1,b:2", 0).ok());
}

TEST(ParseAddressList, AtMostKMaxAddresses) {
  std::vector<std::string> parts;
  for (size_t i = 0; i < kMaxAddresses; ++i) {
    parts.push_back(absl::StrCat("h", i, ":1"));
  }
  std::string at_limit = absl::StrJoin(parts, ",");
  EXPECT_TRUE(ParseAddressList(at_limit, 0).ok());
  auto over = ParseAddressList(absl::StrCat(at_limit, ",h99:1"), 0);
  ASSERT_FALSE(over.ok());
  EXPECT_TRUE(absl::StrContains(over.status().message(), "more than 16"));
}

TEST(FailoverTarget, OneAddressKeepsTheUsualTarget) {
  auto t = FailoverTarget({HostPort{"ca.example", 7443}});
  ASSERT_TRUE(t.ok());
  EXPECT_EQ(*t, "ca.example:7443");
}

TEST(FailoverTarget, SeveralBecomeOneStaticListInOrder) {
  auto v4 = FailoverTarget({Loopback(2), HostPort{"127.0.0.3", 1}});
  ASSERT_TRUE(v4.ok()) << v4.status();
  EXPECT_EQ(*v4, "ipv4:127.0.0.1:2,127.0.0.3:1");
  auto mixed = FailoverTarget({Loopback(2), HostPort{"::1", 3}});
  ASSERT_TRUE(mixed.ok()) << mixed.status();
  EXPECT_EQ(*mixed, "ipv6:[::ffff:127.0.0.1]:2,[::1]:3");
  auto none = FailoverTarget(
      {HostPort{"no-such-host.invalid", 1}, HostPort{"nor-this.invalid", 2}});
  ASSERT_FALSE(none.ok());
  EXPECT_TRUE(
      absl::StrContains(none.status().message(), "no-such-host.invalid:1"));
  EXPECT_TRUE(absl::StrContains(none.status().message(), "nor-this.invalid:2"));
}

TEST(Failover, FirstAddressDeadSecondUsed) {
  Instance second = Start("second");
  std::string who;
  grpc::Status st =
      Ask(Channel({Loopback(DeadPort()), Loopback(second.port)}), &who);
  ASSERT_TRUE(st.ok()) << st.error_message();
  EXPECT_EQ(who, "second");
  EXPECT_EQ(second.service->calls, 1);
}

TEST(Failover, FirstInstanceWhileItIsUp) {
  Instance first = Start("first");
  Instance second = Start("second");
  std::string who;
  ASSERT_TRUE(
      Ask(Channel({Loopback(first.port), Loopback(second.port)}), &who).ok());
  EXPECT_EQ(who, "first");
  EXPECT_EQ(second.service->calls, 0);
}

TEST(Failover, InstanceGoneBetweenCallsNextCallUsesTheOther) {
  Instance first = Start("first");
  Instance second = Start("second");
  auto channel = Channel({Loopback(first.port), Loopback(second.port)});
  std::string who;
  ASSERT_TRUE(Ask(channel, &who).ok());
  EXPECT_EQ(who, "first");
  first.server->Shutdown(absl::ToChronoTime(absl::Now()));
  first.server->Wait();
  // The channel notices the closed connection and connects to the other
  // address; no call fails for it (each may wait for the reconnect).
  for (int i = 0; i < 3; ++i) {
    grpc::Status st = Ask(channel, &who);
    ASSERT_TRUE(st.ok()) << i << ": " << st.error_message();
    EXPECT_EQ(who, "second");
  }
}

TEST(Failover, SilentFirstAddressGivesUpWithinTheConnectTimeout) {
  // Accepts TCP (the kernel's backlog) but never speaks: like a hung CA.
  uint16_t port = 0;
  const int fd = ListenOnLoopback(&port);
  ASSERT_GE(fd, 0);
  Instance second = Start("second");
  std::string who;
  const absl::Time start = absl::Now();
  grpc::Status st = Ask(Channel({Loopback(port), Loopback(second.port)}), &who);
  const absl::Duration took = absl::Now() - start;
  close(fd);
  ASSERT_TRUE(st.ok()) << st.error_message();
  EXPECT_EQ(who, "second");
  EXPECT_GE(took, kFailoverConnectTimeout - absl::Seconds(1));
}

// gRPC's own reconnect backoff grows to 120 s: after a long CA outage the
// gateway's channel would try the CA again only minutes after it returned
// (every call failing at once meanwhile). A channel of one address keeps
// trying at least every kFailoverMaxBackoff (with gRPC's 20 % jitter).
// The "CA" accepts TCP and hangs up at once, so each attempt is counted.
TEST(Failover, AFailingAddressIsTriedAgainWithinTheMaxBackoff) {
  uint16_t port = 0;
  const int fd = ListenOnLoopback(&port);
  ASSERT_GE(fd, 0);
  absl::Mutex mu;
  std::vector<absl::Time> attempts;
  std::thread acceptor([&] {
    for (;;) {
      const int c = accept(fd, nullptr, nullptr);
      if (c < 0) return;  // shut down
      close(c);
      absl::MutexLock lock(&mu);
      attempts.push_back(absl::Now());
    }
  });
  auto channel = Channel({Loopback(port)});
  // Long enough for gRPC's default backoff to reach a 26.8 s step
  // (1, 1.6, 2.56, ... x1.6: attempts near 0, 1, 2.6, 5.2, 9.3, 15.8,
  // 26.3, 43.1, 69.9 s).
  const absl::Duration watch = absl::Seconds(75);
  const absl::Time start = absl::Now();
  std::string who;
  while (absl::Now() - start < watch) {
    EXPECT_FALSE(Ask(channel, &who, absl::Milliseconds(500)).ok());
    absl::SleepFor(absl::Seconds(1));
  }
  const absl::Time end = absl::Now();
  shutdown(fd, SHUT_RDWR);
  close(fd);
  acceptor.join();
  absl::MutexLock lock(&mu);
  ASSERT_GE(attempts.size(), 5u);
  absl::Duration longest = end - attempts.back();
  for (size_t i = 1; i < attempts.size(); ++i) {
    longest = std::max(longest, attempts[i] - attempts[i - 1]);
  }
  EXPECT_LE(longest, kFailoverMaxBackoff * 1.2 + absl::Seconds(3))
      << attempts.size() << " attempts in " << watch;
}

TEST(Failover, AllDeadErrorNamesEveryAddress) {
  const std::vector<HostPort> list = {Loopback(DeadPort()),
                                      Loopback(DeadPort())};
  std::string who;
  grpc::Status st = Ask(Channel(list), &who);
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.error_code(), grpc::StatusCode::UNAVAILABLE)
      << st.error_message();
  const std::string message = UnreachableMessage("the CA", list, st);
  EXPECT_TRUE(absl::StrContains(message, FormatHostPort(list[0]))) << message;
  EXPECT_TRUE(absl::StrContains(message, FormatHostPort(list[1]))) << message;
  EXPECT_TRUE(absl::StartsWith(message, "cannot reach the CA at any of its 2"))
      << message;
  // Other failures keep their own message.
  EXPECT_EQ(UnreachableMessage(
                "the CA", list,
                grpc::Status(grpc::StatusCode::PERMISSION_DENIED, "no")),
            "no");
}

}  // namespace
}  // namespace sallyport::base
