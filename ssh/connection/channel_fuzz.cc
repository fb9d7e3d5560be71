// Fuzz target: connection-layer messages from a peer. Each input is split
// into messages (a length byte, then that many bytes; the first byte of
// each is mapped onto 80..100) and handed to a Connection whose handler
// accepts every channel, answers every request and consumes data. The
// channels' receive windows share a window budget, whose books are checked
// after each message.
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
  void OnData(uint32_t id, uint32_t stream, wire::Bytes d) override {
    conn->Consume(id, d.size());
    // Echo through the ordered queue (stderr) or directly (stdout).
    if (stream != 0) {
      (void)conn->QueueData(id, d, stream);
    } else {
      (void)conn->SendData(id, d);
    }
  }
  void OnEof(uint32_t id) override { (void)conn->SendEof(id); }
  void OnChannelRequest(uint32_t id, std::string_view, bool want_reply,
                        wire::Bytes, connection::RequestId request) override {
    // Some requests are answered at once, some later (by the next one),
    // out of order.
    if (want_reply) {
      if (++step % 3 == 0) {
        later.emplace_back(id, request);
      } else {
        (void)conn->ReplyRequest(id, request, step % 2);
      }
    }
    if (step % 4 == 0) {
      for (auto it = later.rbegin(); it != later.rend(); ++it)
        (void)conn->ReplyRequest(it->first, it->second, true);
      later.clear();
    }
    if (step % 5 == 0) (void)conn->Close(id);
  }
  std::optional<bool> OnGlobalRequest(std::string_view, bool, wire::Bytes,
                                      connection::RequestId request) override {
    if (++step % 2) return step % 3 == 0;
    global_later.push_back(request);
    if (global_later.size() >= 3) {
      for (auto it = global_later.rbegin(); it != global_later.rend(); ++it)
        (void)conn->ReplyGlobalRequest(*it, false);
      global_later.clear();
    }
    return std::nullopt;
  }
  std::vector<std::pair<uint32_t, connection::RequestId>> later;
  std::vector<connection::RequestId> global_later;
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
  options.max_queued_bytes = 8192;
  options.max_pending_requests = 8;
  // Channels start at their floor (here initial_window) and give back
  // what they no longer receive: the budget's books must match theirs.
  connection::WindowBudget budget(16 << 10);
  options.window_budget = &budget;
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
    if (conn.ReservedWindow() != budget.reserved() ||
        budget.channels() != conn.channel_count())
      abort();
    for (uint32_t id = 0; id < 16; ++id) {
      if (conn.QueuedBytes(id) > options.max_queued_bytes) abort();
    }
    peers->server->Consume(peers->server->PendingOutput().size());
  }
  return 0;
}
