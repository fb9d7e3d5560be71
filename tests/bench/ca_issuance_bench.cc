// CA issuance benchmark (issues 6 and 11): certificates issued per second
// over gRPC (TLS, client certificates) with C concurrent clients, against an
// in-process sallyport-ca with a real clock, and the latency of one issuance
// on an idle CA.
//
//   ca_issuance_bench [--clients=8,64] [--seconds=10]
//   [--backend=sqlite,postgres]
//                     [--dir=/var/tmp] [--scrypt_log_n=15] [--login]
//                     [--idle_calls=1000]
//
// Measurements, per backend:
//   issue  IssueUserCertificate (mutual TLS; policy, serial, sign, record,
//          audit event) per second for each client count.
//   idle   p50/p99 latency of one IssueUserCertificate, one call at a time.
//   session IssueSessionCertificate: see MeasureSessionCertificates (the
//          hook for the gateway RPCs of issue 11).
//   login  (with --login) Login: password + scrypt N=2^15 + the same issuance
//          + an X.509 client certificate: what `sp login` costs the CA.
// SQLite runs on --dir (a real disk: synchronous=FULL, an fsync per
// commit); PostgreSQL is the harness server (fsync off).
// Goal (issue 11): >= 5,000 certificates/s on SQLite on the 2-core CI box;
// p99 <= 5 ms idle.
#include <sys/resource.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstring>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "ca/ca_config.h"
#include "ca/init.h"
#include "ca/server.h"
#include "ca/tls_material.h"
#include "proto/ca.grpc.pb.h"
#include "ssh/crypto/keys.h"
#include "storage/open.h"
#include "tests/harness/postgres_fixture.h"
#include "tests/harness/subprocess.h"
#include "tests/harness/temp_dir.h"

