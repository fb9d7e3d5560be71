#include "gateway/ca_client.h"

#include <grpcpp/security/tls_certificate_provider.h>
#include <grpcpp/security/tls_certificate_verifier.h>
#include <grpcpp/security/tls_credentials_options.h>
#include <openssl/crypto.h>

#include <algorithm>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "base/address_list.h"
#include "base/files.h"
#include "base/safe_text.h"
#include "base/status_macros.h"
#include "base/tls_pin.h"

namespace sallyport::gateway {
namespace {

namespace gw = gateway::v1;

// Fingerprints are compared as text; accept "SHA256:" + 43 base64 chars.
bool WellFormedFingerprint(std::string_view f) {
  if (f.size() != 7 + 43 || f.substr(0, 7) != "SHA256:") return false;
  return std::all_of(f.begin() + 7, f.end(), [](char c) {
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
           (c >= '0' && c <= '9') || c == '+' || c == '/';
  });
}

// A file MakeCaChannel reads: kNotFound naming it when it cannot.
absl::StatusOr<std::string> ReadChannelFile(const std::string& path) {
  absl::StatusOr<std::string> text = base::ReadTextFile(path);
  if (!text.ok()) {
    return absl::NotFoundError(absl::StrCat(
        "cannot read ", base::SafeText(path), ": ", text.status().message()));
  }
  return text;
}

}  // namespace

absl::Status FromGrpc(const grpc::Status& status) {
  return absl::Status(static_cast<absl::StatusCode>(status.error_code()),
                      status.error_message());
}

absl::StatusOr<std::string> CertificatePemFingerprint(std::string_view pem) {
  return base::PemFingerprint(pem);
}

absl::StatusOr<CaIdentity> ReadCaIdentity(const CaChannelOptions& options) {
  CaIdentity identity;
  ASSIGN_OR_RETURN(identity.certificate,
                   ReadChannelFile(options.tls_certificate_path));
  // The private key last: every way out after it wipes it.
  absl::StatusOr<std::string> key = ReadChannelFile(options.tls_key_path);
  if (!key.ok()) return key.status();
  identity.key = base::SecretBytes::FromString(*key);
  OPENSSL_cleanse(key->data(), key->size());
  absl::StatusOr<std::string> key_der =
      base::PublicDerOfPrivatePem(identity.key.view());
  absl::StatusOr<std::string> certified =
      base::PublicDerOfCertificatePem(identity.certificate);
  // Only a key its certificate certifies: another one there (an `enroll
  // --force` cut short, a copied file) would fail every handshake.
  if (key_der.ok() && certified.ok() && *key_der == *certified) {
    return identity;
  }
  const absl::Status unparsed =
      !key_der.ok() ? key_der.status() : certified.status();
  if (options.key_pair_refusal) {
    return options.key_pair_refusal(
        unparsed.ok() ? unparsed
                      : absl::FailedPreconditionError(absl::StrCat(
                            !key_der.ok() ? options.tls_key_path
                                          : options.tls_certificate_path,
                            ": ", unparsed.message())));
  }
  return absl::FailedPreconditionError(absl::StrCat(
      base::SafeText(options.tls_key_path), " is not the key that ",
      base::SafeText(options.tls_certificate_path), " certifies",
      unparsed.ok() ? "" : absl::StrCat(" (", unparsed.message(), ")")));
}

absl::StatusOr<std::shared_ptr<grpc::Channel>> MakeCaChannel(
    const CaChannelOptions& options) {
  ASSIGN_OR_RETURN(CaIdentity identity, ReadCaIdentity(options));
  return MakeCaChannel(options, identity);
}

absl::StatusOr<std::shared_ptr<grpc::Channel>> MakeCaChannel(
    const CaChannelOptions& options, const CaIdentity& identity) {
  if (!WellFormedFingerprint(options.fingerprint)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "ca_fingerprint \"", base::SafeText(options.fingerprint, 80),
        "\" is not SHA256:<43 base64 characters>"));
  }
  if (options.ca_certificate_path.empty()) {
    return absl::InvalidArgumentError(
        "the CA's pinned TLS certificate (files.ca_certificate) is required");
  }
  // The root the channel trusts is exactly the certificate enrolment
  // pinned: it must still carry the configured fingerprint.
  ASSIGN_OR_RETURN(std::string pinned,
                   ReadChannelFile(options.ca_certificate_path));
  absl::StatusOr<std::string> fp = base::PemFingerprint(pinned);
  if (!fp.ok() || !base::SameFingerprint(*fp, options.fingerprint)) {
    return absl::FailedPreconditionError(absl::StrCat(
        base::SafeText(options.ca_certificate_path),
        " is not the CA certificate with the pinned fingerprint ",
        options.fingerprint, " (it has ",
        fp.ok() ? *fp : std::string("no readable certificate"), ")"));
  }
  grpc::experimental::IdentityKeyCertPair identity_pair;
  identity_pair.private_key = std::string(identity.key.view());
  identity_pair.certificate_chain = identity.certificate;
  // The identity (key + mTLS certificate) and the root are the bytes just
  // read, held by gRPC for the channel's life: gRPC never reads the files
  // again, so a key or certificate that lands on disk while the gateway
  // runs (a renewal, an `enroll --force` cut short, a copied file) is
  // presented only by a channel the gateway makes after checking it
  // (GatewayServer::ReconnectCa). A server is accepted only when OpenSSL
  // verifies its chain to that root (the system's roots are not used once
  // a provider supplies one) and its certificate names "sallyport-ca". No
  // ExternalCertificateVerifier: with gRPC 1.51, ASan reported a double
  // free inside libgrpc when such a verifier refused the handshake.
  std::vector<grpc::experimental::IdentityKeyCertPair> identities;
  identities.push_back(std::move(identity_pair));
  auto provider =
      std::make_shared<grpc::experimental::StaticDataCertificateProvider>(
          pinned, identities);
  OPENSSL_cleanse(identities[0].private_key.data(),
                  identities[0].private_key.size());
  grpc::experimental::TlsChannelCredentialsOptions tls;
  tls.set_certificate_provider(std::move(provider));
  tls.watch_identity_key_cert_pairs();
  tls.watch_root_certs();
  tls.set_verify_server_certs(true);
  tls.set_check_call_host(false);
  tls.set_certificate_verifier(
      std::make_shared<grpc::experimental::HostNameCertificateVerifier>());
  grpc::ChannelArguments args;
  args.SetSslTargetNameOverride("sallyport-ca");
  args.SetInt(
      GRPC_ARG_KEEPALIVE_TIME_MS,
      static_cast<int>(absl::ToInt64Milliseconds(options.keepalive_time)));
  args.SetInt(
      GRPC_ARG_KEEPALIVE_TIMEOUT_MS,
      static_cast<int>(absl::ToInt64Milliseconds(options.keepalive_timeout)));
  args.SetInt(GRPC_ARG_KEEPALIVE_PERMIT_WITHOUT_CALLS, 1);
  // Pings go on however long no data was sent (gRPC stops after 2).
  args.SetInt(GRPC_ARG_HTTP2_MAX_PINGS_WITHOUT_DATA, 0);
  // Several CA instances (HA): one channel that fails over between them,
  // so AuthorizeChannel, IssueSessionCertificate, the key refresh and the
  // revocation stream's reconnects all go to whichever instance answers.
  absl::StatusOr<std::vector<base::HostPort>> cas =
      base::ParseAddressList(options.address, /*default_port=*/0);
  if (!cas.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("ca \"", base::SafeText(options.address, 200),
                     "\": ", cas.status().message()));
  }
  return base::FailoverChannel(*cas, grpc::experimental::TlsCredentials(tls),
                               args);
}

