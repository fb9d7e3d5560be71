// Writes seed inputs for transport_fuzz: what a client (allowed the "none"
// cipher) sends to a server, through service request, userauth, data and
// a rekey. The client's bytes do not depend on the server's keys, so they
// replay against any fuzzed server instance.
//   make_transport_seeds OUTPUT_DIR
#include <fstream>
#include <iostream>

#include "ssh/transport/test_peers.h"
#include "ssh/wire/writer.h"

using namespace sallyport::ssh::transport;

int main(int argc, char** argv) {
  if (argc != 2) {
    std::cerr << "usage: make_transport_seeds DIR\n";
    return 2;
  }
  int n = 0;
  for (std::string cipher : {"none", "aes128-gcm@openssh.com"}) {
    std::vector<uint8_t> recorded = {static_cast<uint8_t>(n * 16)};
    auto peers =
        TestPeers::Create([&](TransportOptions& c, TransportOptions& s) {
          c.fuzzing_allow_none_cipher = s.fuzzing_allow_none_cipher = true;
          c.ciphers = {cipher};
          s.ciphers = {"none", "aes128-gcm@openssh.com"};
        });
    peers->tamper = [&](bool to_server, std::vector<uint8_t>& bytes) {
      if (to_server)
        recorded.insert(recorded.end(), bytes.begin(), bytes.end());
    };
    peers->Pump();
    peers->Authenticate();
    sallyport::ssh::wire::Writer w;
    w.Byte(94).Uint32(0).String("hello");
    (void)peers->client->Send(w.data());
    (void)peers->client->StartRekey();
    peers->Pump();
    if (peers->server->phase() != Phase::kAuthenticated ||
        peers->server->kex_count() != 2 || peers->server_received.empty()) {
      std::cerr << "seed session did not complete\n";
      return 1;
    }
    std::cerr << cipher << ": " << recorded.size()
              << " bytes, server kex count " << peers->server->kex_count()
              << "\n";
    std::ofstream(std::string(argv[1]) + "/session_" + std::to_string(n++),
                  std::ios::binary)
        .write(reinterpret_cast<const char*>(recorded.data()),
               static_cast<std::streamsize>(recorded.size()));
  }
  return 0;
}