namespace sallyport::ca {
namespace {

struct Flags {
  std::vector<int> clients = {8, 64};
  int seconds = 10;
  std::vector<std::string> backends = {"sqlite", "postgres"};
  std::string dir = "/var/tmp";
  int scrypt_log_n = 15;
  bool login = false;
  int idle_calls = 1000;
};

struct Client {
  std::string tls_key_pem;
  std::string tls_cert_pem;
  std::shared_ptr<grpc::Channel> channel;
  std::unique_ptr<v1::CertificateAuthority::Stub> stub;
};

std::shared_ptr<grpc::Channel> Channel(const std::string& address,
                                       const std::string& ca_pem,
                                       const std::string& key_pem,
                                       const std::string& cert_pem) {
  grpc::SslCredentialsOptions tls;
  tls.pem_root_certs = ca_pem;
  tls.pem_private_key = key_pem;
  tls.pem_cert_chain = cert_pem;
  grpc::ChannelArguments args;
  args.SetSslTargetNameOverride(std::string(kServerTlsName));
  args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
  return grpc::CreateCustomChannel(address, grpc::SslCredentials(tls), args);
}

v1::LoginRequest MakeLogin(const std::string& user, const std::string& pw,
                           std::string* tls_key_pem) {
  auto ssh_key = ssh::crypto::PrivateKey::GenerateEd25519();
  auto tls_key = GenerateTlsKey();
  v1::LoginRequest r;
  r.set_user(user);
  r.set_password(pw);
  r.set_ssh_public_key(ssh_key->public_key().ToAuthorizedKeysLine());
  r.set_tls_public_key_der(*PublicKeyToDer(tls_key->get()));
  *tls_key_pem = std::string(PrivateKeyToPem(tls_key->get())->view());
  return r;
}

// CPU time (user + system) this process used so far: client and server
// threads together, since the CA runs in-process.
absl::Duration ProcessCpu() {
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  return absl::DurationFromTimeval(ru.ru_utime) +
         absl::DurationFromTimeval(ru.ru_stime);
}

// Runs `op` on the first `n` clients for `seconds`; returns calls per second.
// `cpu_per_call` (when set): process CPU per successful call.
template <typename Op>
double Measure(std::vector<Client>& clients, size_t n, int seconds, Op op,
               int64_t* failures, absl::Duration* cpu_per_call = nullptr) {
  std::atomic<int64_t> done{0}, failed{0};
  const absl::Duration cpu_start = ProcessCpu();
  const absl::Time end = absl::Now() + absl::Seconds(seconds);
  const absl::Time start = absl::Now();
  std::vector<std::thread> threads;
  for (size_t i = 0; i < n && i < clients.size(); ++i) {
    Client& c = clients[i];
    threads.emplace_back([&] {
      while (absl::Now() < end) {
        if (op(c)) {
          ++done;
        } else {
          ++failed;
        }
      }
    });
  }
  for (auto& t : threads) t.join();
  *failures = failed;
  if (cpu_per_call != nullptr) {
    *cpu_per_call = (ProcessCpu() - cpu_start) / std::max<int64_t>(1, done);
  }
  return done / absl::ToDoubleSeconds(absl::Now() - start);
}

// p50 and p99 of `calls` sequential calls of `op` (an idle CA: one call at
// a time, 1 ms apart), in milliseconds.
template <typename Op>
void MeasureIdleLatency(int calls, Op op, double* p50, double* p99,
                        int64_t* failures) {
  std::vector<double> ms;
  *failures = 0;
  for (int i = 0; i < calls; ++i) {
    absl::SleepFor(absl::Milliseconds(1));
    const absl::Time start = absl::Now();
    if (!op()) {
      ++*failures;
      continue;
    }
    ms.push_back(absl::ToDoubleMilliseconds(absl::Now() - start));
  }
  if (ms.empty()) {
    *p50 = *p99 = 0;
    return;
  }
  std::sort(ms.begin(), ms.end());
  *p50 = ms[ms.size() / 2];
  *p99 = ms[std::min(ms.size() - 1, ms.size() * 99 / 100)];
}

// The hook for IssueSessionCertificate (issue 11, gateway RPCs): it needs a
// gateway identity (EnrollGateway with a join token) and an inventory host
// the bench user's roles select. Until the gateway service is in this
// build, it reports that it did not measure; when it is, enrol a gateway
// here, open one mTLS channel per client with the gateway certificate, and
// call Measure / MeasureIdleLatency with an IssueSessionCertificate op, as
// for IssueUserCertificate above.
void MeasureSessionCertificates(const std::string& backend) {
  printf(
      "session backend=%s: IssueSessionCertificate not measured (the "
      "gateway service is not in this build)\n",
      backend.c_str());
}

int RunBackend(const Flags& flags, const std::string& backend) {
  auto dir = sallyport::testing::TempDir::Create("cabench", flags.dir);
  if (!dir.ok()) {
    fprintf(stderr, "%s\n", std::string(dir.status().message()).c_str());
    return 1;
  }
  std::unique_ptr<sallyport::testing::PostgresFixture> pg;
  const std::string state = dir->File("state");
  std::string url = DefaultStoreUrl(state);
  if (backend == "postgres") {
    auto p = sallyport::testing::PostgresFixture::Start();
    if (!p.ok()) {
      fprintf(stderr, "%s\n", std::string(p.status().message()).c_str());
      return 1;
    }
    pg = std::move(*p);
    url = pg->ConnectionUri();
  }
  if (!PrepareStateDir(state).ok()) return 1;
  auto store = storage::OpenStore(url);
  if (!store.ok()) {
    fprintf(stderr, "%s\n", std::string(store.status().message()).c_str());
    return 1;
  }
  InitOptions init;
  init.state_dir = state;
  init.store_url = url;
  init.admin = "bench";
  init.scrypt.log_n = flags.scrypt_log_n;
  auto initialised = InitializeCa(init, store->get());
  if (!initialised.ok()) return 1;
  auto settings = LoadCaSettings(initialised->config_path);
  if (!settings.ok()) return 1;
  settings->failure_delay = absl::ZeroDuration();
  CaServer::Options options;
  options.settings = *settings;
  options.store = store->get();
  options.listen = "127.0.0.1:0";
  auto server = CaServer::Start(std::move(options));
  if (!server.ok()) {
    fprintf(stderr, "%s\n", std::string(server.status().message()).c_str());
    return 1;
  }
  const std::string ca_pem =
      sallyport::testing::ReadFileOrEmpty(settings->tls_cert);
  const std::string password(initialised->admin_password.view());
  const std::string address = (*server)->address();

  const int max_clients =
      *std::max_element(flags.clients.begin(), flags.clients.end());
  std::vector<Client> clients(static_cast<size_t>(max_clients));
  for (Client& c : clients) {
    auto anon =
        v1::CertificateAuthority::NewStub(Channel(address, ca_pem, "", ""));
    v1::LoginRequest req = MakeLogin("bench", password, &c.tls_key_pem);
    v1::LoginResponse resp;
    grpc::ClientContext ctx;
    grpc::Status st = anon->Login(&ctx, req, &resp);
    if (!st.ok()) {
      fprintf(stderr, "login: %s\n", st.error_message().c_str());
      return 1;
    }
    c.tls_cert_pem = resp.tls_client_certificate_pem();
    c.channel = Channel(address, ca_pem, c.tls_key_pem, c.tls_cert_pem);
    c.stub = v1::CertificateAuthority::NewStub(c.channel);
  }
  v1::IssueUserCertificateRequest issue;
  issue.set_ssh_public_key(ssh::crypto::PrivateKey::GenerateEd25519()
                               ->public_key()
                               .ToAuthorizedKeysLine());
  int64_t failures = 0;
  const auto issue_op = [&](Client& c) {
    v1::IssueUserCertificateResponse resp;
    grpc::ClientContext ctx;
    return c.stub->IssueUserCertificate(&ctx, issue, &resp).ok();
  };
  double p50 = 0, p99 = 0;
  MeasureIdleLatency(
      flags.idle_calls, [&] { return issue_op(clients[0]); }, &p50, &p99,
      &failures);
  printf(
      "idle   backend=%s: IssueUserCertificate p50 %.2f ms, p99 %.2f ms "
      "(%d calls, %lld failed; goal p99 <= 5 ms)\n",
      backend.c_str(), p50, p99, flags.idle_calls,
      static_cast<long long>(failures));
  fflush(stdout);
  // Every channel makes its TLS connection before anything is timed.
  for (Client& c : clients) issue_op(c);
  for (int n : flags.clients) {
    absl::Duration cpu;
    const double issue_rate = Measure(clients, static_cast<size_t>(n),
                                      flags.seconds, issue_op, &failures, &cpu);
    // On a loaded machine the rate says little; CPU per certificate (client
    // and server threads of this process) bounds what 2 idle cores can do.
    printf(
        "issue  backend=%s clients=%d: %.0f certificates/s (%lld failed; "
        "goal >= 5000 on SQLite); process CPU %.0f us/certificate "
        "(client+server) => <= %.0f/s on 2 idle cores\n",
        backend.c_str(), n, issue_rate, static_cast<long long>(failures),
        absl::ToDoubleMicroseconds(cpu),
        2e6 / std::max(1.0, absl::ToDoubleMicroseconds(cpu)));
    fflush(stdout);
  }
  MeasureSessionCertificates(backend);

  if (flags.login) {
    std::string ignored;
    v1::LoginRequest login = MakeLogin("bench", password, &ignored);
    const int n = flags.clients.front();
    const double login_rate = Measure(
        clients, static_cast<size_t>(n), flags.seconds,
        [&](Client& c) {
          v1::LoginResponse resp;
          grpc::ClientContext ctx;
          return c.stub->Login(&ctx, login, &resp).ok();
        },
        &failures);
    printf("login  backend=%s clients=%d: %.0f logins/s (%lld failed)\n",
           backend.c_str(), n, login_rate, static_cast<long long>(failures));
  }
  (*server)->Shutdown(absl::Seconds(2));
  return 0;
}

int Run(const Flags& flags) {
  for (const std::string& backend : flags.backends) {
    if (int rc = RunBackend(flags, backend); rc != 0) return rc;
  }
  return 0;
}

bool ParseInts(absl::string_view text, std::vector<int>* out) {
  out->clear();
  for (absl::string_view part : absl::StrSplit(text, ',')) {
    int v = 0;
    if (!absl::SimpleAtoi(part, &v) || v < 1 || v > 1024) return false;
    out->push_back(v);
  }
  return !out->empty();
}

}  // namespace
}  // namespace sallyport::ca

