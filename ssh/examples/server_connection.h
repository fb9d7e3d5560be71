// One client connection of example_server: a session::ServerSession on the
// Asio driver, authenticating against authorized keys and trusted user CAs,
// with session and direct-tcpip channels.
#ifndef SALLYPORT_SSH_EXAMPLES_SERVER_CONNECTION_H_
#define SALLYPORT_SSH_EXAMPLES_SERVER_CONNECTION_H_

#include <asio.hpp>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "ssh/auth/auth.h"
#include "ssh/connection/connection.h"
#include "ssh/crypto/keys.h"
#include "ssh/examples/channel.h"
#include "ssh/examples/child_reaper.h"
#include "ssh/examples/session.h"
#include "ssh/net/driver.h"
#include "ssh/net/listener.h"
#include "ssh/net/session_driver.h"
#include "ssh/session/session.h"
#include "ssh/transport/transport.h"

namespace sallyport::ssh::examples {

struct ServerConfig {
  transport::TransportOptions transport;
  // Plain keys allowed to log in (--authorized-keys).
  std::vector<crypto::PublicKey> authorized_keys;
  // CAs whose user certificates are trusted (--user-ca); the principal
  // must be the login user.
  std::vector<crypto::PublicKey> user_cas;
  // The only user who may log in: the one running the server, whose
  // account the commands run as.
  std::string login_user;
  std::string home;
  std::string shell;
};

class ServerConnection : public session::SessionHandler,
                         public auth::AuthPolicy,
                         public ChannelHost {
 public:
  // Serves one accepted client until the connection ends, then logs how it
  // ended ("connection from HOST:PORT ended: STATUS (kex count N)").
  // `slot` (from the Listener) ends the connection at the login grace
  // deadline and is told when the user authenticated.
  static asio::awaitable<void> Serve(asio::ip::tcp::socket socket,
                                     const ServerConfig& config,
                                     ChildReaper& reaper,
                                     std::shared_ptr<net::PreAuthSlot> slot);

  ServerConnection(const ServerConfig& config, ChildReaper& reaper,
                   asio::any_io_executor executor);
  ~ServerConnection() override;

  // session::SessionHandler
  void OnHandshakeDone(session::Session& s) override;
  void OnAuthenticated(session::Session& s) override;
  void OnChannelOpen(session::Channel channel, std::string_view type,
                     wire::Bytes extra) override;
  void OnData(session::Channel channel, uint32_t stream,
              wire::Bytes data) override;
  void OnEof(session::Channel channel) override;
  void OnClose(session::Channel channel) override;
  void OnChannelRequest(session::Channel channel, std::string_view type,
                        bool want_reply, wire::Bytes data,
                        connection::RequestId request) override;
  void OnWindowAvailable(session::Channel channel) override;

  // auth::AuthPolicy
  auth::AuthDecision Decide(const auth::AuthAttempt& attempt) override;

  // ChannelHost
  connection::Connection& connection() override {
    return *session_->connection();
  }
  bool OutputRoom() const override;
  void Flush() override { driver_->driver().Wake(); }
  void Forget(uint32_t id) override;

 private:
  void OpenDirectTcpip(session::Channel channel, wire::Bytes extra);
  void ShutdownChannels();
  void PumpAll();
  Channel* Find(uint32_t id);

  const ServerConfig& config_;
  ChildReaper& reaper_;
  asio::any_io_executor executor_;
  std::string peer_;  // "HOST:PORT"
  std::string ssh_connection_;
  // The driver owns the session (session_ points into it).
  std::unique_ptr<net::SessionDriver> driver_;
  session::ServerSession* session_ = nullptr;
  std::shared_ptr<const LoginInfo> login_;
  std::map<uint32_t, std::shared_ptr<Channel>> channels_;
};

}  // namespace sallyport::ssh::examples

#endif  // SALLYPORT_SSH_EXAMPLES_SERVER_CONNECTION_H_
