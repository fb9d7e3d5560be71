// example_client's command mode: authenticate with a key (and optional
// certificate), open a session channel, exec one command, stream our stdin
// to it (EOF on stdin → channel EOF) and its stdout/stderr to ours, and
// remember its exit status.
#ifndef SALLYPORT_SSH_EXAMPLES_EXEC_CLIENT_H_
#define SALLYPORT_SSH_EXAMPLES_EXEC_CLIENT_H_

#include <asio.hpp>
#include <memory>
#include <optional>
#include <string>

#include "absl/status/status.h"
#include "ssh/auth/auth.h"
#include "ssh/connection/connection.h"
#include "ssh/net/channel_io.h"
#include "ssh/net/driver.h"
#include "ssh/transport/transport.h"

namespace sallyport::ssh::examples {

class ExecClient : public net::MessageHandler,
                   public connection::ConnectionHandler,
                   public net::PumpOwner,
                   public std::enable_shared_from_this<ExecClient> {
 public:
  ExecClient(asio::any_io_executor executor, auth::ClientAuthOptions auth,
             std::string command);

  // Connects the handler to the transport (owned by `driver`); call before
  // driver.Run(*this).
  void Attach(net::TransportDriver& driver);
  // After Run: stops the stdin/stdout/stderr streams.
  void CloseStreams();

  // 255 for errors (authentication, connection, refused exec, no exit
  // status), 128 + N for exit-signal N, the remote exit status otherwise.
  int ExitCode() const;
  // Why the session failed, if it did.
  const absl::Status& error() const { return error_; }

  // net::MessageHandler
  absl::Status OnHandshakeDone(transport::Transport& t) override;
  absl::Status OnMessage(transport::Transport& t, wire::Bytes payload) override;
  void OnProgress(transport::Transport&) override { Pump(); }

  // connection::ConnectionHandler
  void OnChannelOpen(uint32_t id, std::string_view type,
                     wire::Bytes extra) override;
  void OnChannelOpenResult(uint32_t id, const absl::Status& status) override;
  void OnData(uint32_t id, uint32_t stream, wire::Bytes data) override;
  void OnClose(uint32_t id) override;
  void OnChannelRequest(uint32_t id, std::string_view type, bool want_reply,
                        wire::Bytes data) override;
  void OnChannelRequestReply(uint32_t id, bool success) override;
  void OnWindowAvailable(uint32_t) override { Pump(); }

  // net::PumpOwner
  connection::Connection* connection() override;
  uint32_t channel_id() const override { return channel_; }
  bool OutputRoom() const override;
  void Flush() override { driver_->Wake(); }
  void OnPumpEvent() override { Pump(); }
  std::shared_ptr<net::PumpOwner> Self() override { return shared_from_this(); }

 private:
  using Descriptor = asio::posix::stream_descriptor;
  void Pump();
  void Fail(absl::Status status);
  void MaybeFinish();

  std::string command_;
  net::TransportDriver* driver_ = nullptr;
  auth::ClientAuthOptions auth_options_;
  std::unique_ptr<auth::ClientAuth> auth_;
  std::unique_ptr<connection::Connection> connection_;

  uint32_t channel_ = 0;
  bool channel_requested_ = false;
  bool channel_open_ = false;
  bool exec_accepted_ = false;
  bool eof_sent_ = false;
  bool channel_closed_ = false;
  bool finished_ = false;
  std::optional<int> exit_code_;
  absl::Status error_;

  Descriptor stdin_, stdout_, stderr_;
  net::ChannelReader<Descriptor> in_;
  net::ChannelWriter<Descriptor> out_, err_;
};

}  // namespace sallyport::ssh::examples

#endif  // SALLYPORT_SSH_EXAMPLES_EXEC_CLIENT_H_
