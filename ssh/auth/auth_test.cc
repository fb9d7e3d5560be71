// Server and client authentication over two in-memory transports.
#include "ssh/auth/auth.h"

#include <algorithm>
#include <set>
#include <string>

#include "gtest/gtest.h"
#include "ssh/auth/auth_test_fixture.h"
#include "ssh/cert/sign.h"
#include "ssh/transport/messages.h"
#include "ssh/transport/test_peers.h"
#include "ssh/wire/writer.h"

namespace sallyport::ssh::auth {
namespace {

TEST_F(AuthTest, ClientLogsInWithPlainKey) {
  MakeServer();
  client_ = std::make_unique<ClientAuth>(
      *peers_->client, ClientAuthOptions{"alice", {{*key_a_, {}}}});
  ASSERT_TRUE(client_->Start().ok());
  ASSERT_TRUE(Pump().ok());
  EXPECT_TRUE(client_->authenticated());
  ASSERT_TRUE(server_->authenticated());
  EXPECT_EQ(server_->identity()->key, key_a_->public_key());
  EXPECT_EQ(server_->identity()->user, "alice");
  EXPECT_EQ(peers_->server->phase(), transport::Phase::kAuthenticated);
  EXPECT_EQ(peers_->client->phase(), transport::Phase::kAuthenticated);
}

TEST_F(AuthTest, FallsBackToTheNextIdentity) {
  MakeServer();
  client_ = std::make_unique<ClientAuth>(
      *peers_->client,
      ClientAuthOptions{"alice", {{*key_b_, {}}, {*key_a_, {}}}});
  ASSERT_TRUE(client_->Start().ok());
  ASSERT_TRUE(Pump().ok());
  EXPECT_TRUE(client_->authenticated());
  EXPECT_EQ(server_->failures(), 1);
  EXPECT_EQ(server_->identity()->key, key_a_->public_key());
}

TEST_F(AuthTest, EveryKeyFailingIsPermissionDenied) {
  MakeServer();
  client_ = std::make_unique<ClientAuth>(
      *peers_->client, ClientAuthOptions{"alice", {{*key_b_, {}}}});
  ASSERT_TRUE(client_->Start().ok());
  absl::Status s = Pump();
  EXPECT_EQ(s.code(), absl::StatusCode::kUnauthenticated);
  EXPECT_NE(s.message().find("Permission denied"), std::string::npos);
  EXPECT_FALSE(server_->authenticated());
}

TEST_F(AuthTest, ABannerSentBeforeARefusalReachesTheClientFirst) {
  policy_.pend = true;
  MakeServer();
  client_ = std::make_unique<ClientAuth>(
      *peers_->client, ClientAuthOptions{"alice", {{*key_b_, {}}}});
  ASSERT_TRUE(client_->Start().ok());
  ASSERT_TRUE(Pump().ok());
  ASSERT_TRUE(server_->pending());
  const std::string text = "log in with `sp login` first\r\n";
  ASSERT_TRUE(server_->SendBanner(text).ok());
  ASSERT_TRUE(server_->Complete({AuthResult::kReject, "plain key"}).ok());
  EXPECT_EQ(Pump().code(), absl::StatusCode::kUnauthenticated);
  EXPECT_EQ(client_->banner(), text);
  auto banner = std::find(client_messages_.begin(), client_messages_.end(),
                          transport::kMsgUserauthBanner);
  auto failure = std::find(client_messages_.begin(), client_messages_.end(),
                           transport::kMsgUserauthFailure);
  ASSERT_NE(banner, client_messages_.end());
  ASSERT_NE(failure, client_messages_.end());
  EXPECT_LT(banner, failure);
}

TEST_F(AuthTest, NoBannerAfterAuthentication) {
  MakeServer();
  client_ = std::make_unique<ClientAuth>(
      *peers_->client, ClientAuthOptions{"alice", {{*key_a_, {}}}});
  ASSERT_TRUE(client_->Start().ok());
  ASSERT_TRUE(Pump().ok());
  ASSERT_TRUE(server_->authenticated());
  EXPECT_EQ(server_->SendBanner("late").code(),
            absl::StatusCode::kFailedPrecondition);
}

// Go x/crypto CVE-2024-45337 class: the decision must be for the key that
// signed. Key A signs a request that names key B (which the policy would
// accept): refused, and the policy is never asked to accept B as signed.
TEST_F(AuthTest, SignatureByAnotherKeyThanTheOneNamedIsRefused) {
  policy_.keys = {key_b_->public_key()};
  MakeServer();
  AcceptService();
  auto req = SignedRequest(*key_a_, "ecdsa-sha2-nistp256",
                           key_b_->public_key().Blob());
  ASSERT_TRUE(peers_->client->Send(req).ok());
  (void)Pump();
  EXPECT_FALSE(server_->authenticated());
  EXPECT_EQ(client_messages_.back(), transport::kMsgUserauthFailure);
  for (const auto& [fp, was_signed] : policy_.calls) {
    EXPECT_FALSE(was_signed && fp == key_b_->public_key().FingerprintSha256());
  }
}

TEST_F(AuthTest, SignatureIsBoundToTheSession) {
  MakeServer();
  AcceptService();
  std::vector<uint8_t> other_session(32, 0x42);
  auto req = SignedRequest(*key_a_, "ssh-ed25519", key_a_->public_key().Blob(),
                           "alice", other_session);
  ASSERT_TRUE(peers_->client->Send(req).ok());
  (void)Pump();
  EXPECT_FALSE(server_->authenticated());
  EXPECT_TRUE(
      policy_.calls.empty());  // nothing to decide: the signature failed
}

TEST_F(AuthTest, QueryGetsPkOkButDoesNotAuthenticate) {
  MakeServer();
  AcceptService();
  wire::Writer w;
  w.Byte(transport::kMsgUserauthRequest)
      .String("alice")
      .String("ssh-connection")
      .String("publickey")
      .Bool(false)
      .String("ssh-ed25519")
      .String(key_a_->public_key().Blob());
  ASSERT_TRUE(peers_->client->Send(w.data()).ok());
  (void)Pump();
  EXPECT_EQ(client_messages_.back(), transport::kMsgUserauthPkOk);
  EXPECT_FALSE(server_->authenticated());
  EXPECT_EQ(peers_->server->phase(), transport::Phase::kUserauth);
}

TEST_F(AuthTest, TooManyFailuresDisconnect) {
  MakeServer(/*max_attempts=*/3);
  AcceptService();
  for (int i = 0; i < 3; ++i) {
    auto k = *crypto::PrivateKey::GenerateEd25519();
    ASSERT_TRUE(
        peers_->client
            ->Send(SignedRequest(k, "ssh-ed25519", k.public_key().Blob()))
            .ok());
    (void)Pump();
    EXPECT_EQ(peers_->server->closed(), i == 2) << i;
  }
  EXPECT_EQ(peers_->server->close_status().code(),
            absl::StatusCode::kPermissionDenied);
}

TEST_F(AuthTest, ChangeOfUserDisconnects) {
  MakeServer();
  AcceptService();
  ASSERT_TRUE(peers_->client
                  ->Send(SignedRequest(*key_b_, "ecdsa-sha2-nistp256",
                                       key_b_->public_key().Blob(), "alice"))
                  .ok());
  (void)Pump();
  ASSERT_FALSE(peers_->server->closed());
  ASSERT_TRUE(peers_->client
                  ->Send(SignedRequest(*key_a_, "ssh-ed25519",
                                       key_a_->public_key().Blob(), "root"))
                  .ok());
  (void)Pump();
  EXPECT_TRUE(peers_->server->closed());
  EXPECT_FALSE(server_->authenticated());
}

// A user name of up to kMaxUserNameBytes is an ordinary request (the
// gateway's LOGIN+HOST may be a 256-byte login and a 253-byte host name:
// the 256-byte limit disconnected it as a protocol error); beyond it, or
// with a NUL, the connection ends with ILLEGAL_USER_NAME and says why.
TEST_F(AuthTest, LongUserNamesUpToTheLimitAreRequests) {
  MakeServer();
  AcceptService();
  const std::string long_user(kMaxUserNameBytes, 'u');
  ASSERT_TRUE(peers_->client
                  ->Send(SignedRequest(*key_a_, "ssh-ed25519",
                                       key_a_->public_key().Blob(), long_user))
                  .ok());
  (void)Pump();
  EXPECT_FALSE(peers_->server->closed());
}

TEST_F(AuthTest, AUserNameOverTheLimitDisconnectsSayingSo) {
  MakeServer();
  AcceptService();
  ASSERT_TRUE(peers_->client
                  ->Send(SignedRequest(*key_a_, "ssh-ed25519",
                                       key_a_->public_key().Blob(),
                                       std::string(kMaxUserNameBytes + 1, 'u')))
                  .ok());
  (void)Pump();
  EXPECT_TRUE(peers_->server->closed());
  EXPECT_EQ(peers_->server->close_status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_NE(peers_->server->close_status().message().find("the user name"),
            std::string::npos)
      << peers_->server->close_status();
}

TEST_F(AuthTest, AKeyIsTriedOnlyOnce) {
  MakeServer();
  AcceptService();
  policy_.keys = {};
  auto req = SignedRequest(*key_a_, "ssh-ed25519", key_a_->public_key().Blob());
  ASSERT_TRUE(peers_->client->Send(req).ok());
  (void)Pump();
  policy_.keys = {key_a_->public_key()};  // would now accept...
  ASSERT_TRUE(peers_->client->Send(req).ok());
  (void)Pump();
  EXPECT_FALSE(server_->authenticated());  // ...but the key was already used
  EXPECT_EQ(policy_.calls.size(), 1u);
  EXPECT_EQ(server_->failures(), 2);
}

TEST_F(AuthTest, NoneListsMethodsAndIsNotCounted) {
  MakeServer();
  AcceptService();
  wire::Writer w;
  w.Byte(transport::kMsgUserauthRequest)
      .String("alice")
      .String("ssh-connection")
      .String("none");
  ASSERT_TRUE(peers_->client->Send(w.data()).ok());
  (void)Pump();
  EXPECT_EQ(client_messages_.back(), transport::kMsgUserauthFailure);
  EXPECT_EQ(server_->failures(), 0);
}

TEST_F(AuthTest, AlgorithmMustMatchTheBlobAndShaOneRsaIsRefused) {
  MakeServer();
  AcceptService();
  for (std::string alg : {"ecdsa-sha2-nistp256", "ssh-rsa", "rsa-sha2-256"}) {
    ASSERT_TRUE(
        peers_->client
            ->Send(SignedRequest(*key_a_, alg, key_a_->public_key().Blob()))
            .ok());
    (void)Pump();
    EXPECT_FALSE(server_->authenticated()) << alg;
  }
  EXPECT_TRUE(policy_.calls.empty());
}

TEST_F(AuthTest, CertificateForThePrincipalIsAccepted) {
  MakeServer();
  policy_.keys = {};
  auto blob = UserCert(key_a_->public_key(), {"alice"});
  client_ = std::make_unique<ClientAuth>(
      *peers_->client, ClientAuthOptions{"alice", {{*key_a_, blob}}});
  ASSERT_TRUE(client_->Start().ok());
  ASSERT_TRUE(Pump().ok());
  ASSERT_TRUE(server_->authenticated());
  ASSERT_TRUE(server_->identity()->certificate.has_value());
  EXPECT_EQ(server_->identity()->certificate->key_id, "alice@test");
  EXPECT_EQ(server_->identity()->key, key_a_->public_key());
  // The signed request the policy saw (and the identity keeps) carries what
  // the client signed and its signature: a third party (the CA) can check
  // that the certified key logged in as this user, from those bytes alone.
  const AuthAttempt& a = *server_->identity();
  EXPECT_EQ(a.signed_data, SignedData(peers_->client->session_id(), "alice",
                                      "ssh-connection", a.algorithm, blob));
  auto parsed = ParseSignedData(a.signed_data);
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  EXPECT_EQ(parsed->user, "alice");
  EXPECT_TRUE(VerifyUserauthSignature(a.signed_data, a.signature, a.algorithm,
                                      key_a_->public_key())
                  .ok());
  EXPECT_FALSE(VerifyUserauthSignature(a.signed_data, a.signature, a.algorithm,
                                       key_b_->public_key())
                   .ok());
}

TEST_F(AuthTest, CertificateRefusals) {
  struct Case {
    std::string name;
    std::function<std::vector<uint8_t>()> make;
  };
  auto other_ca = *crypto::PrivateKey::GenerateEd25519();
  std::vector<Case> cases = {
      {"wrong principal",
       [&] { return UserCert(key_a_->public_key(), {"bob"}); }},
      {"untrusted CA",
       [&] {
         return UserCert(key_a_->public_key(), {"alice"}, absl::Hours(1),
                         cert::CertType::kUser, &other_ca);
       }},
      {"host certificate",
       [&] {
         return UserCert(key_a_->public_key(), {"alice"}, absl::Hours(1),
                         cert::CertType::kHost);
       }},
  };
  for (const auto& c : cases) {
    SetUp();
    MakeServer();
    auto blob = c.make();
    client_ = std::make_unique<ClientAuth>(
        *peers_->client, ClientAuthOptions{"alice", {{*key_a_, blob}}});
    ASSERT_TRUE(client_->Start().ok());
    EXPECT_EQ(Pump().code(), absl::StatusCode::kUnauthenticated) << c.name;
    EXPECT_FALSE(server_->authenticated()) << c.name;
    EXPECT_TRUE(policy_.calls.empty()) << c.name;  // never reaches the policy
  }
}

TEST_F(AuthTest, ExpiredCertificateIsRefused) {
  MakeServer();
  auto blob = UserCert(key_a_->public_key(), {"alice"}, absl::Minutes(5));
  peers_->clock->Advance(absl::Minutes(6));
  client_ = std::make_unique<ClientAuth>(
      *peers_->client, ClientAuthOptions{"alice", {{*key_a_, blob}}});
  ASSERT_TRUE(client_->Start().ok());
  EXPECT_EQ(Pump().code(), absl::StatusCode::kUnauthenticated);
  EXPECT_FALSE(server_->authenticated());
}

TEST_F(AuthTest, ClientKeepsAtMostMaxBannerBytesOfBanners) {
  // A server sending banner after banner must not grow the client.
  ClientAuthOptions o{"alice", {{*key_a_, {}}}};
  o.max_banner_bytes = 10000;
  client_ = std::make_unique<ClientAuth>(*peers_->client, o);
  ASSERT_TRUE(client_->Start().ok());
  peers_->Pump();
  ASSERT_TRUE(peers_->server
                  ->Send(transport::SerializeServiceMsg(
                      transport::kMsgServiceAccept, "ssh-userauth"))
                  .ok());
  std::string expected;
  for (int i = 0; i < 40; ++i) {
    const std::string text(3000, static_cast<char>('a' + i % 26));
    if (expected.size() < o.max_banner_bytes)
      expected += text.substr(0, o.max_banner_bytes - expected.size());
    wire::Writer w;
    w.Byte(transport::kMsgUserauthBanner).String(text).String("");
    ASSERT_TRUE(peers_->server->Send(w.data()).ok());
    peers_->Pump();
    for (auto& m : std::exchange(peers_->client_received, {}))
      ASSERT_TRUE(client_->Handle(m).ok());
  }
  EXPECT_EQ(client_->banner().size(), o.max_banner_bytes);
  EXPECT_EQ(client_->banner(), expected);
  EXPECT_FALSE(peers_->client->closed());
}

TEST_F(AuthTest, ClientRefusesASessionAcceptForAnotherService) {
  client_ = std::make_unique<ClientAuth>(
      *peers_->client, ClientAuthOptions{"alice", {{*key_a_, {}}}});
  ASSERT_TRUE(client_->Start().ok());
  EXPECT_EQ(client_
                ->Handle(transport::SerializeServiceMsg(
                    transport::kMsgServiceAccept, "ssh-connection"))
                .code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_FALSE(client_->service_accepted());
  EXPECT_TRUE(peers_->client->closed());
}

TEST_F(AuthTest, ClientWithNoKeysLeftEndsUnauthenticated) {
  client_ = std::make_unique<ClientAuth>(*peers_->client,
                                         ClientAuthOptions{"alice", {}});
  ASSERT_TRUE(client_->Start().ok());
  EXPECT_EQ(client_
                ->Handle(transport::SerializeServiceMsg(
                    transport::kMsgServiceAccept, "ssh-userauth"))
                .code(),
            absl::StatusCode::kUnauthenticated);
  EXPECT_TRUE(client_->service_accepted());
  EXPECT_EQ(peers_->client->close_status().code(),
            absl::StatusCode::kUnauthenticated);
}

// ---- asynchronous decisions

TEST_F(AuthTest, PendingDecisionThenAccept) {
  StartLoginWithPendingDecision();
  // Asked once, about the key that signed; no answer on the wire yet.
  ASSERT_NE(server_->pending_attempt(), nullptr);
  EXPECT_EQ(server_->pending_attempt()->key, key_a_->public_key());
  EXPECT_TRUE(server_->pending_attempt()->signed_request);
  EXPECT_EQ(policy_.calls.size(), 1u);
  EXPECT_EQ(client_messages_,
            std::vector<uint8_t>{transport::kMsgServiceAccept});
  EXPECT_FALSE(server_->authenticated());
  EXPECT_EQ(peers_->server->phase(), transport::Phase::kUserauth);

  ASSERT_TRUE(server_->Complete({AuthResult::kAccept, "ca said yes"}).ok());
  EXPECT_FALSE(server_->pending());
  ASSERT_TRUE(Pump().ok());
  EXPECT_TRUE(client_->authenticated());
  ASSERT_TRUE(server_->authenticated());
  EXPECT_EQ(server_->identity()->key, key_a_->public_key());
  EXPECT_EQ(peers_->server->phase(), transport::Phase::kAuthenticated);
  // Nothing left to complete.
  EXPECT_EQ(server_->Complete({AuthResult::kAccept, ""}).code(),
            absl::StatusCode::kFailedPrecondition);
}

TEST_F(AuthTest, PendingDecisionThenReject) {
  StartLoginWithPendingDecision();
  EXPECT_EQ(server_->Complete({AuthResult::kPending, ""}).code(),
            absl::StatusCode::kInvalidArgument);
  ASSERT_TRUE(server_->pending());
  ASSERT_TRUE(server_->Complete({AuthResult::kReject, "ca said no"}).ok());
  EXPECT_EQ(Pump().code(), absl::StatusCode::kUnauthenticated);
  EXPECT_EQ(client_messages_.back(), transport::kMsgUserauthFailure);
  EXPECT_FALSE(server_->authenticated());
  EXPECT_FALSE(client_->authenticated());
  EXPECT_EQ(server_->failures(), 1);
}

TEST_F(AuthTest, MessagesWhilePendingWaitForTheDecision) {
  policy_.pend = true;
  MakeServer();
  AcceptService();
  ASSERT_TRUE(peers_->client
                  ->Send(SignedRequest(*key_a_, "ssh-ed25519",
                                       key_a_->public_key().Blob()))
                  .ok());
  // A query for key B right behind it: not looked at while A is pending.
  wire::Writer query;
  query.Byte(transport::kMsgUserauthRequest)
      .String("alice")
      .String("ssh-connection")
      .String("publickey")
      .Bool(false)
      .String("ecdsa-sha2-nistp256")
      .String(key_b_->public_key().Blob());
  ASSERT_TRUE(peers_->client->Send(query.data()).ok());
  (void)Pump();
  ASSERT_TRUE(server_->pending());
  EXPECT_EQ(policy_.calls.size(), 1u);
  EXPECT_EQ(client_messages_,
            std::vector<uint8_t>{transport::kMsgServiceAccept});
  // Rejecting A answers A, then processes the query, which is pending too.
  ASSERT_TRUE(server_->Complete({AuthResult::kReject, "no"}).ok());
  ASSERT_TRUE(server_->pending());
  ASSERT_EQ(policy_.calls.size(), 2u);
  EXPECT_EQ(policy_.calls[1],
            std::make_pair(key_b_->public_key().FingerprintSha256(), false));
  (void)Pump();
  EXPECT_EQ(client_messages_,
            (std::vector<uint8_t>{transport::kMsgServiceAccept,
                                  transport::kMsgUserauthFailure}));
  ASSERT_TRUE(server_->Complete({AuthResult::kAccept, "would do"}).ok());
  (void)Pump();
  EXPECT_EQ(client_messages_.back(), transport::kMsgUserauthPkOk);
  EXPECT_FALSE(server_->pending());
  EXPECT_FALSE(server_->authenticated());
  EXPECT_FALSE(peers_->server->closed());
}

TEST_F(AuthTest, DeferredMessagesWhilePendingAreCapped) {
  // max_deferred_messages = 3: three messages behind a pending decision
  // are kept, the fourth ends the connection.
  for (int extra : {3, 4}) {
    SetUp();
    policy_.pend = true;
    MakeServer(/*max_attempts=*/6, /*max_deferred_messages=*/3);
    AcceptService();
    ASSERT_TRUE(peers_->client
                    ->Send(SignedRequest(*key_a_, "ssh-ed25519",
                                         key_a_->public_key().Blob()))
                    .ok());
    for (int i = 0; i < extra; ++i) {
      wire::Writer none;
      none.Byte(transport::kMsgUserauthRequest)
          .String("alice")
          .String("ssh-connection")
          .String("none");
      ASSERT_TRUE(peers_->client->Send(none.data()).ok());
    }
    (void)Pump();
    EXPECT_EQ(peers_->server->closed(), extra == 4) << extra;
    if (extra == 3) {
      ASSERT_TRUE(server_->Complete({AuthResult::kReject, "no"}).ok());
      (void)Pump();
      // One FAILURE for the signed request and one per "none".
      EXPECT_EQ(client_messages_.size(), 1u + 1u + 3u);
      EXPECT_FALSE(peers_->server->closed());
    } else {
      EXPECT_EQ(peers_->server->close_status().code(),
                absl::StatusCode::kResourceExhausted);
    }
  }
}

TEST_F(AuthTest, ConnectionMessagesBeforeAuthDisconnect) {
  for (uint8_t type : {transport::kMsgUserauthSuccess, uint8_t{80}, uint8_t{90},
                       uint8_t{94}}) {
    SetUp();
    MakeServer();
    AcceptService();
    wire::Writer w;
    w.Byte(type).String("session").Uint32(0).Uint32(1000).Uint32(1000);
    ASSERT_TRUE(peers_->client->Send(w.data()).ok());
    (void)Pump();
    EXPECT_TRUE(peers_->server->closed()) << int(type);
    EXPECT_FALSE(server_->authenticated());
  }
}

}  // namespace
}  // namespace sallyport::ssh::auth
