// Two transports (client and server) joined in memory, for tests and
// fuzzers: bytes move between them only when Pump() is called, and a test
// may inspect or corrupt them on the way.
#ifndef SALLYPORT_SSH_TRANSPORT_TEST_PEERS_H_
#define SALLYPORT_SSH_TRANSPORT_TEST_PEERS_H_

#include <cstddef>
#include <cstdint>
#include <functional>
#include <initializer_list>
#include <memory>
#include <vector>

#include "base/clock.h"
#include "ssh/transport/transport.h"

namespace sallyport::ssh::transport {

struct TestPeers {
  std::shared_ptr<base::FakeClock> clock = std::make_shared<base::FakeClock>();
  std::unique_ptr<Transport> client;
  std::unique_ptr<Transport> server;
  // Messages each side's Next() returned, in order.
  std::vector<std::vector<uint8_t>> client_received;
  std::vector<std::vector<uint8_t>> server_received;
  // Called on every chunk in flight (true = client to server); may modify it.
  std::function<void(bool to_server, std::vector<uint8_t>& bytes)> tamper;

  // Creates a pair with a fresh Ed25519 host key (pinned by the client).
  // `customize` may change either side's options first.
  static std::unique_ptr<TestPeers> Create(
      const std::function<void(TransportOptions& client,
                               TransportOptions& server)>& customize = nullptr);

  // Moves bytes both ways until neither side has anything to say, or either
  // closes. Returns the number of rounds.
  int Pump(int max_rounds = 1000);
  // Drives both sides through SERVICE_REQUEST/ACCEPT and a dummy
  // USERAUTH_REQUEST/SUCCESS, so both are in Phase::kAuthenticated.
  void Authenticate();
};

// A message written byte by byte.
std::vector<uint8_t> MessageBytes(std::initializer_list<int> bytes);

// A connection-layer message (CHANNEL_DATA's number) carrying counter `n`
// and `size` bytes of body, for ordering checks.
std::vector<uint8_t> CountedDataMessage(uint32_t n, size_t size);

}  // namespace sallyport::ssh::transport

#endif  // SALLYPORT_SSH_TRANSPORT_TEST_PEERS_H_
