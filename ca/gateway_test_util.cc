#include "ca/gateway_test_util.h"

#include "ca/tls_material.h"
#include "gtest/gtest.h"
#include "proto/admin.grpc.pb.h"
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
                             absl::Duration ttl, std::string* token) {
  auto admin = AdminChannel(env);
  if (admin == nullptr) return grpc::Status(grpc::StatusCode::INTERNAL, "");
  auto stub = admin::v1::Admin::NewStub(admin);
  admin::v1::CreateJoinTokenRequest request;
  request.set_purpose(purpose);
  *request.mutable_ttl() = ToDurationProto(ttl);
  admin::v1::CreateJoinTokenResponse response;
  grpc::ClientContext ctx;
  grpc::Status st = stub->CreateJoinToken(&ctx, request, &response);
  *token = response.token();
  return st;
}

EnrolledGateway Enroll(CaTestEnv& env, const std::string& token,
                       const std::string& name,
                       const std::vector<std::string>& principals) {
  EnrolledGateway out;
  auto tls_key = GenerateTlsKey();
  auto host_key = ssh::crypto::PrivateKey::GenerateEd25519();
  if (!tls_key.ok() || !host_key.ok()) {
    out.status = grpc::Status(grpc::StatusCode::INTERNAL, "keygen");
    return out;
  }
  out.tls_key_pem = std::string(PrivateKeyToPem(tls_key->get())->view());
  out.host_key_pem = std::string(host_key->ToOpenSshFormat()->view());
  out.host_public_key = host_key->public_key().ToAuthorizedKeysLine();
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

}  // namespace sallyport::ca
