// Fuzz target: userauth requests. Each input is split into messages (a
// length byte, then that many bytes, prefixed with USERAUTH_REQUEST) and
// handed to a ServerAuth past the service request, whose policy accepts one
// fixed key (every third decision asynchronously). Nothing may crash, and
// authentication must never succeed: the fuzzer cannot sign with the accepted
// key.
#include <cstddef>
#include <cstdint>
#include <cstdlib>

#include "ssh/auth/auth.h"
#include "ssh/transport/messages.h"
#include "ssh/transport/test_peers.h"

using namespace sallyport::ssh;

namespace {

struct OneKeyPolicy : auth::AuthPolicy {
  crypto::PublicKey key;
  int calls = 0;
  explicit OneKeyPolicy(crypto::PublicKey k) : key(std::move(k)) {}
  auth::AuthDecision Decide(const auth::AuthAttempt& a) override {
    // Every third decision arrives later (ServerAuth::Complete).
    if (++calls % 3 == 0) return {auth::AuthResult::kPending, ""};
    return {
        a.key == key ? auth::AuthResult::kAccept : auth::AuthResult::kReject,
        ""};
  }
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const auto* accepted =
      new crypto::PrivateKey(*crypto::PrivateKey::GenerateEd25519());
  static const auto* ca =
      new crypto::PrivateKey(*crypto::PrivateKey::GenerateEd25519());
  auto peers = transport::TestPeers::Create();
  peers->Pump();
  OneKeyPolicy policy(accepted->public_key());
  auth::ServerAuthOptions o;
  o.policy = &policy;
  o.trusted_user_cas = {ca->public_key()};
  o.clock = peers->clock.get();
  o.peer_address = "127.0.0.1";
  auth::ServerAuth server(*peers->server, o);
  (void)server.Handle(transport::SerializeServiceMsg(
      transport::kMsgServiceRequest, "ssh-userauth"));
  size_t off = 0;
  while (off < size && !peers->server->closed()) {
    size_t n = std::min<size_t>(data[off], size - off - 1);
    std::vector<uint8_t> msg = {transport::kMsgUserauthRequest};
    msg.insert(msg.end(), data + off + 1, data + off + 1 + n);
    off += 1 + n;
    (void)server.Handle(msg);
    // A pending decision is completed (as a rejection: the fuzzer cannot
    // sign with the accepted key) after a message or two arrived behind it.
    if (server.pending() && n % 2 == 0) {
      const bool signed_by_accepted =
          server.pending_attempt()->signed_request &&
          server.pending_attempt()->key == policy.key;
      (void)server.Complete({signed_by_accepted ? auth::AuthResult::kAccept
                                                : auth::AuthResult::kReject,
                             ""});
    }
    if (server.authenticated()) abort();
  }
  return 0;
}
