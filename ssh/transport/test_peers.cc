#include "ssh/transport/test_peers.h"

#include <cstdlib>
#include <string>

#include "ssh/wire/writer.h"

namespace sallyport::ssh::transport {

std::unique_ptr<TestPeers> TestPeers::Create(
    const std::function<void(TransportOptions&, TransportOptions&)>&
        customize) {
  auto peers = std::make_unique<TestPeers>();
  auto host = crypto::PrivateKey::GenerateEd25519();
  if (!host.ok()) abort();
  TransportOptions c, s;
  c.role = Role::kClient;
  c.clock = peers->clock.get();
  c.host_key_policy = std::make_shared<PinnedHostKeyPolicy>(
      std::vector<crypto::PublicKey>{host->public_key()});
  s.role = Role::kServer;
  s.clock = peers->clock.get();
  s.host_keys.push_back(ServerHostKey{*host, {}});
  if (customize) customize(c, s);
  auto client = Transport::Create(std::move(c));
  auto server = Transport::Create(std::move(s));
  if (!client.ok() || !server.ok()) abort();
  peers->client = std::move(*client);
  peers->server = std::move(*server);
  return peers;
}

int TestPeers::Pump(int max_rounds) {
  int rounds = 0;
  for (; rounds < max_rounds; ++rounds) {
    bool moved = false;
    for (bool to_server : {true, false}) {
      Transport& from = to_server ? *client : *server;
      Transport& to = to_server ? *server : *client;
      auto& received = to_server ? server_received : client_received;
      wire::Bytes out = from.PendingOutput();
      if (!out.empty()) {
        std::vector<uint8_t> chunk(out.begin(), out.end());
        from.Consume(out.size());
        if (tamper) tamper(to_server, chunk);
        to.Feed(chunk);
        moved = true;
      }
      while (auto msg = to.Next())
        received.emplace_back(msg->begin(), msg->end());
    }
    if (!moved) break;
  }
  return rounds;
}

void TestPeers::Authenticate() {
  wire::Writer req;
  req.Byte(kMsgServiceRequest).String("ssh-userauth");
  (void)client->Send(req.data());
  Pump();
  wire::Writer acc;
  acc.Byte(kMsgServiceAccept).String("ssh-userauth");
  (void)server->Send(acc.data());
  Pump();
  const uint8_t auth_req[] = {kMsgUserauthRequest, 0, 0, 0, 0};
  (void)client->Send(auth_req);
  Pump();
  const uint8_t success[] = {kMsgUserauthSuccess};
  (void)server->Send(success);
  Pump();
}

std::vector<uint8_t> MessageBytes(std::initializer_list<int> bytes) {
  std::vector<uint8_t> v;
  for (int b : bytes) v.push_back(static_cast<uint8_t>(b));
  return v;
}

std::vector<uint8_t> CountedDataMessage(uint32_t n, size_t size) {
  wire::Writer w;
  w.Byte(94).Uint32(n);
  std::string body(size, static_cast<char>('a' + n % 26));
  w.String(body);
  return w.Take();
}

}  // namespace sallyport::ssh::transport
