// example_client's command mode, on a session::ClientSession: once
// authenticated, open a session channel, exec one command, stream our
// stdin to it (EOF on stdin → channel EOF) and its stdout/stderr to ours,
// and remember its exit status.
#ifndef SALLYPORT_SSH_EXAMPLES_EXEC_CLIENT_H_
#define SALLYPORT_SSH_EXAMPLES_EXEC_CLIENT_H_

#include <asio.hpp>
#include <memory>
#include <optional>
#include <string>

#include "absl/status/status.h"
#include "ssh/connection/connection.h"
#include "ssh/net/channel_io.h"
#include "ssh/net/session_driver.h"
#include "ssh/session/session.h"

namespace sallyport::ssh::examples {

class ExecClient : public session::SessionHandler,
                   public net::PumpOwner,
                   public std::enable_shared_from_this<ExecClient> {
 public:
  ExecClient(asio::any_io_executor executor, std::string command);

  // The driver running the ClientSession whose handler this is; call
  // before driver.Run().
  void Attach(net::SessionDriver& driver);
  // After Run: stops the stdin/stdout/stderr streams.
  void CloseStreams();

  // 255 for errors (authentication, connection, refused exec, no exit
  // status), 128 + N for exit-signal N, the remote exit status otherwise.
  int ExitCode() const;
  // Why the session failed, if it did.
  const absl::Status& error() const { return error_; }

  // session::SessionHandler
  void OnHandshakeDone(session::Session& s) override;
  void OnAuthenticated(session::Session& s) override;
  void OnEnd(session::Session&, const absl::Status& why) override;
  void OnChannelOpenResult(session::Channel channel,
                           const connection::OpenResult& result) override;
  void OnData(session::Channel channel, uint32_t stream,
              wire::Bytes data) override;
  void OnClose(session::Channel channel) override;
  void OnChannelRequest(session::Channel channel, std::string_view type,
                        bool want_reply, wire::Bytes data,
                        connection::RequestId request) override;
  void OnChannelRequestReply(session::Channel, bool success) override;
  void OnWindowAvailable(session::Channel) override { Pump(); }

  // net::PumpOwner
  connection::Connection* connection() override;
  uint32_t channel_id() const override { return channel_.id(); }
  bool OutputRoom() const override;
  void Flush() override { driver_->driver().Wake(); }
  void OnPumpEvent() override { Pump(); }
  std::shared_ptr<net::PumpOwner> Self() override { return shared_from_this(); }

  // After each batch of input and write completion (the driver's
  // on_progress).
  void Pump();

 private:
  using Descriptor = asio::posix::stream_descriptor;
  void Fail(absl::Status status);
  void MaybeFinish();

  std::string command_;
  net::SessionDriver* driver_ = nullptr;

  session::Channel channel_;
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
