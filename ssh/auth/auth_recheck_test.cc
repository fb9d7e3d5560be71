// The unknown_ca hook: a certificate signed by a CA key the server does not
// know yet waits while the application fetches the user CA keys again, and
// is then handled again with the new keys (ServerAuth::Recheck).
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "ssh/auth/auth.h"
#include "ssh/auth/auth_test_fixture.h"

namespace sallyport::ssh::auth {
namespace {

class RecheckTest : public AuthTest {
 protected:
  // Serves with the hook (answering `fetch`) and starts a certificate
  // login of key A signed by `signer`.
  void StartCertificateLogin(const crypto::PrivateKey& signer, bool fetch) {
    MakeServer(6, 8, [this, fetch](const crypto::PublicKey& ca_key) {
      asked_.push_back(ca_key);
      return fetch;
    });
    policy_.keys = {};
    auto blob = UserCert(key_a_->public_key(), {"alice"}, absl::Hours(1),
                         cert::CertType::kUser, &signer);
    client_ = std::make_unique<ClientAuth>(
        *peers_->client, ClientAuthOptions{"alice", {{*key_a_, blob}}});
    ASSERT_TRUE(client_->Start().ok());
  }

  std::vector<crypto::PublicKey> asked_;
};

TEST_F(RecheckTest, RotatedInCaKeyIsAcceptedAfterTheRecheck) {
  auto new_ca = *crypto::PrivateKey::GenerateEd25519();
  StartCertificateLogin(new_ca, /*fetch=*/true);
  ASSERT_TRUE(Pump().ok());
  // Waiting: the hook was asked about the new CA key, nothing answered.
  ASSERT_TRUE(server_->pending());
  EXPECT_TRUE(server_->recheck_pending());
  EXPECT_EQ(server_->pending_attempt(), nullptr);
  ASSERT_EQ(asked_.size(), 1u);
  EXPECT_EQ(asked_[0], new_ca.public_key());
  EXPECT_TRUE(policy_.calls.empty());
  EXPECT_EQ(client_messages_,
            std::vector<uint8_t>{transport::kMsgServiceAccept});
  EXPECT_EQ(server_->failures(), 0);

  ASSERT_TRUE(server_->Recheck({ca_->public_key(), new_ca.public_key()}).ok());
  EXPECT_FALSE(server_->recheck_pending());
  ASSERT_TRUE(Pump().ok());
  EXPECT_TRUE(client_->authenticated());
  ASSERT_TRUE(server_->authenticated());
  EXPECT_EQ(server_->identity()->key, key_a_->public_key());
  // The hook is not asked again once the key is trusted.
  EXPECT_EQ(asked_.size(), 1u);
}

TEST_F(RecheckTest, StillUnknownAfterTheRecheckIsRefusedWithoutAskingAgain) {
  auto other_ca = *crypto::PrivateKey::GenerateEd25519();
  StartCertificateLogin(other_ca, /*fetch=*/true);
  ASSERT_TRUE(Pump().ok());
  ASSERT_TRUE(server_->recheck_pending());
  // The fetch brought the same keys: refused as untrusted, no loop.
  ASSERT_TRUE(server_->Recheck({ca_->public_key()}).ok());
  EXPECT_FALSE(server_->pending());
  EXPECT_EQ(Pump().code(), absl::StatusCode::kUnauthenticated);
  EXPECT_FALSE(server_->authenticated());
  EXPECT_EQ(client_messages_.back(), transport::kMsgUserauthFailure);
  EXPECT_EQ(asked_.size(), 1u);
  EXPECT_EQ(server_->failures(), 1);
  EXPECT_TRUE(policy_.calls.empty());
}

TEST_F(RecheckTest, HookDecliningRefusesAtOnce) {
  auto other_ca = *crypto::PrivateKey::GenerateEd25519();
  StartCertificateLogin(other_ca, /*fetch=*/false);
  EXPECT_EQ(Pump().code(), absl::StatusCode::kUnauthenticated);
  EXPECT_FALSE(server_->pending());
  EXPECT_EQ(asked_.size(), 1u);
  EXPECT_EQ(server_->Recheck({other_ca.public_key()}).code(),
            absl::StatusCode::kFailedPrecondition);
}

TEST_F(RecheckTest, TrustedCaNeverAsksTheHook) {
  StartCertificateLogin(*ca_, /*fetch=*/true);
  ASSERT_TRUE(Pump().ok());
  EXPECT_TRUE(client_->authenticated());
  EXPECT_TRUE(asked_.empty());
}

TEST_F(RecheckTest, MessagesWhileWaitingAreHandledAfterTheRecheck) {
  auto new_ca = *crypto::PrivateKey::GenerateEd25519();
  MakeServer(6, 8, [this](const crypto::PublicKey& k) {
    asked_.push_back(k);
    return true;
  });
  policy_.keys = {key_b_->public_key()};
  AcceptService();
  auto blob = UserCert(key_a_->public_key(), {"alice"}, absl::Hours(1),
                       cert::CertType::kUser, &new_ca);
  ASSERT_TRUE(peers_->client
                  ->Send(SignedRequest(
                      *key_a_, "ssh-ed25519-cert-v01@openssh.com", blob))
                  .ok());
  // A plain-key request right behind it waits too.
  ASSERT_TRUE(peers_->client
                  ->Send(SignedRequest(*key_b_, "ecdsa-sha2-nistp256",
                                       key_b_->public_key().Blob()))
                  .ok());
  (void)Pump();
  ASSERT_TRUE(server_->recheck_pending());
  EXPECT_TRUE(policy_.calls.empty());
  // The fetch did not bring the key: the certificate is refused, then
  // the plain key behind it is handled (and accepted), in order.
  ASSERT_TRUE(server_->Recheck({ca_->public_key()}).ok());
  (void)Pump();
  ASSERT_TRUE(server_->authenticated());
  EXPECT_EQ(server_->identity()->key, key_b_->public_key());
  EXPECT_EQ(client_messages_,
            (std::vector<uint8_t>{transport::kMsgServiceAccept,
                                  transport::kMsgUserauthFailure,
                                  transport::kMsgUserauthSuccess}));
  EXPECT_EQ(asked_.size(), 1u);
}

TEST_F(RecheckTest, DeferredMessagesWhileWaitingAreCapped) {
  auto new_ca = *crypto::PrivateKey::GenerateEd25519();
  MakeServer(6, /*max_deferred_messages=*/2,
             [](const crypto::PublicKey&) { return true; });
  AcceptService();
  auto blob = UserCert(key_a_->public_key(), {"alice"}, absl::Hours(1),
                       cert::CertType::kUser, &new_ca);
  ASSERT_TRUE(peers_->client
                  ->Send(SignedRequest(
                      *key_a_, "ssh-ed25519-cert-v01@openssh.com", blob))
                  .ok());
  (void)Pump();
  ASSERT_TRUE(server_->recheck_pending());
  wire::Writer w;
  w.Byte(transport::kMsgUserauthRequest)
      .String("alice")
      .String("ssh-connection")
      .String("none");
  EXPECT_TRUE(server_->Handle(w.data()).ok());
  EXPECT_TRUE(server_->Handle(w.data()).ok());
  EXPECT_EQ(server_->Handle(w.data()).code(),
            absl::StatusCode::kResourceExhausted);
  EXPECT_TRUE(peers_->server->closed());
}

}  // namespace
}  // namespace sallyport::ssh::auth
