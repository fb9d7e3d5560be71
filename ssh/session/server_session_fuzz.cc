// Fuzz target: a whole ServerSession (transport + auth + connection behind
// the router) fed arbitrary bytes. Built against the transport that allows
// the "none" cipher, so inputs reach past key exchange without keys.
//
// input[0] picks the mode and chunk size:
//   even: the input is everything a client sends from its version line on
//         (key exchange, service request, userauth; see
//         make_transport_seeds), fed to a fresh server;
//   odd:  a real ClientSession first logs in over the "none" cipher in
//         memory, then the input is fed to the server as the client's
//         further transport bytes (plaintext packets: connection messages,
//         rekeys, ...).
// The policy defers every other decision (kPending) and completes it after
// the next chunk, so asynchronous auth is exercised; the clock moves a
// second per chunk, so timers fire.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <memory>

#include "base/clock.h"
#include "ssh/crypto/keys.h"
#include "ssh/session/session.h"

using namespace sallyport::ssh;
using namespace sallyport::ssh::session;

namespace {

const crypto::PrivateKey& Key(int which) {
  static const auto* host =
      new crypto::PrivateKey(*crypto::PrivateKey::GenerateEd25519());
  static const auto* user =
      new crypto::PrivateKey(*crypto::PrivateKey::GenerateEd25519());
  return which == 0 ? *host : *user;
}

struct Policy : auth::AuthPolicy {
  int calls = 0;
  auth::AuthDecision Decide(const auth::AuthAttempt& a) override {
    auth::AuthDecision d;
    if (++calls % 2 == 0) {
      d.result = auth::AuthResult::kPending;
      return d;
    }
    d.result = a.user == "reject" ? auth::AuthResult::kReject
                                  : auth::AuthResult::kAccept;
    return d;
  }
};

// Accepts every channel, echoes data, answers requests yes (and keeps
// what it is told, so the session's caps matter).
struct App : SessionHandler {
  void OnChannelOpen(Channel c, std::string_view type, Bytes) override {
    if (type == "direct-tcpip") return;  // left to the open timeout
    (void)c.Accept();
  }
  void OnData(Channel c, uint32_t stream, Bytes data) override {
    (void)c.Send(data, stream);
    c.Consume(data.size());
  }
  void OnEof(Channel c) override { (void)c.SendEof(); }
  void OnChannelRequest(Channel c, std::string_view type, bool want_reply,
                        Bytes, connection::RequestId) override {
    if (type == "exit") (void)c.Close();
    if (want_reply) (void)c.Reply(type != "no");
  }
  std::optional<bool> OnGlobalRequest(std::string_view, bool, Bytes,
                                      connection::RequestId) override {
    return true;
  }
};

struct NoopClient : SessionHandler {
  void OnData(Channel c, uint32_t, Bytes data) override {
    c.Consume(data.size());
  }
};

void Options(SessionOptions& o, sallyport::base::FakeClock* clock) {
  o.transport.clock = clock;
  o.transport.fuzzing_allow_none_cipher = true;
  o.transport.ciphers = {"none", "aes128-gcm@openssh.com"};
  o.transport.rekey_bytes = 64 << 10;
  o.open_timeout = absl::Seconds(3);
  o.max_env_requests = 4;
  o.alive_interval = absl::Seconds(5);
  o.alive_count_max = 2;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  const bool logged_in = (data[0] & 1) != 0;
  const size_t chunk = 1 + (data[0] >> 1) % 64 * 16;
  sallyport::base::FakeClock clock;
  Policy policy;
  App app;
  ServerSessionOptions so;
  Options(so, &clock);
  so.transport.host_keys.push_back(transport::ServerHostKey{Key(0), {}});
  so.auth.policy = &policy;
  so.auth.trusted_user_cas = {Key(1).public_key()};
  so.transport.login_grace_time = absl::Seconds(20);
  auto server_or = ServerSession::Create(std::move(so), app);
  if (!server_or.ok()) abort();
  ServerSession& server = **server_or;

  if (logged_in) {
    NoopClient client_app;
    ClientSessionOptions co;
    Options(co, &clock);
    co.transport.ciphers = {"none"};
    co.transport.host_key_policy =
        std::make_shared<transport::PinnedHostKeyPolicy>(
            std::vector<crypto::PublicKey>{Key(0).public_key()});
    co.auth.user = "fuzz";
    co.auth.identities.push_back(auth::ClientIdentity{Key(1), {}});
    auto client = ClientSession::Create(std::move(co), client_app);
    if (!client.ok()) abort();
    for (int round = 0; round < 100 && !server.authenticated(); ++round) {
      for (Session* from : {static_cast<Session*>(client->get()),
                            static_cast<Session*>(&server)}) {
        Session* to = from == &server ? static_cast<Session*>(client->get())
                                      : static_cast<Session*>(&server);
        Bytes out = from->PendingOutput();
        to->Feed(out);
        from->Consume(out.size());
        to->Process();
      }
      if (server.pending_auth() != nullptr) {
        auth::AuthDecision d;
        d.result = auth::AuthResult::kAccept;
        (void)server.CompleteAuth(d);
      }
    }
    if (!server.authenticated()) abort();  // the setup itself must work
  }

  for (size_t off = 1; off < size && !server.closed(); off += chunk) {
    if (!server.dispatch_paused()) {
      server.Feed(absl::MakeConstSpan(data + off, std::min(chunk, size - off)));
    }
    server.Process();
    server.Consume(server.PendingOutput().size());
    if (server.pending_auth() != nullptr && (off / chunk) % 3 == 0) {
      auth::AuthDecision d;
      d.result =
          (off & 1) ? auth::AuthResult::kAccept : auth::AuthResult::kReject;
      (void)server.CompleteAuth(d);
      server.Process();
    }
    clock.Advance(absl::Seconds(1));
    server.OnTimer();
    server.Consume(server.PendingOutput().size());
  }
  return 0;
}
