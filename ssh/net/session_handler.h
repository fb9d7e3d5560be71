// Runs a session::Session (ServerSession/ClientSession) on a
// TransportDriver: the driver owns the transport (Session::ReleaseTransport)
// and hands each message to the session, pauses dispatch while the session
// waits for an asynchronous auth decision, and resumes when the session
// wakes it.
//
// Not yet driven from here: the session's own timers (open timeout,
// keepalive probes); EndAt is mapped to TransportDriver::SetDeadline by the
// caller.
#ifndef SALLYPORT_SSH_NET_SESSION_HANDLER_H_
#define SALLYPORT_SSH_NET_SESSION_HANDLER_H_

#include <functional>

#include "ssh/net/driver.h"
#include "ssh/session/session.h"

namespace sallyport::ssh::net {

class SessionMessageHandler : public MessageHandler {
 public:
  // After each batch of input and each write completion the session's
  // queued channel output is flushed, then `on_progress` runs (resume
  // paused data sources there).
  SessionMessageHandler(session::Session& session, TransportDriver& driver,
                        std::function<void()> on_progress = nullptr)
      : session_(session),
        driver_(driver),
        on_progress_(std::move(on_progress)) {
    session_.set_wake([this] {
      driver_.ResumeDispatch();
      driver_.Wake();
    });
  }
  ~SessionMessageHandler() override { session_.set_wake(nullptr); }

  absl::Status OnHandshakeDone(transport::Transport&) override {
    session_.NoteHandshakeDone();
    return absl::OkStatus();
  }
  absl::Status OnMessage(transport::Transport&, wire::Bytes payload) override {
    return session_.HandleMessage(payload);
  }
  void OnProgress(transport::Transport&) override {
    // Channel output queued while the transport refused it (key exchange)
    // or the window was shut goes out first.
    session_.FlushOutput();
    if (on_progress_) on_progress_();
  }
  bool DispatchPaused() override { return session_.dispatch_paused(); }

 private:
  session::Session& session_;
  TransportDriver& driver_;
  std::function<void()> on_progress_;
};

}  // namespace sallyport::ssh::net

#endif  // SALLYPORT_SSH_NET_SESSION_HANDLER_H_
