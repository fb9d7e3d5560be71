#include "ssh/net/session_driver.h"

#include <utility>

#include "ssh/net/session_handler.h"

namespace sallyport::ssh::net {

// The session's message handler, noticing authentication as soon as the
// message that completed it (or the asynchronous decision) is through.
class SessionDriver::Handler : public SessionMessageHandler {
 public:
  explicit Handler(SessionDriver& owner)
      : SessionMessageHandler(*owner.session_, *owner.driver_,
                              [&owner] { owner.NoteProgress(); }),
        owner_(owner) {}

  absl::Status OnMessage(transport::Transport& t,
                         wire::Bytes payload) override {
    absl::Status s = SessionMessageHandler::OnMessage(t, payload);
    if (owner_.slot_ != nullptr && owner_.session_->authenticated())
      owner_.slot_->Authenticated();
    return s;
  }

 private:
  SessionDriver& owner_;
};

absl::StatusOr<std::unique_ptr<SessionDriver>> SessionDriver::Create(
    std::unique_ptr<ByteStream> stream,
    std::unique_ptr<session::Session> session, DriverOptions options) {
  if (stream == nullptr) return absl::InvalidArgumentError("no stream");
  if (session == nullptr) return absl::InvalidArgumentError("no session");
  std::unique_ptr<transport::Transport> transport = session->ReleaseTransport();
  if (transport == nullptr) {
    return absl::InvalidArgumentError(
        "the session's transport is owned by another driver");
  }
  return std::unique_ptr<SessionDriver>(new SessionDriver(
      std::move(stream), std::move(transport), std::move(session), options));
}

absl::StatusOr<std::unique_ptr<SessionDriver>> SessionDriver::Create(
    asio::ip::tcp::socket socket, std::unique_ptr<session::Session> session,
    DriverOptions options) {
  return Create(std::make_unique<TcpStream>(std::move(socket)),
                std::move(session), options);
}

SessionDriver::SessionDriver(std::unique_ptr<ByteStream> stream,
                             std::unique_ptr<transport::Transport> transport,
                             std::unique_ptr<session::Session> session,
                             DriverOptions options)
    : driver_(std::make_unique<TransportDriver>(std::move(stream),
                                                std::move(transport), options)),
      session_(std::move(session)),
      handler_(std::make_unique<Handler>(*this)) {}

SessionDriver::~SessionDriver() {
  if (slot_ != nullptr) slot_->Attach(nullptr);
}

void SessionDriver::AttachPreAuthSlot(std::shared_ptr<PreAuthSlot> slot) {
  if (slot_ != nullptr) slot_->Attach(nullptr);
  slot_ = std::move(slot);
  if (slot_ == nullptr) return;
  if (session_->authenticated()) {
    slot_->Authenticated();
  } else {
    slot_->Attach(driver_.get());
  }
}

void SessionDriver::NoteProgress() {
  if (slot_ != nullptr && session_->authenticated()) slot_->Authenticated();
  if (on_progress_) on_progress_();
}

asio::awaitable<absl::Status> SessionDriver::Run() {
  absl::Status end = co_await driver_->Run(*handler_);
  if (slot_ != nullptr) slot_->Attach(nullptr);
  session_->NoteDriverEnded(end);
  co_return end;
}

}  // namespace sallyport::ssh::net
