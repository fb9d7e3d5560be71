#include "ca/gateway_test_util.h"

#include <atomic>
#include <chrono>
#include <vector>

#include "absl/strings/str_cat.h"
#include "audit/recording_record.h"
#include "ca/tls_material.h"
#include "gtest/gtest.h"
#include "proto/admin.grpc.pb.h"
#include "ssh/auth/signed_data.h"
#include "ssh/cert/certificate.h"
#include "ssh/crypto/keys.h"

namespace sallyport::ca {

std::string BackendName(Backend backend) {
  return backend == Backend::kSqlite ? "Sqlite" : "Postgres";
}

absl::StatusOr<std::unique_ptr<CaTestEnv>> StartCa(
    Backend backend, std::unique_ptr<testing::PostgresFixture>* pg,
    CaTestEnv::Options options) {
  if (backend == Backend::kPostgres) {
    absl::StatusOr<std::unique_ptr<testing::PostgresFixture>> started =
        testing::PostgresFixture::Start();
    if (!started.ok()) return started.status();
    *pg = std::move(*started);
    options.store_url = (*pg)->ConnectionUri();
  }
  return CaTestEnv::Create(std::move(options));
}

std::shared_ptr<grpc::Channel> AdminChannel(CaTestEnv& env) {
  CaTestEnv::LoginResult r = env.Login(env.init().admin, env.admin_password());
  EXPECT_TRUE(r.status.ok()) << r.status.error_message();
  return r.channel;
}

grpc::Status CreateJoinToken(CaTestEnv& env, const std::string& purpose,
                             absl::Duration ttl, std::string* token,
                             const std::string& gateway_name) {
  auto admin = AdminChannel(env);
  if (admin == nullptr) return grpc::Status(grpc::StatusCode::INTERNAL, "");
  auto stub = admin::v1::Admin::NewStub(admin);
  admin::v1::CreateJoinTokenRequest request;
  request.set_purpose(purpose);
  *request.mutable_ttl() = ToDurationProto(ttl);
  request.set_gateway_name(gateway_name);
  admin::v1::CreateJoinTokenResponse response;
  grpc::ClientContext ctx;
  grpc::Status st = stub->CreateJoinToken(&ctx, request, &response);
  *token = response.token();
  return st;
}

EnrolledGateway Enroll(CaTestEnv& env, const std::string& token,
                       const std::string& name,
                       const std::vector<std::string>& principals,
                       const std::string& host_public_key) {
  EnrolledGateway out;
  auto tls_key = GenerateTlsKey();
  auto host_key = ssh::crypto::PrivateKey::GenerateEd25519();
  if (!tls_key.ok() || !host_key.ok()) {
    out.status = grpc::Status(grpc::StatusCode::INTERNAL, "keygen");
    return out;
  }
  out.tls_key_pem = std::string(PrivateKeyToPem(tls_key->get())->view());
  if (host_public_key.empty()) {
    out.host_key_pem = std::string(host_key->ToOpenSshFormat()->view());
    out.host_public_key = host_key->public_key().ToAuthorizedKeysLine();
  } else {
    out.host_public_key = host_public_key;
  }
  gateway::v1::EnrollGatewayRequest request;
  request.set_token(token);
  request.set_name(name);
  request.set_tls_public_key_der(*PublicKeyToDer(tls_key->get()));
  request.set_ssh_host_public_key(out.host_public_key);
  for (const std::string& p : principals) request.add_principals(p);
  auto stub = gateway::v1::Gateway::NewStub(env.AnonymousChannel());
  grpc::ClientContext ctx;
  out.status = stub->EnrollGateway(&ctx, request, &out.response);
  if (out.status.ok()) {
    out.channel = env.ClientChannel(out.tls_key_pem,
                                    out.response.tls_client_certificate_pem());
  }
  return out;
}

EnrolledGateway EnrollOrDie(CaTestEnv& env, const std::string& name) {
  std::string token;
  grpc::Status st = CreateJoinToken(env, "gateway", absl::Hours(1), &token);
  EXPECT_TRUE(st.ok()) << st.error_message();
  EnrolledGateway gw = Enroll(env, token, name);
  EXPECT_TRUE(gw.status.ok()) << gw.status.error_message();
  return gw;
}

std::shared_ptr<grpc::Channel> UnrecordedGatewayChannel(
    CaTestEnv& env, const std::string& name) {
  auto tls_key = GenerateTlsKey();
  EXPECT_TRUE(tls_key.ok()) << tls_key.status();
  auto serial = env.store().AllocateSerial();
  EXPECT_TRUE(serial.ok()) << serial.status();
  if (!tls_key.ok() || !serial.ok()) return nullptr;
  auto pem = env.server().client_ca().Issue(
      ClientIdentity::Kind::kGateway, name, *serial,
      env.clock().Now() - absl::Minutes(1), env.clock().Now() + absl::Hours(1),
      *PublicKeyToDer(tls_key->get()));
  EXPECT_TRUE(pem.ok()) << pem.status();
  if (!pem.ok()) return nullptr;
  return env.ClientChannel(std::string(PrivateKeyToPem(tls_key->get())->view()),
                           *pem);
}

std::string IssueHostCertificateAsAdmin(CaTestEnv& env, const std::string& name,
                                        const std::string& public_key) {
  v1::IssueHostCertificateRequest request;
  request.set_host(name);
  request.set_ssh_public_key(public_key);
  v1::IssueHostCertificateResponse response;
  grpc::ClientContext ctx;
  grpc::Status st = v1::CertificateAuthority::NewStub(AdminChannel(env))
                        ->IssueHostCertificate(&ctx, request, &response);
  EXPECT_TRUE(st.ok()) << st.error_message();
  return response.ssh_certificate();
}

audit::v1::RecordingSession RecordingMeta(const std::string& id) {
  audit::v1::RecordingSession m;
  m.set_session_id(id);
  m.set_user("alice");
  m.set_login("ubuntu");
  m.set_host("web01");
  m.set_started_at_us(1700000000000000);
  return m;
}

std::vector<audit::v1::RecordingRecord> RecordingChain(const std::string& id,
                                                       int n, bool end,
                                                       char fill, size_t size) {
  audit::RecordChainer chain(id);
  std::vector<audit::v1::RecordingRecord> out;
  for (int i = 0; i < n + (end ? 1 : 0); ++i) {
    audit::v1::RecordingRecord r;
    r.set_offset_us(1000 * (i + 1));
    if (i < n) {
      r.mutable_data()->set_direction(audit::v1::RECORD_DIRECTION_OUTPUT);
      r.mutable_data()->set_bytes(std::string(size, fill));
    } else {
      r.mutable_session_end()->set_status(audit::v1::SESSION_STATUS_ENDED);
    }
    EXPECT_TRUE(chain.Append(r).ok());
    out.push_back(r);
  }
  return out;
}

grpc::Status UploadRecording(
    const std::shared_ptr<grpc::Channel>& channel,
    const audit::v1::RecordingSession& meta,
    const std::vector<std::vector<audit::v1::RecordingRecord>>& messages,
    gateway::v1::UploadRecordingResponse* response) {
  auto stub = gateway::v1::GatewayRecordings::NewStub(channel);
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(60));
  auto writer = stub->UploadRecording(&ctx, response);
  gateway::v1::UploadRecordingRequest m;
  *m.mutable_session() = meta;
  if (messages.empty()) writer->Write(m);
  for (const auto& records : messages) {
    for (const auto& r : records) *m.add_records() = r;
    if (!writer->Write(m)) break;
    m.Clear();
  }
  writer->WritesDone();
  return writer->Finish();
}

