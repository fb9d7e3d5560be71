// The CA's bound on the gateways' unary calls in progress
// (kMaxGatewayCallsPerGateway, kMaxGatewayCalls): held for real by a CA on
// PostgreSQL whose server is stopped (SIGSTOP), so that every call waits
// in the Store as it would while PostgreSQL stalls.
#include <dirent.h>
#include <grpcpp/grpcpp.h>
#include <signal.h>
#include <sys/types.h>

#include <fstream>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/synchronization/notification.h"
#include "ca/ca_service.h"
#include "ca/ca_test_env.h"
#include "ca/gateway_test_util.h"
#include "ca/server.h"
#include "gtest/gtest.h"
#include "proto/gateway.grpc.pb.h"
#include "tests/harness/postgres_fixture.h"

namespace sallyport::ca {
namespace {

namespace pb = gateway::v1;
using grpc::StatusCode;

// The processes of a PostgreSQL server (the postmaster and its children,
// the backends the CA's connections talk to) stopped with SIGSTOP while
// this lives: a query sent to them waits, as on a stalled server.
class StoppedPostgres {
 public:
  explicit StoppedPostgres(pid_t postmaster) {
    // The postmaster first: it forks no new backend meanwhile.
    Stop(postmaster);
    DIR* proc = opendir("/proc");
    if (proc == nullptr) return;
    while (dirent* entry = readdir(proc)) {
      pid_t pid = 0;
      if (absl::SimpleAtoi(entry->d_name, &pid) &&
          ParentOf(pid) == postmaster) {
        Stop(pid);
      }
    }
    closedir(proc);
  }
  ~StoppedPostgres() { Resume(); }
  void Resume() {
    for (pid_t pid : stopped_) kill(pid, SIGCONT);
    stopped_.clear();
  }
  size_t stopped() const { return stopped_.size(); }

