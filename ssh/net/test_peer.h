// Test-only pieces for driver tests: a loopback TCP pair with small kernel
// buffers, transports for both roles with one host key, and a minimal
// server handler (service request, a stand-in for userauth, an echo
// message).
#ifndef SALLYPORT_SSH_NET_TEST_PEER_H_
#define SALLYPORT_SSH_NET_TEST_PEER_H_

#include <asio.hpp>
#include <memory>
#include <utility>

#include "ssh/crypto/keys.h"
#include "ssh/net/driver.h"
#include "ssh/transport/transport.h"

namespace sallyport::ssh::net::testing {

// Message numbers the test peers use after authentication: kEcho is
// answered with kEchoReply (both in the connection range, so the transport
// hands them up).
inline constexpr uint8_t kEcho = 94;
inline constexpr uint8_t kEchoReply = 95;

// A connected loopback TCP pair; `buffer` (if non-zero) caps SO_SNDBUF and
// SO_RCVBUF on both ends so a peer that stops reading blocks the other
// side quickly.
std::pair<asio::ip::tcp::socket, asio::ip::tcp::socket> LoopbackPair(
    asio::io_context& io, int buffer = 0);

struct TestKeys {
  crypto::PrivateKey host;
  static const TestKeys& Get();
};

std::unique_ptr<transport::Transport> ServerTransport(
    absl::Duration login_grace = absl::Seconds(120));
std::unique_ptr<transport::Transport> ClientTransport();

// Server role: accepts ssh-userauth; USERAUTH_REQUEST "none" succeeds when
// `accept_auth`, else fails as an auth layer refusing "none" does;
// kEcho is answered with kEchoReply.
class MinimalServer : public MessageHandler {
 public:
  explicit MinimalServer(bool accept_auth) : accept_auth_(accept_auth) {}
  absl::Status OnMessage(transport::Transport& t, wire::Bytes payload) override;
  int echoes = 0;
  int auth_requests = 0;

 private:
  bool accept_auth_;
};

}  // namespace sallyport::ssh::net::testing

#endif  // SALLYPORT_SSH_NET_TEST_PEER_H_
