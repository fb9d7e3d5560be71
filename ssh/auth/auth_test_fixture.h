// The AuthTest fixture: ServerAuth and ClientAuth over two in-memory
// transports (TestPeers), a policy that records every call, and helpers
// that build raw requests and user certificates.
#ifndef SALLYPORT_SSH_AUTH_AUTH_TEST_FIXTURE_H_
#define SALLYPORT_SSH_AUTH_AUTH_TEST_FIXTURE_H_

#include <algorithm>
#include <functional>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "gtest/gtest.h"
#include "ssh/auth/auth.h"
#include "ssh/cert/sign.h"
#include "ssh/transport/messages.h"
#include "ssh/transport/test_peers.h"
#include "ssh/wire/writer.h"

namespace sallyport::ssh::auth {

using transport::TestPeers;

// Accepts a fixed set of keys for a fixed user, and records every call.
struct KeySetPolicy : AuthPolicy {
  std::string user = "alice";
  std::vector<crypto::PublicKey> keys;
  bool accept_certificates = true;
  bool pend = false;  // answer kPending to everything
  std::vector<std::pair<std::string, bool>> calls;  // (fingerprint, signed)

  AuthDecision Decide(const AuthAttempt& a) override {
    calls.emplace_back(a.key.FingerprintSha256(), a.signed_request);
    if (pend) return {AuthResult::kPending, "asking"};
    if (a.user != user) return {AuthResult::kReject, "unknown user"};
    if (a.certificate.has_value()) {
      return {accept_certificates ? AuthResult::kAccept : AuthResult::kReject,
              "cert"};
    }
    for (const auto& k : keys) {
      if (k == a.key) return {AuthResult::kAccept, "key"};
    }
    return {AuthResult::kReject, "key not authorized"};
  }
};

class AuthTest : public ::testing::Test {
 protected:
  void SetUp() override {
    key_a_ = *crypto::PrivateKey::GenerateEd25519();
    key_b_ = *crypto::PrivateKey::GenerateEcdsaP256();
    ca_ = *crypto::PrivateKey::GenerateEd25519();
    policy_.keys = {key_a_->public_key()};
    peers_ = TestPeers::Create();
    peers_->Pump();
    ASSERT_TRUE(peers_->server->handshake_done());
  }

  void MakeServer(
      int max_attempts = 6, size_t max_deferred_messages = 8,
      std::function<bool(const crypto::PublicKey&)> unknown_ca = nullptr) {
    ServerAuthOptions o;
    o.unknown_ca = std::move(unknown_ca);
    o.max_deferred_messages = max_deferred_messages;
    o.policy = &policy_;
    o.trusted_user_cas = {ca_->public_key()};
    o.clock = peers_->clock.get();
    o.peer_address = "127.0.0.1";
    o.max_attempts = max_attempts;
    server_ = std::make_unique<ServerAuth>(*peers_->server, o);
  }

  // Routes messages to the auth layers until quiet; returns the client's
  // last Handle error (OK if none).
  absl::Status Pump() {
    absl::Status last;
    for (int i = 0; i < 50; ++i) {
      peers_->Pump();
      bool any =
          !peers_->server_received.empty() || !peers_->client_received.empty();
      for (auto& m : std::exchange(peers_->server_received, {}))
        (void)server_->Handle(m);
      for (auto& m : std::exchange(peers_->client_received, {})) {
        client_messages_.push_back(m[0]);
        if (client_) {
          absl::Status s = client_->Handle(m);
          if (!s.ok()) last = s;
        }
      }
      if (!any) break;
    }
    return last;
  }

  // ClientAuth logs in with key A; the policy leaves its decision pending.
  void StartLoginWithPendingDecision() {
    policy_.pend = true;
    MakeServer();
    client_ = std::make_unique<ClientAuth>(
        *peers_->client, ClientAuthOptions{"alice", {{*key_a_, {}}}});
    ASSERT_TRUE(client_->Start().ok());
    ASSERT_TRUE(Pump().ok());
    ASSERT_TRUE(server_->pending());
  }

  // Client side without ClientAuth: service request, then raw requests.
  void AcceptService() {
    ASSERT_TRUE(peers_->client
                    ->Send(transport::SerializeServiceMsg(
                        transport::kMsgServiceRequest, "ssh-userauth"))
                    .ok());
    (void)Pump();
  }

  std::vector<uint8_t> SignedRequest(const crypto::PrivateKey& signer,
                                     std::string_view alg,
                                     const std::vector<uint8_t>& blob,
                                     std::string_view user = "alice",
                                     std::vector<uint8_t> session_id = {}) {
    if (session_id.empty()) session_id = peers_->client->session_id();
    auto sig =
        signer.Sign(SignedData(session_id, user, "ssh-connection", alg, blob));
    wire::Writer w;
    w.Byte(transport::kMsgUserauthRequest)
        .String(user)
        .String("ssh-connection")
        .String("publickey")
        .Bool(true)
        .String(alg)
        .String(blob)
        .String(*sig);
    return w.Take();
  }

  std::vector<uint8_t> UserCert(const crypto::PublicKey& key,
                                std::vector<std::string> principals,
                                absl::Duration valid_for = absl::Hours(1),
                                cert::CertType type = cert::CertType::kUser,
                                const crypto::PrivateKey* ca = nullptr) {
    cert::CertificateRequest req;
    req.public_key = key;
    req.serial = 7;
    req.type = type;
    req.key_id = "alice@test";
    req.principals = std::move(principals);
    const int64_t now = absl::ToUnixSeconds(peers_->clock->Now());
    req.valid_after = static_cast<uint64_t>(now - 60);
    req.valid_before =
        static_cast<uint64_t>(now + absl::ToInt64Seconds(valid_for));
    auto c = cert::SignCertificate(req, ca != nullptr ? *ca : *ca_);
    EXPECT_TRUE(c.ok()) << c.status();
    return c->blob;
  }

  std::optional<crypto::PrivateKey> key_a_, key_b_, ca_;
  KeySetPolicy policy_;
  std::unique_ptr<TestPeers> peers_;
  std::unique_ptr<ServerAuth> server_;
  std::unique_ptr<ClientAuth> client_;
  std::vector<uint8_t> client_messages_;
};

}  // namespace sallyport::ssh::auth

#endif  // SALLYPORT_SSH_AUTH_AUTH_TEST_FIXTURE_H_
