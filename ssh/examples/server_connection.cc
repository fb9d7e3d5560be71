#include "ssh/examples/server_connection.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "ssh/connection/messages.h"
#include "ssh/examples/common.h"
#include "ssh/examples/tcp_forward.h"
#include "ssh/transport/messages.h"

namespace sallyport::ssh::examples {
namespace {

std::string Describe(const auth::AuthAttempt& a) {
  std::string s = absl::StrCat("user ", SafeText(a.user), " key ",
                               a.key.FingerprintSha256());
  if (a.certificate.has_value()) {
    absl::StrAppend(&s, " certificate id \"", SafeText(a.certificate->key_id),
                    "\" serial ", a.certificate->serial, " CA ",
                    a.certificate->CaFingerprint());
  }
  return s;
}

}  // namespace

asio::awaitable<void> ServerConnection::Serve(asio::ip::tcp::socket socket,
                                              const ServerConfig& config,
                                              ChildReaper& reaper) {
  ServerConnection self(config, reaper, socket.get_executor());
  asio::error_code ec;
  auto remote = socket.remote_endpoint(ec);
  auto local = socket.local_endpoint(ec);
  self.peer_ = absl::StrCat(remote.address().to_string(), ":", remote.port());
  self.ssh_connection_ =
      absl::StrCat(remote.address().to_string(), " ", remote.port(), " ",
                   local.address().to_string(), " ", local.port());

  auto t = transport::Transport::Create(config.transport);
  if (!t.ok()) {
    Log(absl::StrCat("cannot create transport: ", t.status().ToString()));
    co_return;
  }
  transport::Transport& transport = **t;
  self.driver_ =
      std::make_unique<net::TransportDriver>(std::move(socket), std::move(*t));

  auth::ServerAuthOptions auth_options;
  auth_options.policy = &self;
  auth_options.trusted_user_cas = config.user_cas;
  auth_options.peer_address = remote.address().to_string();
  auth_options.log = [peer = self.peer_](const auth::AuthAttempt* attempt,
                                         bool accepted,
                                         std::string_view reason) {
    Log(absl::StrCat("auth from ", peer, ": ",
                     accepted ? "accepted " : "refused ",
                     attempt != nullptr ? Describe(*attempt) : "request", ": ",
                     SafeText(reason)));
  };
  self.auth_ =
      std::make_unique<auth::ServerAuth>(transport, std::move(auth_options));
  self.connection_ = std::make_unique<connection::Connection>(transport, self);

  absl::Status end = co_await self.driver_->Run(self);
  self.ShutdownChannels();
  Log(absl::StrCat("connection from ", self.peer_, " ended: ", end.ToString(),
                   " (kex count ", transport.kex_count(), ")"));
}

ServerConnection::ServerConnection(const ServerConfig& config,
                                   ChildReaper& reaper,
                                   asio::any_io_executor executor)
    : config_(config), reaper_(reaper), executor_(std::move(executor)) {}

ServerConnection::~ServerConnection() { ShutdownChannels(); }

void ServerConnection::ShutdownChannels() {
  auto channels = std::move(channels_);
  channels_.clear();
  for (auto& [id, channel] : channels) channel->Shutdown();
}

absl::Status ServerConnection::OnHandshakeDone(transport::Transport& t) {
  Log(absl::StrCat("kex done: ", DescribeAlgorithms(t)));
  return absl::OkStatus();
}

absl::Status ServerConnection::OnMessage(transport::Transport&,
                                         wire::Bytes payload) {
  const uint8_t type = payload[0];
  if (type == transport::kMsgServiceRequest || (type >= 50 && type <= 79)) {
    absl::Status s = auth_->Handle(payload);
    if (auth_->authenticated() && login_ == nullptr) {
      auto login = std::make_shared<LoginInfo>();
      login->user = config_.login_user;
      login->home = config_.home;
      login->shell = config_.shell;
      login->ssh_connection = ssh_connection_;
      login->permissions = auth_->identity()->permissions;
      login_ = std::move(login);
    }
    return s;
  }
  if (type >= 80 && type <= 127) return connection_->Handle(payload);
  return absl::OkStatus();
}

void ServerConnection::OnProgress(transport::Transport&) {
  // Output drained or input processed: paused readers may go on.
  for (auto& [id, channel] : channels_) channel->Pump();
}

bool ServerConnection::OutputRoom() const {
  return driver_->OutputBacklog() < kMaxOutputBacklog;
}

Channel* ServerConnection::Find(uint32_t id) {
  auto it = channels_.find(id);
  return it == channels_.end() ? nullptr : it->second.get();
}

void ServerConnection::Forget(uint32_t id) { channels_.erase(id); }

void ServerConnection::OnChannelOpen(uint32_t id, std::string_view type,
                                     wire::Bytes extra) {
  if (login_ == nullptr) {  // the transport allows no channel before auth
    (void)connection_->RejectChannel(
        id, connection::OpenFailure::kAdministrativelyProhibited,
        "not authenticated");
    return;
  }
  if (type == "session") {
    auto session =
        std::make_shared<Session>(executor_, this, id, reaper_, login_);
    channels_[id] = std::move(session);
    (void)connection_->AcceptChannel(id);
    return;
  }
  if (type == "direct-tcpip") {
    OpenDirectTcpip(id, extra);
    return;
  }
  Log(absl::StrCat("channel type ", SafeText(type), " refused"));
  (void)connection_->RejectChannel(
      id, connection::OpenFailure::kUnknownChannelType, "unknown channel type");
}

void ServerConnection::OpenDirectTcpip(uint32_t id, wire::Bytes extra) {
  const auto refuse = [&](std::string_view why) {
    Log(absl::StrCat("direct-tcpip refused: ", std::string(why)));
    (void)connection_->RejectChannel(
        id, connection::OpenFailure::kAdministrativelyProhibited, why);
  };
  if (login_->permissions.has_value() &&
      !login_->permissions->permit_port_forwarding) {
    refuse("the certificate does not permit port forwarding");
    return;
  }
  auto request = connection::DirectTcpip::Parse(extra);
  if (!request.ok()) {
    refuse("malformed direct-tcpip request");
    return;
  }
  auto destination = LoopbackDestination(*request);
  if (!destination.ok()) {
    refuse(std::string(destination.status().message()));
    return;
  }
  Log(absl::StrCat("direct-tcpip ", id, " to ",
                   destination->address().to_string(), ":",
                   destination->port()));
  auto forward = std::make_shared<TcpForward>(executor_, this, id);
  channels_[id] = forward;
  forward->Connect(*destination);
}

void ServerConnection::OnData(uint32_t id, uint32_t stream, wire::Bytes data) {
  if (Channel* c = Find(id)) {
    c->OnData(stream, data);
  } else {
    connection_->Consume(id, data.size());
  }
}

void ServerConnection::OnEof(uint32_t id) {
  if (Channel* c = Find(id)) c->OnEof();
}

void ServerConnection::OnClose(uint32_t id) {
  auto it = channels_.find(id);
  if (it == channels_.end()) return;
  std::shared_ptr<Channel> channel = std::move(it->second);
  channels_.erase(it);
  channel->Shutdown();
}

void ServerConnection::OnChannelRequest(uint32_t id, std::string_view type,
                                        bool want_reply, wire::Bytes data,
                                        connection::RequestId) {
  if (Channel* c = Find(id)) {
    c->OnRequest(type, want_reply, data);
  } else if (want_reply) {
    (void)connection_->ReplyRequest(id, false);
  }
}

void ServerConnection::OnWindowAvailable(uint32_t id) {
  if (Channel* c = Find(id)) c->Pump();
}

auth::AuthDecision ServerConnection::Decide(const auth::AuthAttempt& attempt) {
  auth::AuthDecision d;
  if (attempt.user != config_.login_user) {
    d.reason =
        absl::StrCat("only ", config_.login_user, " may log in to this server");
    return d;
  }
  if (attempt.certificate.has_value()) {
    // ServerAuth has verified it: trusted CA, user type, signature,
    // validity, principal = user, critical options.
    d.result = auth::AuthResult::kAccept;
    d.reason = "certificate";
    return d;
  }
  for (const auto& key : config_.authorized_keys) {
    if (key == attempt.key) {
      d.result = auth::AuthResult::kAccept;
      d.reason = "authorized key";
      return d;
    }
  }
  d.reason = "key not in authorized keys";
  return d;
}

}  // namespace sallyport::ssh::examples
