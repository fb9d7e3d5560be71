#include "ssh/examples/exec_client.h"

#include <fcntl.h>
#include <unistd.h>

#include "absl/strings/str_cat.h"
#include "base/safe_text.h"
#include "ssh/connection/messages.h"
#include "ssh/examples/common.h"

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

ExecClient::ExecClient(asio::any_io_executor executor, std::string command)
    : command_(std::move(command)),
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

void ExecClient::Attach(net::SessionDriver& driver) { driver_ = &driver; }

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
  driver_->session().Disconnect(std::string(error_.message().substr(0, 100)));
}

void ExecClient::OnHandshakeDone(session::Session& s) {
  Log(absl::StrCat("kex done: ", DescribeAlgorithms(s.transport())));
}

void ExecClient::OnAuthenticated(session::Session& s) {
  Log("authenticated");
  auto channel = s.OpenChannel("session");
  if (!channel.ok()) {
    Fail(channel.status());
    return;
  }
  channel_ = *channel;
}

void ExecClient::OnEnd(session::Session&, const absl::Status& why) {
  // Authentication refused, connection lost before the command finished.
  if (!finished_ && !exit_code_.has_value() && error_.ok() && !why.ok())
    error_ = why;
}

void ExecClient::OnChannelOpenResult(session::Channel channel,
                                     const connection::OpenResult& result) {
  if (!result.ok()) {
    Fail(absl::UnavailableError(
        absl::StrCat("session channel refused: ", result.status.message())));
    return;
  }
  channel_open_ = true;
  absl::Status s =
      channel.SendRequest("exec", /*want_reply=*/true,
                          connection::SerializeStringRequest(command_));
  if (!s.ok()) Fail(s);
}

void ExecClient::OnChannelRequestReply(session::Channel, bool success) {
  if (!success) {
    Fail(absl::FailedPreconditionError("exec request refused by the server"));
    return;
  }
  exec_accepted_ = true;
  Pump();
}

void ExecClient::OnData(session::Channel channel, uint32_t stream,
                        wire::Bytes data) {
  if (stream == 0) {
    out_.Write(*this, data);
  } else if (stream == connection::kExtendedDataStderr) {
    err_.Write(*this, data);
  } else {
    channel.Consume(data.size());
  }
}

void ExecClient::OnChannelRequest(session::Channel channel,
                                  std::string_view type, bool want_reply,
                                  wire::Bytes data,
                                  connection::RequestId request) {
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
  if (want_reply) (void)channel.Reply(request, false);
}

void ExecClient::OnClose(session::Channel) {
  channel_closed_ = true;
  channel_open_ = false;
  in_.Abandon();
  MaybeFinish();
}

connection::Connection* ExecClient::connection() {
  if (!channel_open_ || !channel_.valid()) return nullptr;
  return driver_->session().connection();
}

bool ExecClient::OutputRoom() const {
  return driver_->driver().OutputBacklog() < net::kMaxOutputBacklog;
}

void ExecClient::Pump() {
  if (exec_accepted_ && !channel_closed_) {
    in_.Pump(*this);
    if (in_.done() && !eof_sent_) {
      eof_sent_ = true;
      (void)channel_.SendEof();
      Flush();
    }
  }
  MaybeFinish();
}

void ExecClient::MaybeFinish() {
  if (finished_ || !channel_closed_ || !out_.idle() || !err_.idle()) return;
  finished_ = true;
  // Everything the command wrote has reached our stdout/stderr.
  driver_->session().Disconnect("session finished");
  CloseStreams();
}

}  // namespace sallyport::ssh::examples
