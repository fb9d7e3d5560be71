// Test helpers for sessions in memory: a Link moving bytes between two
// sessions (each direction can stop reading) and a server/client pair
// factory.
#ifndef SALLYPORT_SSH_SESSION_SESSION_TEST_UTIL_H_
#define SALLYPORT_SSH_SESSION_SESSION_TEST_UTIL_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "base/clock.h"
#include "ssh/crypto/keys.h"
#include "ssh/session/session.h"

namespace sallyport::ssh::session::testing {

// Joins a client-role and a server-role session. Bytes move only in Step().
struct Link {
  Session* client = nullptr;
  Session* server = nullptr;
  bool client_reads = true;  // the client takes input
  bool server_reads = true;
  // Moves pending output both ways (to a reader whose dispatch is not
  // paused) and lets both sides process it. True if bytes moved.
  bool Step();
};

// Steps every link (and calls `between` after each round) until nothing
// moves, at most `max_rounds` rounds. Returns the rounds used.
int Settle(const std::vector<Link*>& links, int max_rounds = 10000,
           const std::function<void()>& between = nullptr);

// A policy accepting one key, optionally deciding later (kPending).
class OneKeyPolicy : public auth::AuthPolicy {
 public:
  explicit OneKeyPolicy(crypto::PublicKey key) : key_(std::move(key)) {}
  auth::AuthDecision Decide(const auth::AuthAttempt& attempt) override;
  bool defer = false;     // answer kPending to signed requests
  int pending_asked = 0;  // kPending answers given
  auth::AuthDecision Verdict(const auth::AuthAttempt& attempt) const;

 private:
  crypto::PublicKey key_;
};

// Keys and options for a server/client pair on one fake clock.
struct PairSetup {
  std::shared_ptr<base::FakeClock> clock = std::make_shared<base::FakeClock>();
  crypto::PrivateKey host_key = *crypto::PrivateKey::GenerateEd25519();
  crypto::PrivateKey user_key = *crypto::PrivateKey::GenerateEd25519();
  OneKeyPolicy policy{user_key.public_key()};

  ServerSessionOptions ServerOptions();
  ClientSessionOptions ClientOptions(const std::string& user = "alice");
};

// Deterministic bytes for data checks.
std::vector<uint8_t> Pattern(size_t n, uint8_t seed);

}  // namespace sallyport::ssh::session::testing

#endif  // SALLYPORT_SSH_SESSION_SESSION_TEST_UTIL_H_
