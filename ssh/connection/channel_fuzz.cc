// Fuzz target: connection-layer messages from a peer. Each input is split
// into messages (a length byte, then that many bytes; the first byte of
// each is mapped onto 80..100) and handed to a Connection whose handler
// accepts every channel, answers every request and consumes data.
#include <cstddef>
#include <cstdint>
#include <cstdlib>

#include "ssh/connection/connection.h"
#include "ssh/transport/test_peers.h"

using namespace sallyport::ssh;

namespace {

struct AcceptAll : connection::ConnectionHandler {
  connection::Connection* conn = nullptr;
  int step = 0;
  void OnChannelOpen(uint32_t id, std::string_view, wire::Bytes) override {
    if (++step % 3)
      (void)conn->AcceptChannel(id);
    else
      (void)conn->RejectChannel(id, connection::OpenFailure::kConnectFailed,
                                "no");
  }
  void OnData(uint32_t id, uint32_t, wire::Bytes d) override {
    conn->Consume(id, d.size());
    (void)conn->SendData(id, d);
  }
  void OnEof(uint32_t id) override { (void)conn->SendEof(id); }
  void OnChannelRequest(uint32_t id, std::string_view, bool want_reply,
                        wire::Bytes) override {
    if (want_reply) (void)conn->ReplyRequest(id, ++step % 2);
    if (step % 5 == 0) (void)conn->Close(id);
  }
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto peers = transport::TestPeers::Create();
  peers->Pump();
  peers->Authenticate();
  AcceptAll handler;
  connection::ConnectionOptions options;
  options.initial_window = 4096;
  options.max_packet = 1024;
  options.max_channels = 4;
  connection::Connection conn(*peers->server, handler, options);
  handler.conn = &conn;
  size_t off = 0;
  while (off < size && !peers->server->closed()) {
    size_t n = std::min<size_t>(data[off], size - off - 1);
    if (n == 0) {
      off += 1;
      continue;
    }
    std::vector<uint8_t> msg(data + off + 1, data + off + 1 + n);
    msg[0] = static_cast<uint8_t>(80 + msg[0] % 21);
    off += 1 + n;
    (void)conn.Handle(msg);
    if (conn.channel_count() > options.max_channels) abort();
    peers->server->Consume(peers->server->PendingOutput().size());
  }
  return 0;
}
