// WindowBudget: the receive windows of a connection's channels together
// stay within the budget (plus each channel's first window), and a lone
// channel still gets its whole initial_window.
#include <cstdint>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "ssh/connection/connection.h"
#include "ssh/connection/connection_test_fixture.h"

namespace sallyport::ssh::connection {
namespace {

class WindowBudgetTest : public ConnectionTest {
 protected:
  // The connections give their reservations back to budget_ as they go:
  // they go first.
  ~WindowBudgetTest() override {
    client_.reset();
    server_.reset();
  }
  // The server's receive windows share `budget_`.
  void BuildWithBudget(uint64_t total) {
    budget_ = std::make_unique<WindowBudget>(total);
    ConnectionOptions server;
    server.window_budget = budget_.get();
    Build({}, server);
  }
  // The client sends on every channel of `ids` as far as the windows let
  // it, until nothing more goes out. Returns the bytes sent.
  uint64_t SendAll(const std::vector<uint32_t>& ids) {
    const std::string chunk(32 << 10, 'd');
    uint64_t sent = 0;
    for (bool any = true; any;) {
      any = false;
      for (uint32_t id : ids) {
        absl::StatusOr<size_t> n = client_->SendData(id, wire::AsBytes(chunk));
        if (n.ok() && *n > 0) {
          sent += *n;
          any = true;
        }
      }
      Pump();
    }
    return sent;
  }

  // The client sends `chunks` chunks of 32 KiB on `id` (as far as the
  // window lets it) and the server, reading, consumes them.
  void Stream(uint32_t id, int chunks) {
    server_rec_.auto_consume = true;
    const std::string chunk(32 << 10, 'd');
    for (int i = 0; i < chunks; ++i) {
      (void)client_->SendData(id, wire::AsBytes(chunk));
      Pump();
    }
  }

