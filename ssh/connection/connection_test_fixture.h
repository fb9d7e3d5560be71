// Test fixture: two connection layers over two in-memory transports, with
// handlers that record what they see.
#ifndef SALLYPORT_SSH_CONNECTION_CONNECTION_TEST_FIXTURE_H_
#define SALLYPORT_SSH_CONNECTION_CONNECTION_TEST_FIXTURE_H_

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "gtest/gtest.h"
#include "ssh/connection/connection.h"
#include "ssh/transport/test_peers.h"
#include "ssh/wire/writer.h"

namespace sallyport::ssh::connection {

using transport::TestPeers;

struct Recorder : ConnectionHandler {
  Connection* conn = nullptr;
  bool auto_accept = true;
  bool auto_consume = true;
  std::vector<std::string> events;
  std::map<uint32_t, std::string> data;
  std::map<uint32_t, std::string> stderr_data;
  int window_available = 0;
  size_t queued_sent = 0;
  bool auto_reply = true;
  std::vector<std::pair<uint32_t, RequestId>> requests;  // want_reply ones
  std::optional<bool> global_answer = false;
  std::vector<RequestId> global_requests;
  OpenResult last_open_result;

  void OnChannelOpen(uint32_t id, std::string_view type, Bytes) override {
    events.push_back("open " + std::string(type));
    if (auto_accept) (void)conn->AcceptChannel(id);
  }
  void OnChannelOpenResult(uint32_t id, const OpenResult& r) override {
    events.push_back("open-result " + std::to_string(id) + " " +
                     (r.ok() ? "ok" : "refused"));
    last_open_result = r;
  }
  void OnData(uint32_t id, uint32_t stream, Bytes d) override {
    (stream == 0 ? data : stderr_data)[id].append(wire::AsStringView(d));
    if (auto_consume) conn->Consume(id, d.size());
  }
  void OnEof(uint32_t id) override {
    events.push_back("eof " + std::to_string(id));
  }
  void OnClose(uint32_t id) override {
    events.push_back("close " + std::to_string(id));
  }
  void OnChannelRequest(uint32_t id, std::string_view type, bool want_reply,
                        Bytes d, RequestId request) override {
    events.push_back("request " + std::string(type) + " " +
                     std::string(wire::AsStringView(d)));
    if (want_reply) requests.emplace_back(id, request);
    if (want_reply && auto_reply) (void)conn->ReplyRequest(id, type == "exec");
  }
  std::optional<bool> OnGlobalRequest(std::string_view name, bool, Bytes,
                                      RequestId request) override {
    events.push_back("global " + std::string(name));
    global_requests.push_back(request);
    return global_answer;
  }
  void OnChannelRequestReply(uint32_t, bool ok) override {
    events.push_back(std::string("reply ") + (ok ? "success" : "failure"));
  }
  void OnGlobalRequestReply(bool ok, Bytes) override {
    events.push_back(std::string("global-reply ") +
                     (ok ? "success" : "failure"));
  }
  void OnWindowAvailable(uint32_t) override { ++window_available; }
  void OnQueuedDataSent(uint32_t, size_t n) override { queued_sent += n; }
};

class ConnectionTest : public ::testing::Test {
 protected:
  void SetUp() override { Build({}, {}); }

  void Build(ConnectionOptions client_options, ConnectionOptions server_options,
             const std::function<void(transport::TransportOptions& client,
                                      transport::TransportOptions& server)>&
                 customize = nullptr) {
    peers_ = TestPeers::Create(customize);
    peers_->Pump();
    peers_->Authenticate();
    ASSERT_EQ(peers_->server->phase(), transport::Phase::kAuthenticated);
    client_ = std::make_unique<Connection>(*peers_->client, client_rec_,
                                           client_options);
    server_ = std::make_unique<Connection>(*peers_->server, server_rec_,
                                           server_options);
    client_rec_.conn = client_.get();
    server_rec_.conn = server_.get();
  }

  // Moves bytes and dispatches connection messages until quiet.
  void Pump() {
    for (int i = 0; i < 100; ++i) {
      peers_->Pump();
      bool any =
          !peers_->client_received.empty() || !peers_->server_received.empty();
      for (auto& m : std::exchange(peers_->server_received, {}))
        (void)server_->Handle(m);
      for (auto& m : std::exchange(peers_->client_received, {}))
        (void)client_->Handle(m);
      if (!any) break;
    }
  }

  uint32_t OpenSession() {
    auto id = client_->OpenChannel("session");
    EXPECT_TRUE(id.ok());
    Pump();
    return *id;
  }

  std::unique_ptr<TestPeers> peers_;
  Recorder client_rec_, server_rec_;
  std::unique_ptr<Connection> client_, server_;
};

}  // namespace sallyport::ssh::connection

#endif  // SALLYPORT_SSH_CONNECTION_CONNECTION_TEST_FIXTURE_H_