CaClient::CaClient(Options options)
    : options_(std::move(options)),
      clock_(options_.clock != nullptr ? options_.clock : base::Clock::Real()),
      stubs_(std::make_shared<const Stubs>(options_.channel)) {
  down_since_ = clock_->Monotonic();
}

std::shared_ptr<const CaClient::Stubs> CaClient::stubs() const {
  base::SteadyMutexLock lock(&mu_);
  return stubs_;
}

void CaClient::ReplaceChannel(std::shared_ptr<grpc::Channel> channel) {
  auto fresh = std::make_shared<const Stubs>(std::move(channel));
  base::SteadyMutexLock lock(&mu_);
  stubs_ = std::move(fresh);
  if (stream_context_ != nullptr) stream_context_->TryCancel();
}

absl::StatusOr<std::unique_ptr<CaClient>> CaClient::Create(Options options) {
  if (options.channel == nullptr) {
    return absl::InvalidArgumentError("CaClient needs a channel");
  }
  std::unique_ptr<CaClient> c(new CaClient(std::move(options)));
  if (absl::Status st = c->RefreshKeys(); !st.ok()) {
    c->Log(absl::StrCat("ca: cannot fetch the CA keys yet: ", st.ToString()));
  }
  if (absl::Status st = c->CatchUp(); !st.ok()) {
    c->Log(absl::StrCat("ca: cannot fetch the revocation list yet: ",
                        st.ToString()));
  }
  c->watch_thread_ = std::thread([p = c.get()] { p->WatchLoop(); });
  c->refresh_thread_ = std::thread([p = c.get()] { p->RefreshLoop(); });
  return c;
}

