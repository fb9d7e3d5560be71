// The CA's bound on the gateways' unary calls in progress
// (kMaxGatewayCallsPerGateway, kMaxGatewayCalls), and its handler threads
// with that and every other limit at once (CaServer::kMaxThreads): held
// for real by a CA on PostgreSQL whose server is stopped (SIGSTOP), so
// that every call waits in the Store as it would while PostgreSQL stalls.
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
#include "ca/tls_material.h"
#include "gtest/gtest.h"
#include "proto/ca.grpc.pb.h"
#include "proto/gateway.grpc.pb.h"
#include "ssh/crypto/keys.h"
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

// A Login of `request` on `channel`.
std::unique_ptr<Call> StartLogin(const std::shared_ptr<grpc::Channel>& channel,
                                 const v1::LoginRequest& request,
                                 absl::Duration deadline) {
  auto call = std::make_unique<Call>();
  call->ctx.set_deadline(absl::ToChronoTime(absl::Now() + deadline));
  std::shared_ptr<v1::CertificateAuthority::Stub> ca =
      v1::CertificateAuthority::NewStub(channel);
  v1::CertificateAuthority::Stub* c = ca.get();
  Begin<v1::LoginRequest, v1::LoginResponse>(
      *call, ca, [c, &request](auto* ctx, auto* req, auto... rest) {
        *req = request;
        c->async()->Login(ctx, req, rest...);
      });
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
    return HoldTaken([&] { return places_.in_flight(gateway); },
                     [&](absl::Duration d) { return Start(channel, rpc, d); });
  }
  // Starts the call `start` makes (with a deadline far ahead); whether
  // the CA took it within 30 s: `taken` grew by one.
  bool HoldTaken(
      const std::function<int()>& taken,
      const std::function<std::unique_ptr<Call>(absl::Duration)>& start) {
    const int before = taken();
    calls_.push_back(start(absl::Seconds(300)));
    const absl::Time deadline = absl::Now() + absl::Seconds(30);
    while (taken() != before + 1) {
      if (absl::Now() > deadline || calls_.back()->done.HasBeenNotified()) {
        return false;
      }
      absl::SleepFor(absl::Milliseconds(5));
    }
    return !calls_.back()->done.HasBeenNotified();
  }
  // The answer to the last call started, when it came (a call HoldTaken
  // found refused).
  std::string LastAnswer() const {
    const Call& last = *calls_.back();
    if (!last.done.HasBeenNotified()) return "not answered";
    return absl::StrCat(last.status.error_code(), ": ",
                        last.status.error_message());
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

// The threads of gRPC's sync server in this process (its handler threads,
// each named after it), in use or polling for calls.
int SyncServerThreads() {
  int n = 0;
  DIR* tasks = opendir("/proc/self/task");
  if (tasks == nullptr) return -1;
  while (dirent* entry = readdir(tasks)) {
    std::ifstream comm(
        absl::StrCat("/proc/self/task/", entry->d_name, "/comm"));
    std::string name;
    // Thread names are cut to 15 bytes.
    if (std::getline(comm, name) && name == "grpcpp_sync_ser") ++n;
  }
  closedir(tasks);
  return n;
}

// Found in review: the CA's handler threads (CaServer::kMaxThreads, 128)
// were fewer than the calls its limits let clients hold on them, 160: the
// gateways' streams (kMaxGatewayStreams), the gateways' unary calls while
// the Store stalls (kMaxGatewayCalls), the logins (kMaxLoginsInFlight)
// and the users' revocation streams (kMaxUserRevocationStreams). With them
// all at their limits gRPC refused the 128th call itself ("Server
// Threadpool Exhausted"), and the admin API got no thread. Now every one
// of them is held at once, on a CA whose PostgreSQL is stopped, and a call
// no limit bounds still gets a thread from the reserve
// (CaServer::kReservedThreads): its handler answers. Then the Store comes
// back and every call held is answered.
TEST(GatewayCallsTest, EveryLimitAtOnceLeavesThreadsForTheOtherCalls) {
  std::unique_ptr<testing::PostgresFixture> pg;
  absl::StatusOr<std::unique_ptr<CaTestEnv>> started =
      StartCa(Backend::kPostgres, &pg);
  ASSERT_TRUE(started.ok()) << started.status();
  CaTestEnv& env = **started;
  ASSERT_TRUE(RevokeSerial4242(env.store()).ok());
  constexpr int kBounded = kMaxGatewayStreams + kMaxGatewayCalls +
                           kMaxLoginsInFlight + kMaxUserRevocationStreams;
  // A gateway's streams fill one connection, its calls another.
  static_assert(kMaxGatewayStreamsPerGateway ==
                    CaServer::kMaxConcurrentStreamsPerConnection &&
                kMaxGatewayCallsPerGateway ==
                    CaServer::kMaxConcurrentStreamsPerConnection);
  static_assert(kMaxGatewayStreams % kMaxGatewayStreamsPerGateway == 0 &&
                kMaxGatewayCalls % kMaxGatewayCallsPerGateway == 0 &&
                kMaxGatewayCalls <= kMaxGatewayStreams);
  RevocationStreams streams;
  std::vector<std::string> names;
  std::vector<std::shared_ptr<grpc::Channel>> call_channels;
  for (int g = 0; g < kMaxGatewayStreams / kMaxGatewayStreamsPerGateway; ++g) {
    names.push_back(absl::StrCat("gw", g + 1));
    EnrolledGateway gw = EnrollOrDie(env, names.back());
    ASSERT_TRUE(gw.status.ok()) << gw.status.error_message();
    for (int i = 0; i < kMaxGatewayStreamsPerGateway; ++i) {
      ASSERT_TRUE(streams.HoldTaken(gw.channel))
          << "stream " << i << " of " << names.back();
    }
    if (g < kMaxGatewayCalls / kMaxGatewayCallsPerGateway) {
      call_channels.push_back(env.ClientChannel(
          gw.tls_key_pem, gw.response.tls_client_certificate_pem()));
      ASSERT_TRUE(GetCaPublicKeys(call_channels.back())->ok());
    }
  }
  for (int u = 0;
       u < kMaxUserRevocationStreams / kMaxUserRevocationStreamsPerUser; ++u) {
    const std::string name = absl::StrCat("watcher", u);
    ASSERT_TRUE(env.AddUser(name, "pw", {"login"}).ok());
    CaTestEnv::LoginResult user = env.Login(name, "pw");
    ASSERT_TRUE(user.status.ok()) << user.status.error_message();
    for (int i = 0; i < kMaxUserRevocationStreamsPerUser; ++i) {
      ASSERT_TRUE(streams.HoldTaken(user.channel))
          << "stream " << i << " of " << name;
    }
  }
  // The logins come from as many sources as their limit needs (each
  // connection through a relay from its own loopback address).
  static_assert(kMaxLoginsInFlight % kMaxLoginsInFlightPerSource == 0 &&
                kMaxLoginsInFlightPerSource <=
                    CaServer::kMaxConcurrentStreamsPerConnection);
  std::vector<std::shared_ptr<grpc::Channel>> login_channels;
  for (int s = 0; s < kMaxLoginsInFlight / kMaxLoginsInFlightPerSource; ++s) {
    login_channels.push_back(
        env.ClientChannel("", "", absl::StrCat("127.0.0.", s + 2)));
    // Connected: answered.
    ASSERT_EQ(GetCaPublicKeys(login_channels.back())->error_code(),
              StatusCode::UNAUTHENTICATED);
  }
  const std::shared_ptr<grpc::Channel> other = env.AnonymousChannel();
  ASSERT_EQ(GetCaPublicKeys(other)->error_code(), StatusCode::UNAUTHENTICATED);
  absl::StatusOr<ssh::crypto::PrivateKey> ssh_key =
      ssh::crypto::PrivateKey::GenerateEd25519();
  ASSERT_TRUE(ssh_key.ok()) << ssh_key.status();
  absl::StatusOr<base::EvpPkeyPtr> tls_key = GenerateTlsKey();
  ASSERT_TRUE(tls_key.ok()) << tls_key.status();
  v1::LoginRequest login;
  login.set_password("guess");
  login.set_ssh_public_key(ssh_key->public_key().ToAuthorizedKeysLine());
  login.set_tls_public_key_der(*PublicKeyToDer(tls_key->get()));

  // The Store stalls: the gateways' unary calls and the logins wait in it,
  // each on its handler thread.
  StoppedPostgres stopped(pg->pid());
  ASSERT_GT(stopped.stopped(), 1u) << "the postmaster and its backends";
  InFlightLimiter& places = env.server().gateway_calls();
  HeldCalls held(places);
  for (size_t g = 0; g < call_channels.size(); ++g) {
    for (int i = 0; i < kMaxGatewayCallsPerGateway; ++i) {
      ASSERT_TRUE(
          held.HoldTaken(call_channels[g], names[g], Rpc::kAuthorizeChannel))
          << "call " << i << " of " << names[g] << ": " << held.LastAnswer();
    }
  }
  LoginAuthenticator& logins = env.server().login();
  for (size_t s = 0; s < login_channels.size(); ++s) {
    for (int i = 0; i < kMaxLoginsInFlightPerSource; ++i) {
      // A name of its own: no (user, source) lock refuses it later.
      v1::LoginRequest own = login;
      own.set_user(absl::StrCat("nobody", s, "-", i));
      ASSERT_TRUE(held.HoldTaken([&] { return logins.in_flight(); },
                                 [&](absl::Duration d) {
                                   return StartLogin(login_channels[s], own, d);
                                 }))
          << "login " << i << " from source " << s << ": " << held.LastAnswer();
    }
  }
  EXPECT_EQ(places.in_flight(), kMaxGatewayCalls);
  EXPECT_EQ(logins.in_flight(), kMaxLoginsInFlight);
  EXPECT_GE(SyncServerThreads(), kBounded);

  // A call of no limit gets a thread: its handler refuses a caller without
  // a client certificate (before any Store read), where gRPC without a
  // thread for it answers "Server Threadpool Exhausted".
  for (int i = 0; i < 3; ++i) {
    grpc::ClientContext ctx;
    ctx.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(10)));
    v1::CaPublicKeys keys;
    const grpc::Status st =
        v1::CertificateAuthority::NewStub(other)->GetCaPublicKeys(&ctx, {},
                                                                  &keys);
    EXPECT_EQ(st.error_code(), StatusCode::UNAUTHENTICATED)
        << st.error_code() << ": " << st.error_message();
    EXPECT_EQ(st.error_message(),
              "a client certificate from `sp login` is required");
  }
  EXPECT_EQ(places.in_flight(), kMaxGatewayCalls) << "the calls still wait";
  EXPECT_EQ(logins.in_flight(), kMaxLoginsInFlight);

  // Every call held is answered by its handler (the logins, all at once,
  // some with the HashGate's kBusyMessage).
  stopped.Resume();
  for (const grpc::Status& st : held.Answers(absl::Seconds(60))) {
    EXPECT_NE(st.error_code(), StatusCode::DEADLINE_EXCEEDED);
    EXPECT_NE(st.error_message(), "Server Threadpool Exhausted");
  }
}

}  // namespace
}  // namespace sallyport::ca
