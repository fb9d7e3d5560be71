#include "ssh/session/session_test_util.h"

#include <algorithm>
#include <utility>

#include "ssh/transport/host_key.h"

namespace sallyport::ssh::session::testing {

bool Link::Step() {
  bool moved = false;
  for (bool to_server : {true, false}) {
    Session* from = to_server ? client : server;
    Session* to = to_server ? server : client;
    const bool reads = to_server ? server_reads : client_reads;
    if (reads && !to->dispatch_paused() && !to->closed()) {
      Bytes out = from->PendingOutput();
      if (!out.empty()) {
        to->Feed(out);
        from->Consume(out.size());
        moved = true;
      }
    } else if (to->closed()) {
      from->Consume(from->PendingOutput().size());
    }
    to->Process();
  }
  return moved;
}

int Settle(const std::vector<Link*>& links, int max_rounds,
           const std::function<void()>& between) {
  int rounds = 0;
  for (; rounds < max_rounds; ++rounds) {
    bool moved = false;
    for (Link* l : links) moved |= l->Step();
    if (between) between();
    if (!moved) break;
  }
  return rounds;
}

auth::AuthDecision OneKeyPolicy::Verdict(
    const auth::AuthAttempt& attempt) const {
  auth::AuthDecision d;
  if (attempt.key == key_) {
    d.result = auth::AuthResult::kAccept;
    d.reason = "the test key";
  } else {
    d.reason = "not the test key";
  }
  return d;
}

auth::AuthDecision OneKeyPolicy::Decide(const auth::AuthAttempt& attempt) {
  if (defer && attempt.signed_request) {
    ++pending_asked;
    auth::AuthDecision d;
    d.result = auth::AuthResult::kPending;
    return d;
  }
  return Verdict(attempt);
}

ServerSessionOptions PairSetup::ServerOptions() {
  ServerSessionOptions o;
  o.transport.clock = clock.get();
  o.transport.host_keys.push_back(transport::ServerHostKey{host_key, {}});
  o.auth.policy = &policy;
  return o;
}

ClientSessionOptions PairSetup::ClientOptions(const std::string& user) {
  ClientSessionOptions o;
  o.transport.clock = clock.get();
  o.transport.host_key_policy =
      std::make_shared<transport::PinnedHostKeyPolicy>(
          std::vector<crypto::PublicKey>{host_key.public_key()});
  o.auth.user = user;
  o.auth.identities.push_back(auth::ClientIdentity{user_key, {}});
  return o;
}

std::vector<uint8_t> Pattern(size_t n, uint8_t seed) {
  std::vector<uint8_t> v(n);
  uint32_t x = 2166136261u ^ seed;
  for (size_t i = 0; i < n; ++i) {
    x = x * 16777619u + static_cast<uint32_t>(i);
    v[i] = static_cast<uint8_t>(x >> 24);
  }
  return v;
}

}  // namespace sallyport::ssh::session::testing