CaClient::~CaClient() {
  {
    base::SteadyMutexLock lock(&mu_);
    stopping_ = true;
    if (stream_context_ != nullptr) stream_context_->TryCancel();
    for (grpc::ClientContext* ctx : in_flight_) ctx->TryCancel();
  }
  if (watch_thread_.joinable()) watch_thread_.join();
  if (refresh_thread_.joinable()) refresh_thread_.join();
  // Callbacks of cancelled calls still run: wait until they are all done.
  base::SteadyMutexLock lock(&mu_);
  mu_.Await(absl::Condition(
      +[](std::set<grpc::ClientContext*>* s) { return s->empty(); },
      &in_flight_));
}

void CaClient::Log(std::string_view line) {
  if (options_.log) options_.log(line);
}

std::vector<ssh::crypto::PublicKey> CaClient::user_ca_keys() const {
  base::SteadyMutexLock lock(&mu_);
  return user_cas_;
}

std::vector<ssh::crypto::PublicKey> CaClient::host_ca_keys() const {
  base::SteadyMutexLock lock(&mu_);
  return host_cas_;
}

absl::Status CaClient::RefreshKeys() {
  grpc::ClientContext ctx;
  ctx.set_deadline(absl::ToChronoTime(absl::Now() + options_.rpc_deadline));
  cav1::CaPublicKeys keys;
  const absl::Duration start = clock_->Monotonic();
  grpc::Status st =
      stubs()->ca->GetCaPublicKeys(&ctx, cav1::GetCaPublicKeysRequest(), &keys);
  if (options_.on_rpc) {
    options_.on_rpc("GetCaPublicKeys", clock_->Monotonic() - start);
  }
  if (!st.ok()) return FromGrpc(st);
  return StoreKeys(keys);
}

absl::Status CaClient::StoreKeys(const cav1::CaPublicKeys& keys) {
  auto parse = [](const auto& list) {
    std::vector<ssh::crypto::PublicKey> out;
    for (const cav1::CaPublicKey& k : list) {
      auto key = ssh::crypto::PublicKey::FromAuthorizedKeysLine(k.public_key());
      if (key.ok()) out.push_back(*key);
    }
    return out;
  };
  std::vector<ssh::crypto::PublicKey> user = parse(keys.user_ca());
  std::vector<ssh::crypto::PublicKey> host = parse(keys.host_ca());
  if (user.empty()) return absl::InternalError("the CA sent no user CA key");
  base::SteadyMutexLock lock(&mu_);
  user_cas_ = std::move(user);
  host_cas_ = std::move(host);
  return absl::OkStatus();
}

struct CaClient::EarlyFetch {
  grpc::ClientContext ctx;
  cav1::GetCaPublicKeysRequest request;
  cav1::CaPublicKeys response;
  absl::Duration started;  // on clock_->Monotonic()
};