grpc::Status SendExecEvent(const std::shared_ptr<grpc::Channel>& channel,
                           const std::string& session,
                           const std::string& command) {
  gateway::v1::RecordGatewayEventsRequest req;
  gateway::v1::GatewayEvent* e = req.add_events();
  e->set_type("exec.command");
  e->set_session_id(session);
  e->set_user("alice");
  e->mutable_at()->set_seconds(1700000000);
  gateway::v1::GatewayEventField* f = e->add_fields();
  f->set_name("command");
  f->set_text(command);
  gateway::v1::RecordGatewayEventsResponse resp;
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(60));
  return gateway::v1::GatewayEvents::NewStub(channel)->RecordGatewayEvents(
      &ctx, req, &resp);
}

int CountAuditEvents(storage::Store& store, std::string_view type,
                     std::initializer_list<std::string_view> texts) {
  auto events = store.ListAuditEvents(0, 10000);
  EXPECT_TRUE(events.ok()) << events.status();
  if (!events.ok()) return -1;
  int n = 0;
  for (const auto& e : *events) {
    bool all = e.type == type;
    for (std::string_view t : texts) {
      all = all && e.payload_json.find(t) != std::string::npos;
    }
    n += all ? 1 : 0;
  }
  return n;
}

namespace {

// The edit that sets the gateway section to `settings` (its lines).
std::pair<std::string, std::string> GatewaySectionEdit(
    const std::string& settings) {
  return {"# gateway:\n#   egress_addresses: [10.0.0.2/32]\n",
          absl::StrCat("gateway:\n", settings)};
}

}  // namespace

std::pair<std::string, std::string> GatewayWriteBudgetEdit(uint64_t rate,
                                                           uint64_t burst) {
  return GatewaySectionEdit(
      absl::StrCat("  write_rate_bytes_per_second: ", rate,
                   "\n  write_burst_bytes: ", burst, "\n"));
}

