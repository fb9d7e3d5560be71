// One client connection of example_server: transport (through the Asio
// driver), user authentication against authorized keys and trusted user
// CAs, and the connection protocol with session and direct-tcpip channels.
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

class ServerConnection : public net::MessageHandler,
                         public connection::ConnectionHandler,
                         public auth::AuthPolicy,
                         public ChannelHost {
 public:
  // Serves one accepted client until the connection ends, then logs how it
  // ended ("connection from HOST:PORT ended: STATUS (kex count N)").
  static asio::awaitable<void> Serve(asio::ip::tcp::socket socket,
                                     const ServerConfig& config,
                                     ChildReaper& reaper);

  ServerConnection(const ServerConfig& config, ChildReaper& reaper,
                   asio::any_io_executor executor);
  ~ServerConnection() override;

  // net::MessageHandler
  absl::Status OnHandshakeDone(transport::Transport& t) override;
  absl::Status OnMessage(transport::Transport& t, wire::Bytes payload) override;
  void OnProgress(transport::Transport& t) override;

  // connection::ConnectionHandler
  void OnChannelOpen(uint32_t id, std::string_view type,
                     wire::Bytes extra) override;
  void OnData(uint32_t id, uint32_t stream, wire::Bytes data) override;
  void OnEof(uint32_t id) override;
  void OnClose(uint32_t id) override;
  void OnChannelRequest(uint32_t id, std::string_view type, bool want_reply,
                        wire::Bytes data, connection::RequestId) override;
  void OnWindowAvailable(uint32_t id) override;

  // auth::AuthPolicy
  auth::AuthDecision Decide(const auth::AuthAttempt& attempt) override;

  // ChannelHost
  connection::Connection& connection() override { return *connection_; }
  bool OutputRoom() const override;
  void Flush() override { driver_->Wake(); }
  void Forget(uint32_t id) override;

 private:
  void OpenDirectTcpip(uint32_t id, wire::Bytes extra);
  void ShutdownChannels();
  Channel* Find(uint32_t id);

  const ServerConfig& config_;
  ChildReaper& reaper_;
  asio::any_io_executor executor_;
  std::string peer_;  // "HOST:PORT"
  std::string ssh_connection_;
  std::unique_ptr<net::TransportDriver> driver_;
  std::unique_ptr<auth::ServerAuth> auth_;
  std::unique_ptr<connection::Connection> connection_;
  std::shared_ptr<const LoginInfo> login_;
  std::map<uint32_t, std::shared_ptr<Channel>> channels_;
};

}  // namespace sallyport::ssh::examples

#endif  // SALLYPORT_SSH_EXAMPLES_SERVER_CONNECTION_H_