void CaClient::RefreshUserCaKeysSoon(asio::any_io_executor executor,
                                     UserCaKeysDone done) {
  std::shared_ptr<EarlyFetch> fetch;
  {
    base::SteadyMutexLock lock(&mu_);
    // On the monotonic clock: a wall clock set back would stop early
    // fetches until it caught up, one set forward would let one through
    // at every step.
    const absl::Duration now = clock_->Monotonic();
    const bool recent =
        last_early_fetch_.has_value() &&
        now - *last_early_fetch_ < options_.unknown_key_refresh_interval;
    if (stopping_ || (early_fetch_ == nullptr && recent) ||
        (early_fetch_ != nullptr &&
         key_waiters_.size() >= options_.max_key_waiters)) {
      asio::post(executor,
                 [done = std::move(done), keys = user_cas_] { done(keys); });
      return;
    }
    key_waiters_.emplace_back(executor, std::move(done));
    if (early_fetch_ != nullptr) return;  // one fetch at a time
    last_early_fetch_ = now;
    ++early_key_fetches_;
    fetch = std::make_shared<EarlyFetch>();
    fetch->ctx.set_deadline(
        absl::ToChronoTime(absl::Now() + options_.rpc_deadline));
    fetch->started = now;
    early_fetch_ = fetch;
    in_flight_.insert(&fetch->ctx);
  }
  Log("ca: a certificate of an unknown CA key: fetching the CA keys again");
  std::shared_ptr<const Stubs> stubs = this->stubs();
  stubs->ca->async()->GetCaPublicKeys(
      &fetch->ctx, &fetch->request, &fetch->response,
      [this, fetch, stubs](grpc::Status st) {
        if (options_.on_rpc)
          options_.on_rpc("GetCaPublicKeys",
                          clock_->Monotonic() - fetch->started);
        absl::Status stored =
            st.ok() ? StoreKeys(fetch->response) : FromGrpc(st);
        if (!stored.ok()) {
          Log(absl::StrCat("ca: early key fetch failed: ", stored.ToString()));
        }
        std::vector<std::pair<asio::any_io_executor, UserCaKeysDone>> waiters;
        std::vector<ssh::crypto::PublicKey> keys;
        {
          base::SteadyMutexLock lock(&mu_);
          waiters.swap(key_waiters_);
          keys = user_cas_;
          early_fetch_.reset();
        }
        for (auto& [ex, done] : waiters) {
          asio::post(ex, [done = std::move(done), keys] { done(keys); });
        }
        base::SteadyMutexLock lock(&mu_);
        in_flight_.erase(&fetch->ctx);
      });
}

int CaClient::early_key_fetches() const {
  base::SteadyMutexLock lock(&mu_);
  return early_key_fetches_;
}

void CaClient::RefreshLoop() {
  base::SteadyMutexLock lock(&mu_);
  while (!stopping_) {
    // Until the first success, retry at the reconnect pace.
    const absl::Duration wait =
        user_cas_.empty() ? options_.reconnect_max : options_.keys_refresh;
    mu_.AwaitWithTimeout(absl::Condition(&stopping_), wait);
    if (stopping_) break;
    mu_.Unlock();
    absl::Status st = RefreshKeys();
    if (!st.ok()) Log(absl::StrCat("ca: key refresh failed: ", st.ToString()));
    mu_.Lock();
  }
}