 private:
  static pid_t ParentOf(pid_t pid) {
    std::ifstream in(absl::StrCat("/proc/", pid, "/stat"));
    std::string stat((std::istreambuf_iterator<char>(in)),
                     std::istreambuf_iterator<char>());
    // "pid (comm) state ppid ...": comm may hold spaces and parentheses.
    const size_t close = stat.rfind(')');
    if (close == std::string::npos) return 0;
    std::vector<std::string> fields =
        absl::StrSplit(stat.substr(close + 1), ' ', absl::SkipEmpty());
    pid_t parent = 0;
    if (fields.size() < 2 || !absl::SimpleAtoi(fields[1], &parent)) return 0;
    return parent;
  }
  void Stop(pid_t pid) {
    if (kill(pid, SIGSTOP) == 0) stopped_.push_back(pid);
  }
  std::vector<pid_t> stopped_;
};

// The gateway RPCs the bound covers.
enum class Rpc {
  kAuthorizeChannel,
  kIssueSessionCertificate,
  kIssueHostCertificateForTarget,
  kRecordGatewayEvents,
  kRenewGatewayIdentity,
  kRenewGatewayHostCertificate,
};
constexpr Rpc kEveryRpc[] = {
    Rpc::kAuthorizeChannel,
    Rpc::kIssueSessionCertificate,
    Rpc::kIssueHostCertificateForTarget,
    Rpc::kRecordGatewayEvents,
    Rpc::kRenewGatewayIdentity,
    Rpc::kRenewGatewayHostCertificate,
};

// One call in progress, with an empty request: the CA refuses it once it
// has read the Store, which is where it waits.
struct Call {
  grpc::ClientContext ctx;
  std::shared_ptr<void> keep;  // the stub, request and response
  absl::Notification done;
  grpc::Status status;
};

template <typename Request, typename Response, typename Send>
void Begin(Call& call, std::shared_ptr<void> stub, Send send) {
  auto messages = std::make_shared<std::pair<Request, Response>>();
  call.keep =
      std::make_shared<std::pair<std::shared_ptr<void>, std::shared_ptr<void>>>(
          std::move(stub), messages);
  send(&call.ctx, &messages->first, &messages->second,
       [&call](grpc::Status st) {
         call.status = std::move(st);
         call.done.Notify();
       });
}

std::unique_ptr<Call> Start(const std::shared_ptr<grpc::Channel>& channel,
                            Rpc rpc, absl::Duration deadline) {
  auto call = std::make_unique<Call>();
  call->ctx.set_deadline(absl::ToChronoTime(absl::Now() + deadline));
  std::shared_ptr<pb::Gateway::Stub> gateway = pb::Gateway::NewStub(channel);
  pb::Gateway::Stub* g = gateway.get();
  switch (rpc) {
    case Rpc::kAuthorizeChannel:
      Begin<pb::AuthorizeChannelRequest, pb::AuthorizeChannelResponse>(
          *call, gateway,
          [g](auto... a) { g->async()->AuthorizeChannel(a...); });
      break;
    case Rpc::kIssueSessionCertificate:
      Begin<pb::IssueSessionCertificateRequest,
            pb::IssueSessionCertificateResponse>(
          *call, gateway,
          [g](auto... a) { g->async()->IssueSessionCertificate(a...); });
      break;
    case Rpc::kIssueHostCertificateForTarget:
      Begin<pb::IssueHostCertificateForTargetRequest,
            pb::IssueHostCertificateForTargetResponse>(
          *call, gateway,
          [g](auto... a) { g->async()->IssueHostCertificateForTarget(a...); });
      break;
    case Rpc::kRenewGatewayIdentity:
      Begin<pb::RenewGatewayIdentityRequest, pb::RenewGatewayIdentityResponse>(
          *call, gateway,
          [g](auto... a) { g->async()->RenewGatewayIdentity(a...); });
      break;
    case Rpc::kRenewGatewayHostCertificate:
      Begin<pb::RenewGatewayHostCertificateRequest,
            pb::RenewGatewayHostCertificateResponse>(
          *call, gateway,
          [g](auto... a) { g->async()->RenewGatewayHostCertificate(a...); });
      break;
    case Rpc::kRecordGatewayEvents: {
      std::shared_ptr<pb::GatewayEvents::Stub> events =
          pb::GatewayEvents::NewStub(channel);
      pb::GatewayEvents::Stub* e = events.get();
      Begin<pb::RecordGatewayEventsRequest, pb::RecordGatewayEventsResponse>(
          *call, events,
          [e](auto... a) { e->async()->RecordGatewayEvents(a...); });
      break;
    }
  }
  return call;
}

// Calls a test holds in progress; each confirmed taken by the CA (its
// place counted) before the next is tried.
class HeldCalls {
 public:
  explicit HeldCalls(InFlightLimiter& places) : places_(places) {}
  ~HeldCalls() {
    for (auto& c : calls_) c->ctx.TryCancel();
    for (auto& c : calls_) c->done.WaitForNotification();
  }
  // Starts `rpc` of `gateway` on `channel`; whether the CA took it within
  // 30 s: the gateway's places in use grew by one. (Not answered: it
  // waits in the Store.)
  bool HoldTaken(const std::shared_ptr<grpc::Channel>& channel,
                 const std::string& gateway, Rpc rpc) {
    const int before = places_.in_flight(gateway);
    calls_.push_back(Start(channel, rpc, absl::Seconds(300)));
    const absl::Time deadline = absl::Now() + absl::Seconds(30);
    while (places_.in_flight(gateway) != before + 1) {
      if (absl::Now() > deadline || calls_.back()->done.HasBeenNotified()) {
        return false;
      }
      absl::SleepFor(absl::Milliseconds(5));
    }
    return !calls_.back()->done.HasBeenNotified();
  }
  // Waits until every call held is answered (up to `within`); their
  // statuses.
  std::vector<grpc::Status> Answers(absl::Duration within) {
    std::vector<grpc::Status> out;
    for (auto& c : calls_) {
      if (!c->done.WaitForNotificationWithTimeout(within)) {
        out.push_back(grpc::Status(StatusCode::DEADLINE_EXCEEDED, "no answer"));
      } else {
        out.push_back(c->status);
      }
    }
    return out;
  }