  std::unique_ptr<WindowBudget> budget_;
};

TEST_F(WindowBudgetTest, ManyChannelsNeverBufferMoreThanTheBudget) {
  constexpr uint64_t kBudget = 1 << 20;
  constexpr int kChannels = 16;
  BuildWithBudget(kBudget);
  std::vector<uint32_t> ids;
  for (int i = 0; i < kChannels; ++i) ids.push_back(OpenSession());
  // A reader that keeps up: every window grows to its share.
  server_rec_.auto_consume = true;
  for (int round = 0; round < 8; ++round) {
    uint64_t sent = 0;
    const std::string chunk(32 << 10, 'd');
    for (uint32_t id : ids) {
      absl::StatusOr<size_t> n = client_->SendData(id, wire::AsBytes(chunk));
      if (n.ok()) sent += *n;
    }
    Pump();
    ASSERT_GT(sent, 0u);
  }
  // Then it stops reading: the writer fills every window.
  server_rec_.auto_consume = false;
  SendAll(ids);
  uint64_t held = 0;
  for (uint32_t id = 0; id < kChannels; ++id) held += server_->Unconsumed(id);
  EXPECT_LE(held, kBudget);
  EXPECT_GT(held, kBudget / 2);  // the windows did grow past their floors
  EXPECT_LE(budget_->reserved(), kBudget);
  EXPECT_EQ(budget_->channels(), static_cast<size_t>(kChannels));
}

TEST_F(WindowBudgetTest, ALoneChannelGetsItsWholeWindow) {
  BuildWithBudget(16 << 20);
  const uint32_t id = OpenSession();
  // It starts small and doubles while the peer keeps it in use.
  EXPECT_EQ(client_->SendWindow(id), WindowBudget::kFloor);
  Stream(id, 1);
  EXPECT_EQ(client_->SendWindow(id), 2 * WindowBudget::kFloor);
  Stream(id, 128);
  EXPECT_EQ(budget_->reserved(), ConnectionOptions{}.initial_window);
  // A reader that stops: exactly one whole window is in flight, as
  // without a budget.
  server_rec_.auto_consume = false;
  const uint64_t in_flight = client_->SendWindow(id);
  EXPECT_EQ(SendAll({id}), in_flight);
  EXPECT_GE(server_->Unconsumed(0), ConnectionOptions{}.initial_window / 2);
  EXPECT_LE(server_->Unconsumed(0), ConnectionOptions{}.initial_window);
}

// Idle channels (a ControlMaster's shells that saw a keystroke each) keep
// their floor: a bulk channel opened beside them gets its share.
TEST_F(WindowBudgetTest, IdleChannelsLeaveTheBudgetToABulkOne) {
  constexpr uint64_t kBudget = 1 << 20;
  constexpr int kIdle = 8;
  BuildWithBudget(kBudget);
  server_rec_.auto_consume = true;
  for (int i = 0; i < kIdle; ++i) {
    const uint32_t id = OpenSession();
    ASSERT_EQ(*client_->SendData(id, wire::AsBytes(std::string("ls\n"))), 3u);
    Pump();
    EXPECT_EQ(client_->SendWindow(id), WindowBudget::kFloor - 3);
  }
  EXPECT_EQ(budget_->reserved(), kIdle * WindowBudget::kFloor);
  const uint32_t bulk = OpenSession();
  Stream(bulk, 64);
  const uint64_t share = kBudget / (kIdle + 1);
  EXPECT_EQ(budget_->reserved(), kIdle * WindowBudget::kFloor + share);
  // The reader stops: the bulk channel has most of its share in flight
  // (at least the half not yet re-advertised), not just its floor.
  server_rec_.auto_consume = false;
  EXPECT_GT(SendAll({bulk}), share / 2);
  EXPECT_GT(server_->Unconsumed(kIdle), share / 2);
}

TEST_F(WindowBudgetTest, AChannelOverItsShareGivesTheExcessBackAsItConsumes) {
  constexpr uint64_t kBudget = 1 << 20;
  BuildWithBudget(kBudget);
  server_rec_.auto_consume = true;
  const std::string chunk(WindowBudget::kFloor, 'd');
  // Alone, `a` takes the whole budget.
  const uint32_t a = OpenSession();
  Stream(a, 64);
  EXPECT_EQ(budget_->reserved(), kBudget);
  EXPECT_GT(client_->SendWindow(a), kBudget / 2);
  // `b` comes: it starts at its floor; once `a` has consumed its share's
  // worth beyond it, `b` grows to half.
  const uint32_t b = OpenSession();
  EXPECT_EQ(client_->SendWindow(b), WindowBudget::kFloor);
  for (int i = 0; i < 32; ++i) {
    (void)client_->SendData(a, wire::AsBytes(chunk));
    (void)client_->SendData(b, wire::AsBytes(chunk));
    Pump();
    EXPECT_LE(budget_->reserved(), kBudget);
  }
  EXPECT_GE(client_->SendWindow(b), kBudget / 4);
  EXPECT_LE(client_->SendWindow(a), kBudget / 2);
}

TEST_F(WindowBudgetTest, ClosedChannelsAndEndedConnectionsGiveTheirShareBack) {
  BuildWithBudget(1 << 20);
  const uint32_t a = OpenSession();
  OpenSession();
  // Kept busy: `a` grows to its share.
  Stream(a, 64);
  EXPECT_EQ(budget_->reserved(), (1u << 20) / 2 + WindowBudget::kFloor);
  // The client's CLOSE, answered by the server's: `a` is forgotten.
  ASSERT_TRUE(client_->Close(a).ok());
  Pump();
  ASSERT_FALSE(server_->HasChannel(0));
  EXPECT_EQ(budget_->channels(), 1u);
  EXPECT_EQ(budget_->reserved(), WindowBudget::kFloor);
  server_.reset();
  EXPECT_EQ(budget_->channels(), 0u);
  EXPECT_EQ(budget_->reserved(), 0u);
}

// A channel that will get no more data keeps only what it has not
// consumed yet, though it stays until both CLOSEs.
TEST_F(WindowBudgetTest, AChannelThatGetsNoMoreDataKeepsOnlyWhatIsUnconsumed) {
  BuildWithBudget(1 << 20);
  const uint32_t a = OpenSession();
  Stream(a, 64);
  EXPECT_EQ(budget_->reserved(), 1u << 20);
  // The reader stops with 5 bytes unconsumed; then the client's EOF.
  server_rec_.auto_consume = false;
  ASSERT_EQ(*client_->SendData(a, wire::AsBytes(std::string("hello"))), 5u);
  ASSERT_TRUE(client_->SendEof(a).ok());
  Pump();
  ASSERT_TRUE(server_->HasChannel(0));
  EXPECT_EQ(budget_->reserved(), 5u);
  EXPECT_EQ(server_->ReservedWindow(), 5u);
  server_->Consume(0, 5);
  EXPECT_EQ(budget_->reserved(), 0u);
  EXPECT_EQ(budget_->channels(), 1u);

  // Our Close() of a busy channel, before the peer's CLOSE arrives.
  const uint32_t b = OpenSession();
  Stream(b, 64);
  EXPECT_GT(budget_->reserved(), uint64_t{WindowBudget::kFloor});
  ASSERT_TRUE(server_->Close(1).ok());
  EXPECT_EQ(budget_->reserved(), 0u);
  EXPECT_EQ(budget_->channels(), 2u);
  // What the client still sends before it sees the CLOSE is dropped.
  (void)client_->SendData(b, wire::AsBytes(std::string(1000, 'd')));
  Pump();
  EXPECT_EQ(budget_->reserved(), 0u);

  // An open of ours given up before the peer answers.
  absl::StatusOr<uint32_t> c = server_->OpenChannel("session");
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(budget_->reserved(), uint64_t{WindowBudget::kFloor});
  ASSERT_TRUE(server_->AbandonOpen(*c).ok());
  EXPECT_EQ(budget_->reserved(), 0u);
  EXPECT_EQ(server_->ReservedWindow(), budget_->reserved());
}

}  // namespace
}  // namespace sallyport::ssh::connection