int main(int argc, char** argv) {
  sallyport::ca::Flags flags;
  for (int i = 1; i < argc; ++i) {
    absl::string_view a(argv[i]);
    if (absl::ConsumePrefix(&a, "--clients=")) {
      if (!sallyport::ca::ParseInts(a, &flags.clients)) return 2;
    } else if (absl::ConsumePrefix(&a, "--seconds=")) {
      if (!absl::SimpleAtoi(a, &flags.seconds) || flags.seconds < 1) return 2;
    } else if (absl::ConsumePrefix(&a, "--backend=")) {
      flags.backends.clear();
      for (absl::string_view b : absl::StrSplit(a, ',')) {
        if (b != "sqlite" && b != "postgres") return 2;
        flags.backends.emplace_back(b);
      }
    } else if (absl::ConsumePrefix(&a, "--scrypt_log_n=")) {
      if (!absl::SimpleAtoi(a, &flags.scrypt_log_n)) return 2;
    } else if (absl::ConsumePrefix(&a, "--idle_calls=")) {
      if (!absl::SimpleAtoi(a, &flags.idle_calls) || flags.idle_calls < 1) {
        return 2;
      }
    } else if (absl::ConsumePrefix(&a, "--dir=")) {
      flags.dir = std::string(a);
    } else if (a == "--login") {
      flags.login = true;
    } else {
      fprintf(stderr,
              "usage: ca_issuance_bench [--clients=8,64] [--seconds=10] "
              "[--backend=sqlite,postgres] [--dir=/var/tmp] "
              "[--scrypt_log_n=15] [--login] [--idle_calls=1000]\n");
      return 2;
    }
  }
  return sallyport::ca::Run(flags);
}