template <typename Response, typename Start>
void CaClient::Call(std::string_view rpc, asio::any_io_executor executor,
                    std::function<void(absl::StatusOr<Response>)> done,
                    Start start, absl::Time deadline) {
  struct State {
    grpc::ClientContext ctx;
    Response response;
    absl::Duration started;  // on clock_->Monotonic(), for the latency
  };
  auto state = std::make_shared<State>();
  state->started = clock_->Monotonic();
  // gRPC deadlines are wall-clock times; gRPC turns them into its own
  // monotonic time when the call starts.
  const absl::Time due = deadline == absl::InfiniteFuture()
                             ? absl::Now() + options_.rpc_deadline
                             : deadline;
  state->ctx.set_deadline(absl::ToChronoTime(due));
  {
    base::SteadyMutexLock lock(&mu_);
    if (stopping_) {
      asio::post(executor, [done = std::move(done)] {
        done(absl::UnavailableError("the gateway is stopping"));
      });
      return;
    }
    // A call that could only time out is not started: gRPC 1.51 (Debian
    // 12) has aborted ("assertion failed: prior > 0" in ref_counted.h)
    // on a call whose deadline had passed before it went out
    // (ca_client_test, 1 ns rpc_deadline, once in a full-suite run).
    if (due <= absl::Now()) {
      asio::post(executor, [done = std::move(done), name = std::string(rpc)] {
        done(absl::DeadlineExceededError(absl::StrCat(
            "the CA call ", name, " reached its deadline before it started")));
      });
      return;
    }
    in_flight_.insert(&state->ctx);
  }
  std::string name(rpc);
  start(&state->ctx, &state->response,
        [this, state, executor, done = std::move(done),
         name = std::move(name)](grpc::Status st) mutable {
          if (options_.on_rpc)
            options_.on_rpc(name, clock_->Monotonic() - state->started);
          absl::StatusOr<Response> result =
              st.ok() ? absl::StatusOr<Response>(std::move(state->response))
                      : absl::StatusOr<Response>(FromGrpc(st));
          asio::post(executor, [done = std::move(done),
                                result = std::move(result)]() mutable {
            done(std::move(result));
          });
          base::SteadyMutexLock lock(&mu_);
          in_flight_.erase(&state->ctx);
        });
}

void CaClient::AuthorizeChannel(gw::AuthorizeChannelRequest request,
                                asio::any_io_executor executor,
                                AuthorizeDone done) {
  auto req = std::make_shared<gw::AuthorizeChannelRequest>(std::move(request));
  Call<gw::AuthorizeChannelResponse>(
      "AuthorizeChannel", std::move(executor), std::move(done),
      [this, req](grpc::ClientContext* ctx, gw::AuthorizeChannelResponse* resp,
                  std::function<void(grpc::Status)> cb) {
        std::shared_ptr<const Stubs> stubs = this->stubs();
        stubs->gateway->async()->AuthorizeChannel(
            ctx, req.get(), resp,
            [req, stubs, cb = std::move(cb)](grpc::Status st) {
              cb(std::move(st));
            });
      });
}

void CaClient::IssueSessionCertificate(
    gw::IssueSessionCertificateRequest request, asio::any_io_executor executor,
    IssueDone done, absl::Time deadline) {
  auto req =
      std::make_shared<gw::IssueSessionCertificateRequest>(std::move(request));
  Call<gw::IssueSessionCertificateResponse>(
      "IssueSessionCertificate", std::move(executor), std::move(done),
      [this, req](grpc::ClientContext* ctx,
                  gw::IssueSessionCertificateResponse* resp,
                  std::function<void(grpc::Status)> cb) {
        std::shared_ptr<const Stubs> stubs = this->stubs();
        stubs->gateway->async()->IssueSessionCertificate(
            ctx, req.get(), resp,
            [req, stubs, cb = std::move(cb)](grpc::Status st) {
              cb(std::move(st));
            });
      },
      deadline);
}

void CaClient::IssueHostCertificateForTarget(
    gw::IssueHostCertificateForTargetRequest request,
    asio::any_io_executor executor, HostCertificateDone done) {
  auto req = std::make_shared<gw::IssueHostCertificateForTargetRequest>(
      std::move(request));
  Call<gw::IssueHostCertificateForTargetResponse>(
      "IssueHostCertificateForTarget", std::move(executor), std::move(done),
      [this, req](grpc::ClientContext* ctx,
                  gw::IssueHostCertificateForTargetResponse* resp,
                  std::function<void(grpc::Status)> cb) {
        std::shared_ptr<const Stubs> stubs = this->stubs();
        stubs->gateway->async()->IssueHostCertificateForTarget(
            ctx, req.get(), resp,
            [req, stubs, cb = std::move(cb)](grpc::Status st) {
              cb(std::move(st));
            });
      });
}

}  // namespace sallyport::gateway
