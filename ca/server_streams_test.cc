// The CA's limits on long calls and its keepalive: what one connection
// carries, how many revocation streams users and gateways hold (each and
// together), and how the CA's pings free the places of a dead peer without
// cutting off a gateway that pings it. Split from server_hardening_test.
#include <grpcpp/grpcpp.h>

#include <atomic>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "ca/ca_service.h"
#include "ca/ca_test_env.h"
#include "ca/gateway_test_util.h"
#include "ca/server.h"
#include "ca/source_relay.h"
#include "gtest/gtest.h"
#include "proto/admin.grpc.pb.h"

namespace sallyport::ca {
namespace {

using grpc::StatusCode;

// One connection carries at most kMaxConcurrentStreamsPerConnection calls
// at once (a peer cannot make the CA hold more handlers per connection):
// with that many revocation streams open, the next call on the connection
// waits for a free stream (the client queues it) and runs once one ends;
// another connection is not affected. (A gateway's streams: a user holds
// at most kMaxUserRevocationStreamsPerUser, below.)
TEST(HardeningTest, AConnectionCarriesAtMostTheStreamLimit) {
  auto env = MakeEnv();
  ASSERT_NE(env, nullptr);
  EnrolledGateway gw = EnrollOrDie(*env, "gw1");
  ASSERT_TRUE(gw.status.ok()) << gw.status.error_message();
  ASSERT_TRUE(RevokeSerial4242(env->store()).ok());
  auto channel = env->ClientChannel(gw.tls_key_pem,
                                    gw.response.tls_client_certificate_pem());
  // The connection is up (and the server's SETTINGS known) first.
  ASSERT_TRUE(GetCaPublicKeys(channel)->ok());

  auto stub = v1::CertificateAuthority::NewStub(channel);
  constexpr int kLimit = CaServer::kMaxConcurrentStreamsPerConnection;
  std::vector<std::unique_ptr<grpc::ClientContext>> contexts;
  std::vector<std::unique_ptr<grpc::ClientReader<v1::Revocation>>> streams;
  for (int i = 0; i < kLimit; ++i) {
    contexts.push_back(std::make_unique<grpc::ClientContext>());
    contexts.back()->set_deadline(
        absl::ToChronoTime(absl::Now() + absl::Seconds(60)));
    streams.push_back(stub->WatchRevocations(contexts.back().get(), {}));
    // The handler runs: it sent the existing revocation.
    v1::Revocation first;
    ASSERT_TRUE(streams.back()->Read(&first)) << "stream " << i;
    EXPECT_EQ(first.serial(), 4242u);
  }
  const auto call = [&](const std::shared_ptr<grpc::Channel>& on,
                        absl::Duration deadline) {
    grpc::ClientContext ctx;
    ctx.set_deadline(absl::ToChronoTime(absl::Now() + deadline));
    v1::CaPublicKeys keys;
    return v1::CertificateAuthority::NewStub(on)
        ->GetCaPublicKeys(&ctx, {}, &keys)
        .error_code();
  };
  EXPECT_EQ(call(channel, absl::Seconds(2)), StatusCode::DEADLINE_EXCEEDED);
  EXPECT_EQ(call(env->ClientChannel(gw.tls_key_pem,
                                    gw.response.tls_client_certificate_pem()),
                 absl::Seconds(10)),
            StatusCode::OK);
  contexts[0]->TryCancel();
  EXPECT_EQ(streams[0]->Finish().error_code(), StatusCode::CANCELLED);
  EXPECT_EQ(call(channel, absl::Seconds(10)), StatusCode::OK);
  for (int i = 1; i < kLimit; ++i) {
    contexts[i]->TryCancel();
    streams[i]->Finish();
  }
}

// A user's revocation streams hold CA handler threads for as long as they
// are open: a user gets kMaxUserRevocationStreamsPerUser, all users
// kMaxUserRevocationStreams, and the next is refused at once with the
// reason; a gateway's streams are counted apart (below), so users cannot
// refuse a gateway its revocation list. Every stream held is taken (it
// delivered the revocation on record) before the next is tried.
TEST(HardeningTest, UsersHoldABoundedNumberOfRevocationStreams) {
  auto env = MakeEnv();
  ASSERT_NE(env, nullptr);
  ASSERT_TRUE(RevokeSerial4242(env->store()).ok());
  RevocationStreams streams;
  std::vector<std::shared_ptr<grpc::Channel>> users;
  for (int i = 0;
       i < kMaxUserRevocationStreams / kMaxUserRevocationStreamsPerUser + 1;
       ++i) {
    const std::string name = absl::StrCat("watcher", i);
    ASSERT_TRUE(env->AddUser(name, "pw", {"login"}).ok());
    auto login = env->Login(name, "pw");
    ASSERT_TRUE(login.status.ok()) << login.status.error_message();
    users.push_back(login.channel);
  }
  // The first user: its limit, then refused.
  for (int i = 0; i < kMaxUserRevocationStreamsPerUser; ++i) {
    ASSERT_TRUE(streams.HoldTaken(users[0])) << "stream " << i;
  }
  grpc::Status st = RevocationStreams::Try(users[0]);
  EXPECT_EQ(st.error_code(), StatusCode::RESOURCE_EXHAUSTED);
  EXPECT_TRUE(absl::StrContains(st.error_message(),
                                "too many revocation streams are open"))
      << st.error_message();
  // Other users still get theirs (the first of them with the first user
  // at its limit), until all users hold the total.
  for (size_t u = 1; u + 1 < users.size(); ++u) {
    for (int i = 0; i < kMaxUserRevocationStreamsPerUser; ++i) {
      ASSERT_TRUE(streams.HoldTaken(users[u]))
          << "user " << u << " stream " << i;
    }
  }
  EXPECT_EQ(RevocationStreams::Try(users.back()).error_code(),
            StatusCode::RESOURCE_EXHAUSTED);
  // A gateway is not limited by the users' streams, nor to the per-user
  // number.
  EnrolledGateway gw = EnrollOrDie(*env, "gw1");
  ASSERT_TRUE(gw.status.ok()) << gw.status.error_message();
  for (int i = 0; i < kMaxUserRevocationStreamsPerUser + 1; ++i) {
    EXPECT_TRUE(streams.HoldTaken(gw.channel)) << "stream " << i;
  }
  // A stream that ends gives its place back (once the CA sees it end).
  streams.CloseFirst();
  EXPECT_TRUE(RevocationStreams::Delivers(users[0], absl::Seconds(10)));
}

// A gateway's revocation streams hold CA handler threads too: a gateway
// that opened streams without end (on more connections) took every
// thread (kMaxThreads), and the other gateways' AuthorizeChannel calls and
// every login were refused. A gateway gets kMaxGatewayStreamsPerGateway
// (with its recording uploads: recording_service_test), all gateways
// kMaxGatewayStreams; the next is refused at once with the reason, on any
// connection, and another gateway still gets its stream. Every stream
// held is taken (it delivered the revocation on record) before the next
// is tried.
TEST(HardeningTest, GatewaysHoldABoundedNumberOfRevocationStreams) {
  auto env = MakeEnv();
  ASSERT_NE(env, nullptr);
  ASSERT_TRUE(RevokeSerial4242(env->store()).ok());
  RevocationStreams streams;
  // A gateway's limit fills one connection: another connection of the
  // same gateway is refused by the CA, not queued by the client.
  static_assert(kMaxGatewayStreamsPerGateway <=
                CaServer::kMaxConcurrentStreamsPerConnection);
  std::vector<EnrolledGateway> gateways;
  for (int i = 0; i < kMaxGatewayStreams / kMaxGatewayStreamsPerGateway + 1;
       ++i) {
    gateways.push_back(EnrollOrDie(*env, absl::StrCat("gw", i)));
    ASSERT_TRUE(gateways.back().status.ok())
        << gateways.back().status.error_message();
  }
  const auto another_connection = [&](const EnrolledGateway& gw) {
    return env->ClientChannel(gw.tls_key_pem,
                              gw.response.tls_client_certificate_pem());
  };
  for (int i = 0; i < kMaxGatewayStreamsPerGateway; ++i) {
    ASSERT_TRUE(streams.HoldTaken(gateways[0].channel)) << "stream " << i;
  }
  const auto again = another_connection(gateways[0]);
  grpc::Status st = RevocationStreams::Try(again);
  EXPECT_EQ(st.error_code(), StatusCode::RESOURCE_EXHAUSTED);
  EXPECT_TRUE(absl::StrContains(st.error_message(), "for a gateway"))
      << st.error_message();
  // Other gateways still get theirs (the first of them with the first
  // gateway at its limit), until all gateways hold the total.
  for (size_t g = 1; g + 1 < gateways.size(); ++g) {
    for (int i = 0; i < kMaxGatewayStreamsPerGateway; ++i) {
      ASSERT_TRUE(streams.HoldTaken(gateways[g].channel))
          << "gateway " << g << " stream " << i;
    }
  }
  EXPECT_EQ(RevocationStreams::Try(gateways.back().channel).error_code(),
            StatusCode::RESOURCE_EXHAUSTED);
  // A stream that ends gives its place back (once the CA sees it end).
  streams.CloseFirst();
  EXPECT_TRUE(RevocationStreams::Delivers(again, absl::Seconds(10)));
}

// Found in review: the CA used gRPC's default keepalive (a ping after two
// hours), so a gateway that died without a reset (powered off, its
// network dropping packets) kept its revocation streams and uploads, and
// their handler threads and places, for hours: with all of its
// kMaxGatewayStreamsPerGateway held, the gateway back on another
// connection was refused. The CA's pings (CaServer::kKeepaliveTime, 60 s;
// 1 s here) find the dead peer and end its calls.
TEST(HardeningTest, ADeadGatewaysStreamsAreEndedByTheKeepalive) {
  CaTestEnv::Options options;
  options.keepalive_time = absl::Seconds(1);
  options.keepalive_timeout = absl::Seconds(1);
  auto env = MakeEnv(options);
  ASSERT_NE(env, nullptr);
  EnrolledGateway gw = EnrollOrDie(*env, "gw1");
  ASSERT_TRUE(gw.status.ok()) << gw.status.error_message();
  ASSERT_TRUE(RevokeSerial4242(env->store()).ok());
  auto dying = env->ClientChannel(
      gw.tls_key_pem, gw.response.tls_client_certificate_pem(), "127.0.0.2");
  RevocationStreams streams;
  for (int i = 0; i < kMaxGatewayStreamsPerGateway; ++i) {
    ASSERT_TRUE(streams.HoldTaken(dying)) << "stream " << i;
  }
  EXPECT_EQ(RevocationStreams::Try(gw.channel).error_code(),
            StatusCode::RESOURCE_EXHAUSTED);
  // Idle for several of the CA's pings first (answered while alive).
  absl::SleepFor(absl::Seconds(3));
  EXPECT_EQ(RevocationStreams::Try(gw.channel).error_code(),
            StatusCode::RESOURCE_EXHAUSTED);
  SourceRelay* relay = env->Relay("127.0.0.2");
  ASSERT_NE(relay, nullptr);
  relay->Freeze();
  EXPECT_TRUE(RevocationStreams::Delivers(gw.channel, absl::Seconds(15)));
}

// The CA's keepalive must not cut off a gateway that pings it (the
// gateway's channel pings every gateway::CaChannelOptions::keepalive_time,
// 15 s, on an idle connection too, to find a hung CA): accepted down to
// kMinClientPingIntervalMs. A client pinging every 2 s (more often than
// the CA, 6 s here, as 15 s is than 60 s) keeps an idle revocation stream
// for ten pings, which then still delivers a revocation. With gRPC's
// default (pings at most every 5 minutes) the CA closed the connection
// ("too_many_pings") within those 20 s.
TEST(HardeningTest, AnIdleStreamOfAPingingGatewayStaysOpen) {
  static_assert(CaServer::kMinClientPingIntervalMs <= 2000);
  CaTestEnv::Options options;
  options.keepalive_time = absl::Seconds(6);
  options.keepalive_timeout = absl::Seconds(1);
  options.client_keepalive_time = absl::Seconds(2);
  auto env = MakeEnv(options);
  ASSERT_NE(env, nullptr);
  EnrolledGateway gw = EnrollOrDie(*env, "gw1");
  ASSERT_TRUE(gw.status.ok()) << gw.status.error_message();
  grpc::ClientContext ctx;
  ctx.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(60)));
  auto stream =
      v1::CertificateAuthority::NewStub(gw.channel)->WatchRevocations(&ctx, {});
  absl::SleepFor(absl::Seconds(20));
  ASSERT_TRUE(RevokeSerial4242(env->store()).ok());
  v1::Revocation got;
  ASSERT_TRUE(stream->Read(&got)) << stream->Finish().error_message();
  EXPECT_EQ(got.serial(), 4242u);
  ctx.TryCancel();
  stream->Finish();
}

// What the CA runs with (the tests above shorten it): a dead peer's calls
// end within 80 s.
TEST(HardeningTest, TheKeepaliveFindsADeadPeerInAboutAMinute) {
  EXPECT_EQ(CaServer::Options().keepalive_time, absl::Seconds(60));
  EXPECT_EQ(CaServer::Options().keepalive_timeout, absl::Seconds(20));
}

}  // namespace
}  // namespace sallyport::ca
