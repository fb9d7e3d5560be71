// A "session" channel of example_server (RFC 4254 §6): a child process
// started by exec, shell or subsystem, with pipes (stderr as extended
// data) or a pty (pty-req), env (LANG, LC_*), window-change, signal, and
// exit-status / exit-signal once all of its output was sent.
#ifndef SALLYPORT_SSH_EXAMPLES_SESSION_H_
#define SALLYPORT_SSH_EXAMPLES_SESSION_H_

#include <sys/types.h>

#include <asio.hpp>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "ssh/cert/verify.h"
#include "ssh/connection/messages.h"
#include "ssh/examples/channel.h"
#include "ssh/examples/child_reaper.h"
#include "ssh/net/channel_io.h"

namespace sallyport::ssh::examples {

// Who logged in on the connection, for the processes it starts.
struct LoginInfo {
  std::string user;
  std::string home;
  std::string shell;  // login shell; empty: /bin/sh
  // "client_ip client_port server_ip server_port" for SSH_CONNECTION.
  std::string ssh_connection;
  // Set for certificate logins: permit-pty and force-command apply.
  std::optional<cert::CertificatePermissions> permissions;
};

class Session : public Channel {
 public:
  Session(asio::any_io_executor executor, ChannelHost* host, uint32_t id,
          ChildReaper& reaper, std::shared_ptr<const LoginInfo> login);
  ~Session() override;

  void OnData(uint32_t stream, wire::Bytes data) override;
  void OnEof() override;
  void OnRequest(std::string_view type, bool want_reply,
                 wire::Bytes data) override;
  void Pump() override;
  void Shutdown() override;
  void OnPumpEvent() override { Pump(); }

 private:
  using Descriptor = asio::posix::stream_descriptor;

  // Starts the child for exec/shell/subsystem (only once per channel).
  absl::Status Start(std::string_view kind, const std::string& command);
  absl::Status Spawn(const std::string& path,
                     const std::vector<std::string>& argv,
                     const std::vector<std::string>& env);
  std::vector<std::string> Environment(
      const std::string& original_command) const;
  void OnChildExit(int wait_status);
  // Sends exit-status/exit-signal, EOF and CLOSE once the child has exited
  // and its output was read to EOF and sent.
  void MaybeFinish();
  void CloseStreams();

  ChildReaper& reaper_;
  std::shared_ptr<const LoginInfo> login_;
  std::optional<connection::PtyRequest> pty_;
  std::vector<std::pair<std::string, std::string>> env_;
  bool started_ = false;
  pid_t pid_ = -1;
  bool child_exited_ = false;
  int wait_status_ = 0;
  bool finished_ = false;
  int pty_master_ = -1;  // the fd stdout_ reads from when there is a pty

  Descriptor stdin_, stdout_, stderr_;
  net::ChannelWriter<Descriptor> in_;
  net::ChannelReader<Descriptor> out_, err_;
};

}  // namespace sallyport::ssh::examples

#endif  // SALLYPORT_SSH_EXAMPLES_SESSION_H_
