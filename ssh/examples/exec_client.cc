#include "ssh/examples/exec_client.h"

#include <fcntl.h>
#include <unistd.h>

#include "absl/strings/str_cat.h"
#include "base/safe_text.h"
#include "ssh/connection/messages.h"
#include "ssh/examples/common.h"
#include "ssh/transport/messages.h"

namespace sallyport::ssh::examples {
namespace {

constexpr size_t kStdinBuffer = 256 << 10;

// A duplicate of one of our standard descriptors for Asio, or nothing if it
// is closed.
void AssignDup(asio::posix::stream_descriptor& d, int fd) {
  int copy = fcntl(fd, F_DUPFD_CLOEXEC, 3);
  if (copy < 0) return;
  asio::error_code ec;
  d.assign(copy, ec);
  if (ec) close(copy);
}

}  // namespace

ExecClient::ExecClient(asio::any_io_executor executor,
                       auth::ClientAuthOptions auth, std::string command)
    : command_(std::move(command)),
      auth_options_(std::move(auth)),
      stdin_(executor),
      stdout_(executor),
      stderr_(executor),
      in_(&stdin_, 0, kStdinBuffer),
      out_(&stdout_),
      err_(&stderr_) {
  AssignDup(stdin_, 0);
  AssignDup(stdout_, 1);
  AssignDup(stderr_, 2);
  if (!stdin_.is_open()) in_.Abandon();  // no stdin: EOF at once
}

void ExecClient::Attach(net::TransportDriver& driver) {
  driver_ = &driver;
  auth_ = std::make_unique<auth::ClientAuth>(driver.transport(),
                                             std::move(auth_options_));
  connection_ =
      std::make_unique<connection::Connection>(driver.transport(), *this);
}

void ExecClient::CloseStreams() {
  asio::error_code ignored;
  stdin_.close(ignored);
  stdout_.close(ignored);
  stderr_.close(ignored);
}

int ExecClient::ExitCode() const {
  if (!error_.ok() || !exit_code_.has_value()) return 255;
  return *exit_code_;
}

void ExecClient::Fail(absl::Status status) {
  if (error_.ok()) error_ = std::move(status);
  driver_->transport().Disconnect(transport::DisconnectReason::kByApplication,
                                  std::string(error_.message().substr(0, 100)));
  driver_->Wake();
}

absl::Status ExecClient::OnHandshakeDone(transport::Transport& t) {
  Log(absl::StrCat("kex done: ", DescribeAlgorithms(t)));
  return auth_->Start();
}

absl::Status ExecClient::OnMessage(transport::Transport&, wire::Bytes payload) {
  const uint8_t type = payload[0];
  if (type == transport::kMsgServiceAccept || (type >= 50 && type <= 79)) {
    absl::Status s = auth_->Handle(payload);
    if (!s.ok()) {
      if (error_.ok()) error_ = s;
      return s;
    }
    if (auth_->authenticated() && !channel_requested_) {
      Log("authenticated");
      channel_requested_ = true;
      auto id = connection_->OpenChannel("session");
      if (!id.ok()) return id.status();
      channel_ = *id;
    }
    return absl::OkStatus();
  }
  if (type >= 80 && type <= 127) return connection_->Handle(payload);
  return absl::OkStatus();
}

void ExecClient::OnChannelOpen(uint32_t id, std::string_view, wire::Bytes) {
  // A client accepts no channels from the server (no forwarding asked for).
  (void)connection_->RejectChannel(
      id, connection::OpenFailure::kAdministrativelyProhibited, "not accepted");
}

void ExecClient::OnChannelOpenResult(uint32_t, const absl::Status& status) {
  if (!status.ok()) {
    Fail(absl::UnavailableError(
        absl::StrCat("session channel refused: ", status.message())));
    return;
  }
  channel_open_ = true;
  absl::Status s =
      connection_->SendRequest(channel_, "exec", /*want_reply=*/true,
                               connection::SerializeStringRequest(command_));
  if (!s.ok()) Fail(s);
}

void ExecClient::OnChannelRequestReply(uint32_t, bool success) {
  if (!success) {
    Fail(absl::FailedPreconditionError("exec request refused by the server"));
    return;
  }
  exec_accepted_ = true;
  Pump();
}

void ExecClient::OnData(uint32_t, uint32_t stream, wire::Bytes data) {
  if (stream == 0) {
    out_.Write(*this, data);
  } else if (stream == connection::kExtendedDataStderr) {
    err_.Write(*this, data);
  } else {
    connection_->Consume(channel_, data.size());
  }
}

void ExecClient::OnChannelRequest(uint32_t id, std::string_view type,
                                  bool want_reply, wire::Bytes data) {
  if (type == "exit-status") {
    auto status = connection::ParseExitStatus(data);
    if (status.ok()) exit_code_ = static_cast<int>(*status & 0xff);
  } else if (type == "exit-signal") {
    auto signal = connection::ExitSignal::Parse(data);
    if (signal.ok()) {
      const int number = connection::SignalNumber(signal->signal);
      Log(absl::StrCat("remote command killed by signal ",
                       base::SafeText(signal->signal),
                       signal->core_dumped ? " (core dumped)" : ""));
      // Like a shell reports a child killed by a signal.
      exit_code_ = number > 0 ? 128 + number : 255;
    }
  }
  if (want_reply) (void)connection_->ReplyRequest(id, false);
}

void ExecClient::OnClose(uint32_t) {
  channel_closed_ = true;
  channel_open_ = false;
  in_.Abandon();
  MaybeFinish();
}

connection::Connection* ExecClient::connection() {
  if (!channel_open_ || !connection_->HasChannel(channel_)) return nullptr;
  return connection_.get();
}

bool ExecClient::OutputRoom() const {
  return driver_->OutputBacklog() < net::kMaxOutputBacklog;
}

void ExecClient::Pump() {
  if (exec_accepted_ && !channel_closed_) {
    in_.Pump(*this);
    if (in_.done() && !eof_sent_) {
      eof_sent_ = true;
      (void)connection_->SendEof(channel_);
      Flush();
    }
  }
  MaybeFinish();
}

void ExecClient::MaybeFinish() {
  if (finished_ || !channel_closed_ || !out_.idle() || !err_.idle()) return;
  finished_ = true;
  // Everything the command wrote has reached our stdout/stderr.
  driver_->transport().Disconnect(transport::DisconnectReason::kByApplication,
                                  "session finished");
  driver_->Wake();
  CloseStreams();
}

}  // namespace sallyport::ssh::examples
