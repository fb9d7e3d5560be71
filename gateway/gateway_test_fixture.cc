#include "gateway/gateway_test_fixture.h"

#include <cstdio>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "ca/issuer.h"
#include "ssh/cert/certificate.h"
#include "ssh/connection/messages.h"

namespace sallyport::gateway {

absl::StatusOr<std::string> WriteEnrolledGatewayFiles(
    const ca::EnrolledGateway& gw, const std::string& ca_state_dir,
    const std::string& gw_dir) {
  if (mkdir(gw_dir.c_str(), 0700) != 0)
    return absl::InternalError(absl::StrCat("cannot create ", gw_dir));
  const std::vector<std::pair<std::string, std::string>> files = {
      {"ssh_host_ed25519_key", gw.host_key_pem},
      {"ssh_host_ed25519_key-cert.pub",
       gw.response.host_certificate().ssh_certificate() + "\n"},
      {"gateway_tls.key", gw.tls_key_pem},
      {"gateway_tls.crt", gw.response.tls_client_certificate_pem()}};
  for (const auto& [name, text] : files) {
    if (absl::Status st =
            testing::WriteFile(absl::StrCat(gw_dir, "/", name), text, 0600);
        !st.ok()) {
      return st;
    }
  }
  absl::StatusOr<std::string> pem =
      base::ReadTextFile(ca_state_dir + "/tls.crt");
  if (!pem.ok()) return pem.status();
  // The CA's TLS certificate as enrolment pins it.
  if (absl::Status st = testing::WriteFile(gw_dir + "/ca.pem", *pem); !st.ok())
    return st;
  return CertificatePemFingerprint(*pem);
}

std::string PayloadText(std::string_view payload, std::string_view field) {
  const std::string key = absl::StrCat("\"", std::string(field), "\":\"");
  const size_t at = payload.find(key);
  if (at == std::string_view::npos) return "";
  const size_t start = at + key.size();
  const size_t end = payload.find('"', start);
  if (end == std::string_view::npos) return "";
  return std::string(payload.substr(start, end - start));
}

absl::Status OpenDirectTcpip(ssh::session::Session& s, const std::string& host,
                             uint32_t port) {
  ssh::connection::DirectTcpip d;
  d.host = host;
  d.port = port;
  d.originator_address = "127.0.0.1";
  d.originator_port = 40000;
  return s.OpenChannel("direct-tcpip", d.Serialize()).status();
}

namespace {

// The integer field `field` of an audit event's JSON payload
// ("duration_ms"), or nullopt when it has none.
std::optional<int64_t> PayloadInt(std::string_view payload,
                                  std::string_view field) {
  const std::string key = absl::StrCat("\"", std::string(field), "\":");
  const size_t at = payload.find(key);
  if (at == std::string_view::npos) return std::nullopt;
  const size_t start = at + key.size();
  const size_t end = payload.find_first_of(",}", start);
  int64_t n = 0;
  if (end == std::string_view::npos ||
      !absl::SimpleAtoi(absl::string_view(payload.data() + start, end - start),
                        &n)) {
    return std::nullopt;
  }
  return n;
}

}  // namespace

void SessionChannelClient::OnAuthenticated(ssh::session::Session& s) {
  session_ = &s;
  for (int i = 0; i < channels_; ++i) {
    if (!s.OpenChannel("session").ok()) s.Disconnect("cannot open");
  }
}

void SessionChannelClient::OnChannelOpenResult(
    ssh::session::Channel ch, const ssh::connection::OpenResult& r) {
  if (!r.ok()) {
    ADD_FAILURE() << r.description;
    session_->Disconnect("refused");
    return;
  }
  OnSessionOpen(ch);
}

void SessionChannelClient::OnData(ssh::session::Channel ch, uint32_t stream,
                                  ssh::wire::Bytes data) {
  (stream == 1 ? err : out).append(data.begin(), data.end());
  ch.Consume(data.size());
}

void SessionChannelClient::OnChannelRequest(
    ssh::session::Channel ch, std::string_view type, bool want_reply,
    ssh::wire::Bytes data, ssh::connection::RequestId request) {
  if (type == "exit-status") {
    absl::StatusOr<uint32_t> code = ssh::connection::ParseExitStatus(data);
    if (code.ok()) exit_status = *code;
  }
  if (want_reply) (void)ch.Reply(request, false);
}

void SessionChannelClient::OnClose(ssh::session::Channel) {
  if (++closed_ < channels_) return;
  OnAllClosed();
  session_->Disconnect("done");
}

void SessionChannelClient::Exec(ssh::session::Channel ch,
                                std::string_view command, bool want_reply) {
  (void)ch.SendRequest("exec", want_reply,
                       ssh::connection::SerializeStringRequest(command));
}

std::vector<std::string> GatewayTest::AuditPayloads(std::string_view type,
                                                    size_t at_least) {
  std::vector<std::string> out;
  const absl::Time limit = absl::Now() + absl::Seconds(30);
  do {
    out.clear();
    absl::StatusOr<std::vector<storage::AuditEvent>> all =
        env_->store().ListAuditEvents(0, 10000);
    EXPECT_TRUE(all.ok()) << all.status();
    if (!all.ok()) return out;
    for (const storage::AuditEvent& e : *all) {
      if (e.type == type) out.push_back(e.payload_json);
    }
    if (out.size() >= at_least) return out;
    absl::SleepFor(absl::Milliseconds(100));
  } while (absl::Now() < limit);
  return out;
}

::testing::AssertionResult GatewayTest::OneDurationWithin(std::string_view type,
                                                          absl::Duration most) {
  const std::vector<std::string> events = AuditPayloads(type);
  if (events.size() != 1) {
    return ::testing::AssertionFailure()
           << events.size() << " " << type
           << " events: " << absl::StrJoin(events, "\n");
  }
  const std::optional<int64_t> ms = PayloadInt(events[0], "duration_ms");
  if (!ms.has_value() || *ms < 0 || *ms > absl::ToInt64Milliseconds(most)) {
    return ::testing::AssertionFailure()
           << "duration_ms not within 0 and " << most << ": " << events[0];
  }
  return ::testing::AssertionSuccess();
}

GatewayTest::LoginResult GatewayTest::RunOurClient(
    const std::string& user, ssh::session::SessionHandler& handler,
    absl::Duration limit, size_t max_channels) {
  OurClientOptions options;
  options.limit = limit;
  options.max_channels = max_channels;
  return RunOurClient(user, handler, options);
}

GatewayTest::LoginResult GatewayTest::RunOurClient(
    const std::string& user, ssh::session::SessionHandler& handler,
    const OurClientOptions& options) {
  const absl::Duration limit = options.limit;
  const size_t max_channels = options.max_channels;
  LoginResult out;
  asio::io_context io;
  auto key = ssh::crypto::PrivateKey::LoadFile(key_path_);
  auto cert = ssh::cert::LoadCertificate(cert_path_);
  auto host_ca = ssh::crypto::PublicKey::FromAuthorizedKeysLine(
      env_->init().host_ca_public_key);
  EXPECT_TRUE(key.ok() && cert.ok() && host_ca.ok());
  if (!key.ok() || !cert.ok() || !host_ca.ok()) return out;
  ssh::cert::HostCertificatePolicy::Options hp;
  hp.trusted_cas = {*host_ca};
  hp.host_name = "127.0.0.1";
  auto policy = ssh::cert::HostCertificatePolicy::Create(hp);
  EXPECT_TRUE(policy.ok());
  if (!policy.ok()) return out;
  ssh::session::ClientSessionOptions o;
  o.transport.host_key_policy = std::move(*policy);
  o.connection.max_channels = max_channels;
  if (options.initial_window != 0)
    o.connection.initial_window = options.initial_window;
  o.auth.user = user;
  o.auth.identities.push_back(ssh::auth::ClientIdentity{*key, cert->blob});
  auto session = ssh::session::ClientSession::Create(std::move(o), handler);
  EXPECT_TRUE(session.ok()) << session.status();
  if (!session.ok()) return out;
  asio::ip::tcp::socket socket(io);
  asio::error_code ec;
  socket.connect(server_->local_endpoint(), ec);
  EXPECT_FALSE(ec) << ec.message();
  ssh::net::TransportDriver driver(std::move(socket),
                                   (*session)->ReleaseTransport());
  ssh::net::SessionMessageHandler mh(**session, driver);
  if (options.on_driver) options.on_driver(driver);
  asio::co_spawn(
      io, [&]() -> asio::awaitable<void> { out.end = co_await driver.Run(mh); },
      [](std::exception_ptr e) {
        if (e) ADD_FAILURE() << "the client driver coroutine threw";
      });
  io.run_for(absl::ToChronoNanoseconds(limit));
  out.authenticated = (*session)->authenticated();
  out.banner = (*session)->banner();
  return out;
}

OwnHost::~OwnHost() {
  io_.stop();
  if (thread_.joinable()) thread_.join();
}

std::unique_ptr<OwnHost> GatewayTest::StartOwnHost(
    const std::string& name, ssh::session::SessionHandler& handler,
    OwnHost::Options options) {
  const std::string state = env_->dir() + "/state";
  auto key_files = testing::GenerateKey(dir_->path(), name + "_host");
  EXPECT_TRUE(key_files.ok()) << key_files.status();
  if (!key_files.ok()) return nullptr;
  auto cert_path =
      testing::SignWithSshKeygen(state + "/host_ca", key_files->public_path,
                                 name, name, "-5m:+1h", /*host=*/true);
  EXPECT_TRUE(cert_path.ok()) << cert_path.status();
  if (!cert_path.ok()) return nullptr;
  auto key = ssh::crypto::PrivateKey::LoadFile(key_files->private_path);
  auto cert = ssh::cert::LoadCertificate(*cert_path);
  auto user_ca = ssh::crypto::PublicKey::FromAuthorizedKeysLine(
      env_->init().user_ca_public_key);
  EXPECT_TRUE(key.ok() && cert.ok() && user_ca.ok());
  if (!key.ok() || !cert.ok() || !user_ca.ok()) return nullptr;

  std::unique_ptr<OwnHost> host(new OwnHost());
  ssh::session::ServerSessionOptions o;
  o.transport.host_keys = {ssh::transport::ServerHostKey{*key, cert->blob}};
  o.connection = options.connection;
  o.auth.policy = host.get();
  o.auth.trusted_user_cas = {*user_ca};
  // The session certificate's source-address names the gateway.
  o.auth.peer_address = "127.0.0.1";
  o.auth.log = [name](const ssh::auth::AuthAttempt*, bool accepted,
                      std::string_view reason) {
    if (!accepted) {
      std::printf("%s refused: %s\n", name.c_str(),
                  std::string(reason).c_str());
    }
  };
  auto session = ssh::session::ServerSession::Create(std::move(o), handler);
  EXPECT_TRUE(session.ok()) << session.status();
  if (!session.ok()) return nullptr;
  host->session_ = std::move(*session);
  const asio::ip::tcp::endpoint loopback(asio::ip::make_address("127.0.0.1"),
                                         0);
  host->acceptor_.open(loopback.protocol());
  host->acceptor_.bind(loopback);
  host->acceptor_.listen();
  OwnHost* h = host.get();
  host->acceptor_.async_accept(
      [h, on_driver = std::move(options.on_driver)](
          const asio::error_code& ec, asio::ip::tcp::socket socket) {
        if (ec) {
          ADD_FAILURE() << "the host did not accept: " << ec.message();
          return;
        }
        h->driver_ = std::make_unique<ssh::net::TransportDriver>(
            std::move(socket), h->session_->ReleaseTransport());
        h->messages_ = std::make_unique<ssh::net::SessionMessageHandler>(
            *h->session_, *h->driver_);
        if (on_driver) on_driver(*h->driver_);
        asio::co_spawn(
            h->io_,
            [h]() -> asio::awaitable<void> {
              (void)co_await h->driver_->Run(*h->messages_);
            },
            [](std::exception_ptr e) {
              if (e) ADD_FAILURE() << "the host's driver coroutine threw";
            });
      });
  storage::Host record;
  record.name = name;
  record.address = "127.0.0.1";
  record.port = host->port();
  record.trust = storage::HostTrust::kHostCa;
  absl::StatusOr<storage::Host> created = env_->store().CreateHost(record);
  EXPECT_TRUE(created.ok()) << created.status();
  if (!created.ok()) return nullptr;
  host->thread_ = std::thread([h] { h->io_.run(); });
  return host;
}

void GatewayTest::SignAliceCertificate(
    const std::vector<std::string>& options) {
  absl::StatusOr<testing::RunResult> pub =
      testing::RunCommandOk({"ssh-keygen", "-y", "-f", key_path_});
  ASSERT_TRUE(pub.ok()) << pub.status();
  ASSERT_TRUE(testing::WriteFile(key_path_ + ".pub", pub->out).ok());
  // A serial the CA has not given (its own count from 1).
  static uint64_t serial = 4242;
  ++serial;
  std::vector<std::string> args = {"-z", absl::StrCat(serial)};
  args.insert(args.end(), options.begin(), options.end());
  absl::StatusOr<std::string> cert = testing::SignWithSshKeygen(
      env_->dir() + "/state/user_ca", key_path_ + ".pub", "alice", login_,
      "-5m:+1h", /*host=*/false, args);
  ASSERT_TRUE(cert.ok()) << cert.status();
  cert_path_ = *cert;
  // The CA accepts only login certificates it has a record of: the test
  // plays the issuance (whose roles could not give these options) and
  // records it as the issuer does.
  absl::StatusOr<ssh::cert::Certificate> signed_cert =
      ssh::cert::Certificate::FromLine(testing::ReadFileOrEmpty(*cert));
  ASSERT_TRUE(signed_cert.ok()) << signed_cert.status();
  const storage::IssuedCertificate record =
      ca::RecordOf(*signed_cert, "alice", storage::CertificatePurpose::kLogin);
  absl::StatusOr<storage::IssuedCertificate> recorded =
      env_->store().RecordCertificate(record);
  ASSERT_TRUE(recorded.ok()) << recorded.status();
}

::testing::AssertionResult GatewayTest::SessionEndedAs(
    std::string_view outcome_view) {
  const std::string outcome(outcome_view);
  const std::vector<std::string> ends = AuditPayloads("session.end");
  if (ends.size() != 1) {
    return ::testing::AssertionFailure()
           << ends.size()
           << " session.end events: " << absl::StrJoin(ends, "\n");
  }
  if (PayloadText(ends[0], "outcome") != outcome) {
    return ::testing::AssertionFailure()
           << "session.end says " << ends[0] << ", not outcome " << outcome;
  }
  const std::string log = GatewayLog();
  const size_t at = log.find("event=connection.close ");
  const std::string line =
      at == std::string::npos ? "" : log.substr(at, log.find('\n', at) - at);
  const std::string want =
      absl::StrCat("event=connection.close outcome=",
                   outcome == "ok" ? "success" : "failure");
  if (!absl::StartsWith(line, want) ||
      !absl::StrContains(line, absl::StrCat("result=\"", outcome, "\""))) {
    return ::testing::AssertionFailure()
           << "the log's connection.close line is \"" << line << "\", not "
           << want << " ... result=\"" << outcome << "\"";
  }
  const uint64_t counted =
      server_->ops()
          .metrics()
          .connections_closed.WithLabels({std::string(outcome)})
          .value();
  if (counted != 1) {
    return ::testing::AssertionFailure() << "connections_closed{outcome=\""
                                         << outcome << "\"} is " << counted;
  }
  return ::testing::AssertionSuccess();
}

uint64_t GatewayTest::AuthorizeChannelCalls() {
  return server_->ops()
      .metrics()
      .ca_rpc_seconds.WithLabels({"AuthorizeChannel"})
      .Read()
      .count;
}

::testing::AssertionResult GatewayTest::MetricsHave(
    const std::vector<std::string>& lines) {
  const std::string text = server_->ops().registry().Render();
  std::string missing;
  for (const std::string& line : lines) {
    if (!absl::StrContains(text, absl::StrCat("\n", line, "\n"))) {
      absl::StrAppend(&missing, "no line \"", line, "\"\n");
    }
  }
  if (missing.empty()) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << missing << "in the metrics:\n"
                                       << text;
}

}  // namespace sallyport::gateway