 private:
  InFlightLimiter& places_;
  std::vector<std::unique_ptr<Call>> calls_;
};

// Every one of the six RPCs of `channel`'s gateway, at once: their
// answers within `within` (DEADLINE_EXCEEDED when they were taken and
// wait).
std::vector<grpc::Status> TryEvery(
    const std::shared_ptr<grpc::Channel>& channel, absl::Duration within) {
  std::vector<std::unique_ptr<Call>> calls;
  for (Rpc rpc : kEveryRpc) calls.push_back(Start(channel, rpc, within));
  std::vector<grpc::Status> out;
  for (auto& c : calls) {
    c->done.WaitForNotification();
    out.push_back(c->status);
  }
  return out;
}

bool RefusedAsOverloaded(const grpc::Status& st) {
  return st.error_code() == StatusCode::RESOURCE_EXHAUSTED &&
         absl::StrContains(st.error_message(), "the CA is overloaded") &&
         absl::StrContains(st.error_message(),
                           absl::StrCat("at most ", kMaxGatewayCallsPerGateway,
                                        " for a gateway, ", kMaxGatewayCalls,
                                        " for all gateways"));
}

// A gateway gets kMaxGatewayCallsPerGateway unary calls in progress while
// the Store does not answer (every one of the six RPCs counts), and the
// next of each RPC is refused at once (RESOURCE_EXHAUSTED, "the CA is
// overloaded"); other gateways still get theirs in, up to kMaxGatewayCalls
// for all, and then a gateway that had none is refused too. When the Store
// answers again every call held is answered and the places come back.
TEST(GatewayCallsTest, AGatewaysCallsInProgressAreBounded) {
  std::unique_ptr<testing::PostgresFixture> pg;
  absl::StatusOr<std::unique_ptr<CaTestEnv>> env =
      StartCa(Backend::kPostgres, &pg);
  ASSERT_TRUE(env.ok()) << env.status();
  static_assert(kMaxGatewayCalls % kMaxGatewayCallsPerGateway == 0);
  constexpr int kFull = kMaxGatewayCalls / kMaxGatewayCallsPerGateway;
  // kFull gateways fill every place; one more has none in use.
  std::vector<std::string> names;
  std::vector<std::shared_ptr<grpc::Channel>> channels;
  // The first gateway's calls go over two connections: one carries at
  // most CaServer::kMaxConcurrentStreamsPerConnection calls at a time (the
  // others wait in the client), so only a gateway with more connections
  // reaches its limit.
  static_assert(kMaxGatewayCallsPerGateway ==
                CaServer::kMaxConcurrentStreamsPerConnection);
  std::shared_ptr<grpc::Channel> second;
  for (int i = 0; i <= kFull; ++i) {
    names.push_back(absl::StrCat("gw", i + 1));
    EnrolledGateway gw = EnrollOrDie(**env, names.back());
    ASSERT_TRUE(gw.status.ok()) << gw.status.error_message();
    channels.push_back(gw.channel);
    // Its connection is up, so that no call below waits for a handshake.
    ASSERT_TRUE(GetCaPublicKeys(gw.channel)->ok());
    if (i == 0) {
      second = (*env)->ClientChannel(gw.tls_key_pem,
                                     gw.response.tls_client_certificate_pem());
      ASSERT_TRUE(GetCaPublicKeys(second)->ok());
    }
  }
  InFlightLimiter& places = (*env)->server().gateway_calls();
  ASSERT_EQ(places.in_flight(), 0);

  StoppedPostgres stopped(pg->pid());
  ASSERT_GT(stopped.stopped(), 1u) << "the postmaster and its backends";
  HeldCalls held(places);
  // The first gateway's places, taken by each RPC in turn.
  for (int i = 0; i < kMaxGatewayCallsPerGateway; ++i) {
    const Rpc rpc = kEveryRpc[i % std::size(kEveryRpc)];
    ASSERT_TRUE(
        held.HoldTaken(i % 2 == 0 ? channels[0] : second, names[0], rpc))
        << "call " << i << " of " << names[0];
  }
  for (const auto& channel : {channels[0], second}) {
    for (const grpc::Status& st : TryEvery(channel, absl::Seconds(5))) {
      EXPECT_TRUE(RefusedAsOverloaded(st))
          << st.error_code() << ": " << st.error_message();
    }
  }
  // The others' calls are taken, up to the places of all gateways.
  for (int g = 1; g < kFull; ++g) {
    for (int i = 0; i < kMaxGatewayCallsPerGateway; ++i) {
      ASSERT_TRUE(held.HoldTaken(channels[g], names[g], Rpc::kAuthorizeChannel))
          << "call " << i << " of " << names[g];
    }
  }
  EXPECT_EQ(places.in_flight(), kMaxGatewayCalls);
  EXPECT_EQ(places.in_flight(names[kFull]), 0);
  for (const grpc::Status& st : TryEvery(channels[kFull], absl::Seconds(5))) {
    EXPECT_TRUE(RefusedAsOverloaded(st))
        << st.error_code() << ": " << st.error_message();
  }
  EXPECT_EQ(places.in_flight(names[0]), kMaxGatewayCallsPerGateway)
      << "every call held still waits in the Store";

  stopped.Resume();
  for (const grpc::Status& st : held.Answers(absl::Seconds(60))) {
    EXPECT_NE(st.error_code(), StatusCode::DEADLINE_EXCEEDED);
    EXPECT_NE(st.error_code(), StatusCode::RESOURCE_EXHAUSTED)
        << st.error_message();
  }
  // IssueSessionCertificate's place comes back once gRPC is done with the
  // call, which may be just after its answer arrived.
  const absl::Time deadline = absl::Now() + absl::Seconds(10);
  while (places.in_flight() != 0 && absl::Now() < deadline) {
    absl::SleepFor(absl::Milliseconds(5));
  }
  EXPECT_EQ(places.in_flight(), 0);
  // The places are free again: the first gateway's calls are answered.
  for (const grpc::Status& st : TryEvery(channels[0], absl::Seconds(30))) {
    EXPECT_NE(st.error_code(), StatusCode::RESOURCE_EXHAUSTED)
        << st.error_message();
    EXPECT_NE(st.error_code(), StatusCode::DEADLINE_EXCEEDED);
  }
}

}  // namespace
}  // namespace sallyport::ca
