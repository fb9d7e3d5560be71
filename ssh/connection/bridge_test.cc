// Two connections coupled channel to channel, as a bastion couples the
// user's connection to the target's: data the user sends on one is queued
// on the other with QueueData, and the user's side is Consume()d only as
// the queue drains (OnQueuedDataSent), so a target that stops reading
// stops the user, with a fixed bound on what is held in between.
#include <memory>
#include <string>

#include "gtest/gtest.h"
#include "ssh/connection/connection.h"
#include "ssh/transport/test_peers.h"
#include "ssh/wire/writer.h"

namespace sallyport::ssh::connection {
namespace {

using transport::TestPeers;

// A sink that reads (consumes) only when told to.
struct Sink : ConnectionHandler {
  Connection* conn = nullptr;
  std::string data;
  bool reading = false;
  void OnChannelOpen(uint32_t id, std::string_view, Bytes) override {
    (void)conn->AcceptChannel(id);
  }
  void OnData(uint32_t id, uint32_t, Bytes d) override {
    data.append(wire::AsStringView(d));
    if (reading) conn->Consume(id, d.size());
  }
  void OnChannelRequest(uint32_t, std::string_view, bool, Bytes,
                        RequestId) override {}
};

// The bastion: data arriving on `from` (user side) goes to `to` (target
// side) through the queue.
struct Bridge : ConnectionHandler {
  Connection* from = nullptr;
  Connection* to = nullptr;
  uint32_t from_id = 0, to_id = 0;
  size_t refused = 0;  // bytes QueueData did not take (must stay 0)
  void OnChannelOpen(uint32_t id, std::string_view, Bytes) override {
    (void)from->AcceptChannel(id);
  }
  void OnData(uint32_t, uint32_t stream, Bytes d) override {
    const size_t before = to->QueuedBytes(to_id);
    auto taken = to->QueueData(to_id, d, stream);
    ASSERT_TRUE(taken.ok());
    refused += d.size() - *taken;
    // What went out at once is done with; the rest when it leaves the
    // queue (OnQueuedDataSent on the target side).
    from->Consume(from_id, *taken - (to->QueuedBytes(to_id) - before));
  }
  void OnChannelRequest(uint32_t, std::string_view, bool, Bytes,
                        RequestId) override {}
};

struct TargetSide : ConnectionHandler {
  Bridge* bridge = nullptr;
  void OnChannelOpen(uint32_t, std::string_view, Bytes) override {}
  void OnData(uint32_t, uint32_t, Bytes) override {}
  void OnChannelRequest(uint32_t, std::string_view, bool, Bytes,
                        RequestId) override {}
  void OnQueuedDataSent(uint32_t, size_t n) override {
    bridge->from->Consume(bridge->from_id, n);
  }
};

// The byte at `offset` of the user's stream.
char StreamByte(size_t offset) {
  return static_cast<char>('a' + (offset % 251) % 26);
}

std::string StreamChunk(size_t offset, size_t n) {
  std::string s(n, '\0');
  for (size_t i = 0; i < n; ++i) s[i] = StreamByte(offset + i);
  return s;
}

std::unique_ptr<TestPeers> AuthenticatedPeers() {
  auto peers = TestPeers::Create();
  peers->Pump();
  peers->Authenticate();
  return peers;
}

void Dispatch(TestPeers& peers, Connection& client, Connection& server) {
  peers.Pump();
  for (auto& m : std::exchange(peers.server_received, {}))
    (void)server.Handle(m);
  for (auto& m : std::exchange(peers.client_received, {}))
    (void)client.Handle(m);
}

TEST(BridgeTest, TargetThatStopsReadingStopsTheUserWithABoundedBuffer) {
  // user (client) -> bastion (server | client) -> target (server)
  auto user_peers = AuthenticatedPeers();
  auto target_peers = AuthenticatedPeers();
  Sink user_handler, target_handler;
  Bridge bridge;
  TargetSide target_side;
  target_side.bridge = &bridge;
  const ConnectionOptions options;  // 2 MiB windows, 2 MiB queues
  Connection user(*user_peers->client, user_handler, options);
  Connection bastion_in(*user_peers->server, bridge, options);
  Connection bastion_out(*target_peers->client, target_side, options);
  Connection target(*target_peers->server, target_handler, options);
  user_handler.conn = &user;
  target_handler.conn = &target;
  bridge.from = &bastion_in;
  bridge.to = &bastion_out;

  const uint32_t user_id = *user.OpenChannel("session");
  bridge.to_id = *bastion_out.OpenChannel("session");
  for (int i = 0; i < 5; ++i) {
    Dispatch(*user_peers, user, bastion_in);
    Dispatch(*target_peers, bastion_out, target);
  }
  bridge.from_id = 0;
  ASSERT_GT(user.SendWindow(user_id), 0u);

  // The user floods 16 MiB; the target reads nothing.
  constexpr size_t kChunk = 64 << 10;
  size_t sent = 0;
  uint64_t max_held = 0;
  for (int round = 0; round < 256; ++round) {
    auto n = user.SendData(user_id, wire::AsBytes(StreamChunk(sent, kChunk)));
    ASSERT_TRUE(n.ok());
    sent += *n;
    Dispatch(*user_peers, user, bastion_in);
    Dispatch(*target_peers, bastion_out, target);
    // Held at the bastion: queued, and in the transports' output (what
    // bastion_in counts as unconsumed is the queued data itself).
    const uint64_t held = bastion_out.QueuedBytes(bridge.to_id) +
                          user_peers->server->BufferedOutputBytes() +
                          target_peers->client->BufferedOutputBytes();
    max_held = std::max(max_held, held);
  }
  EXPECT_EQ(bridge.refused, 0u);
  // The user got the target's window plus one queue's worth held at the
  // bastion, then stopped.
  EXPECT_EQ(sent, 2 * options.initial_window);
  EXPECT_EQ(target_handler.data.size(), options.initial_window);
  EXPECT_LE(max_held, options.initial_window + 64 * 1024);
  EXPECT_EQ(user.SendWindow(user_id), 0u);

  // The target reads: everything flows through, in order, nothing lost.
  target_handler.reading = true;
  target.Consume(0, target.Unconsumed(0));
  for (int round = 0; round < 64; ++round) {
    auto n = user.SendData(user_id, wire::AsBytes(StreamChunk(sent, kChunk)));
    ASSERT_TRUE(n.ok());
    sent += *n;
    Dispatch(*user_peers, user, bastion_in);
    Dispatch(*target_peers, bastion_out, target);
  }
  for (int i = 0; i < 10; ++i) {
    Dispatch(*user_peers, user, bastion_in);
    Dispatch(*target_peers, bastion_out, target);
  }
  EXPECT_GT(sent, 2 * options.initial_window);
  EXPECT_EQ(target_handler.data.size(), sent);
  EXPECT_EQ(target_handler.data, StreamChunk(0, sent));
  EXPECT_FALSE(user_peers->server->closed());
  EXPECT_FALSE(target_peers->server->closed());
}

}  // namespace
}  // namespace sallyport::ssh::connection