std::pair<std::string, std::string> GatewayMaxOpenSessionsEdit(int64_t max) {
  return GatewaySectionEdit(absl::StrCat("  max_open_sessions: ", max, "\n"));
}

std::unique_ptr<CaTestEnv> MakeEnv(CaTestEnv::Options options) {
  auto env = CaTestEnv::Create(options);
  EXPECT_TRUE(env.ok()) << env.status();
  return env.ok() ? std::move(*env) : nullptr;
}

absl::StatusOr<grpc::Status> GetCaPublicKeys(
    const std::shared_ptr<grpc::Channel>& channel) {
  auto stub = v1::CertificateAuthority::NewStub(channel);
  grpc::ClientContext ctx;
  v1::CaPublicKeys keys;
  return stub->GetCaPublicKeys(&ctx, {}, &keys);
}

absl::Status RevokeSerial4242(storage::Store& store) {
  storage::Revocation revoked;
  revoked.serial = 4242;
  revoked.reason = "test";
  revoked.revoked_by = "admin";
  return store.Revoke(revoked).status();
}

RevocationStreams::~RevocationStreams() {
  for (Stream& s : open_) {
    s.ctx->TryCancel();
    s.reader->Finish();
  }
}

bool RevocationStreams::HoldTaken(
    const std::shared_ptr<grpc::Channel>& channel) {
  open_.push_back(Open(channel, std::nullopt));
  v1::Revocation r;
  return open_.back().reader->Read(&r);
}

grpc::Status RevocationStreams::Try(
    const std::shared_ptr<grpc::Channel>& channel) {
  Stream s = Open(channel, absl::Seconds(1));
  v1::Revocation r;
  if (s.reader->Read(&r)) return grpc::Status::OK;  // unexpected
  grpc::Status st = s.reader->Finish();
  // Held open until the client's deadline: the CA took the stream.
  if (st.error_code() == grpc::StatusCode::DEADLINE_EXCEEDED) {
    return grpc::Status::OK;
  }
  return st;
}

bool RevocationStreams::Delivers(const std::shared_ptr<grpc::Channel>& channel,
                                 absl::Duration within) {
  const absl::Time deadline = absl::Now() + within;
  do {
    Stream s = Open(channel, absl::Seconds(2));
    v1::Revocation r;
    if (s.reader->Read(&r)) {
      s.ctx->TryCancel();
      s.reader->Finish();
      return true;
    }
    s.reader->Finish();
  } while (absl::Now() < deadline);
  return false;
}

void RevocationStreams::CloseFirst() {
  open_.front().ctx->TryCancel();
  open_.front().reader->Finish();
  open_.erase(open_.begin());
}

RevocationStreams::Stream RevocationStreams::Open(
    const std::shared_ptr<grpc::Channel>& channel,
    std::optional<absl::Duration> deadline) {
  Stream s;
  s.ctx = std::make_unique<grpc::ClientContext>();
  if (deadline.has_value()) {
    s.ctx->set_deadline(absl::ToChronoTime(absl::Now() + *deadline));
  }
  s.reader = v1::CertificateAuthority::NewStub(channel)->WatchRevocations(
      s.ctx.get(), {});
  return s;
}

UserauthProof SignedLogin(const CaTestEnv::LoginResult& who,
                          const std::string& user_name,
                          const ssh::crypto::PrivateKey* key,
                          std::string certificate_line) {
  if (certificate_line.empty()) {
    certificate_line = who.response.ssh_certificate();
  }
  absl::StatusOr<ssh::cert::Certificate> cert =
      ssh::cert::Certificate::FromLine(certificate_line);
  EXPECT_TRUE(cert.ok()) << cert.status();
  absl::StatusOr<ssh::crypto::PrivateKey> own_key =
      ssh::crypto::PrivateKey::Parse(who.ssh_private_key);
  EXPECT_TRUE(own_key.ok()) << own_key.status();
  if (!cert.ok() || !own_key.ok()) return {};
  // A new session identifier for every proof, as every connection has
  // (the CA gives each proof one session certificate).
  static std::atomic<uint64_t> proofs{0};
  std::vector<uint8_t> session_id(32, 0x5a);
  const uint64_t n = ++proofs;
  for (int i = 0; i < 8; ++i) {
    session_id[i] = static_cast<uint8_t>(n >> (8 * i));
  }
  const std::vector<uint8_t> data = ssh::auth::SignedData(
      session_id, user_name, "ssh-connection", cert->type_name, cert->blob);
  absl::StatusOr<std::vector<uint8_t>> sig =
      (key != nullptr ? *key : *own_key).Sign(data);
  EXPECT_TRUE(sig.ok()) << sig.status();
  if (!sig.ok()) return {};
  return {std::string(data.begin(), data.end()),
          std::string(sig->begin(), sig->end())};
}

}  // namespace sallyport::ca
