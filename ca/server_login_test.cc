// Login over real gRPC/TLS against an in-process CA: certificates, the
// identical answers for unknown users and wrong passwords, lockouts per user
// and per address, and TOTP with replay protection (also across
// authenticators on one store).
#include <grpcpp/grpcpp.h>

#include <optional>
#include <thread>
#include <utility>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "ca/audit_log.h"
#include "ca/ca_test_env.h"
#include "ca/gateway_test_util.h"
#include "ca/login.h"
#include "ca/password_hash.h"
#include "ca/totp.h"
#include "gtest/gtest.h"
#include "proto/admin.grpc.pb.h"
#include "ssh/cert/certificate.h"
#include "tests/harness/wall_clock_step.h"

namespace sallyport::ca {
namespace {

using grpc::StatusCode;

TEST(LoginTest, IssuesAnEightHourCertificateAndAClientCertificate) {
  auto env = MakeEnv();
  ASSERT_NE(env, nullptr);
  auto r = env->Login("admin", env->admin_password());
  ASSERT_TRUE(r.status.ok()) << r.status.error_message();
  auto cert = ssh::cert::Certificate::FromLine(r.response.ssh_certificate());
  ASSERT_TRUE(cert.ok()) << cert.status();
  EXPECT_EQ(cert->key_id, "admin");
  EXPECT_EQ(cert->type, ssh::cert::CertType::kUser);
  EXPECT_EQ(cert->principals, std::vector<std::string>{"admin"});
  EXPECT_EQ(cert->serial, r.response.serial());
  EXPECT_EQ(cert->key.ToAuthorizedKeysLine(), r.ssh_public_key);
  const int64_t now = absl::ToUnixSeconds(env->clock().Now());
  EXPECT_EQ(static_cast<int64_t>(cert->valid_after), now - 60);
  EXPECT_EQ(static_cast<int64_t>(cert->valid_before), now + 8 * 3600);
  ASSERT_NE(cert->FindExtension(ssh::cert::kPermitPty), nullptr);
  ASSERT_NE(cert->FindExtension(ssh::cert::kPermitPortForwarding), nullptr);
  EXPECT_EQ(cert->FindExtension(ssh::cert::kPermitUserRc), nullptr);
  EXPECT_EQ(cert->FindExtension(ssh::cert::kPermitX11Forwarding), nullptr);
  EXPECT_EQ(cert->FindExtension(ssh::cert::kPermitAgentForwarding), nullptr);
  // Signed by the user CA that init wrote and the response names.
  ASSERT_EQ(r.response.ca_public_keys().user_ca_size(), 1);
  EXPECT_TRUE(
      absl::StartsWith(env->init().user_ca_public_key,
                       r.response.ca_public_keys().user_ca(0).public_key()));
  EXPECT_EQ(cert->CaFingerprint(),
            r.response.ca_public_keys().user_ca(0).fingerprint());
  ASSERT_EQ(r.response.ca_public_keys().host_ca_size(), 1);

  // The client certificate works for the other RPCs.
  auto stub = v1::CertificateAuthority::NewStub(r.channel);
  grpc::ClientContext ctx;
  v1::CaPublicKeys keys;
  grpc::Status st = stub->GetCaPublicKeys(&ctx, {}, &keys);
  ASSERT_TRUE(st.ok()) << st.error_message();
  EXPECT_EQ(keys.user_ca_size(), 1);
}

TEST(LoginTest, UnknownUserAndWrongPasswordAreIndistinguishable) {
  CaTestEnv::Options options;
  options.failure_delay = absl::Milliseconds(250);
  auto env = MakeEnv(options);
  ASSERT_NE(env, nullptr);
  struct Attempt {
    const char* what;
    std::string user, password;
  };
  const std::vector<Attempt> attempts = {
      {"wrong password", "admin", "wrong"},
      {"unknown user", "nosuchuser", "wrong"},
      {"empty password", "admin", ""},
  };
  std::optional<grpc::Status> first;
  for (const Attempt& a : attempts) {
    const int64_t derivations = env->server().hasher().verify_derivations();
    const size_t sleeps = env->sleeps().size();
    auto r = env->Login(a.user, a.password);
    EXPECT_EQ(r.status.error_code(), StatusCode::UNAUTHENTICATED) << a.what;
    EXPECT_EQ(r.status.error_message(), kBadCredentialsMessage) << a.what;
    EXPECT_EQ(r.status.error_details(), "") << a.what;
    // Same work (one scrypt) and the same minimum answer time.
    EXPECT_EQ(env->server().hasher().verify_derivations(), derivations + 1)
        << a.what;
    auto s = env->sleeps();
    ASSERT_EQ(s.size(), sleeps + 1) << a.what;
    EXPECT_GT(s.back(), absl::ZeroDuration()) << a.what;
    EXPECT_LE(s.back(), absl::Milliseconds(250)) << a.what;
    if (!first) first = r.status;
  }
}

TEST(LoginTest, LockoutAfterNFailuresThenUnlockAfterTheLockoutTime) {
  CaTestEnv::Options options;
  options.lockout = {.max_failures = 3, .lockout = absl::Minutes(15)};
  auto env = MakeEnv(options);
  ASSERT_NE(env, nullptr);
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(env->Login("admin", "wrong").status.error_code(),
              StatusCode::UNAUTHENTICATED);
  }
  // Locked (at this source): even the right password is refused, and the
  // message says until when.
  auto locked = env->Login("admin", env->admin_password());
  EXPECT_EQ(locked.status.error_code(), StatusCode::RESOURCE_EXHAUSTED);
  const std::string until = absl::FormatTime(
      absl::RFC3339_sec, env->clock().Now() + absl::Minutes(15),
      absl::UTCTimeZone());
  EXPECT_EQ(locked.status.error_message(),
            absl::StrCat(std::string(kLockedMessage), until));
  env->clock().Advance(absl::Minutes(14));
  EXPECT_EQ(env->Login("admin", env->admin_password()).status.error_code(),
            StatusCode::RESOURCE_EXHAUSTED);
  env->clock().Advance(absl::Minutes(1) + absl::Seconds(1));
  auto ok = env->Login("admin", env->admin_password());
  EXPECT_TRUE(ok.status.ok()) << ok.status.error_message();

  // Unknown names lock out the same way, with the same answer.
  for (int i = 0; i < 3; ++i) env->Login("ghost", "wrong");
  auto ghost = env->Login("ghost", "wrong");
  EXPECT_EQ(ghost.status.error_code(), StatusCode::RESOURCE_EXHAUSTED);
  EXPECT_TRUE(absl::StartsWith(ghost.status.error_message(),
                               std::string(kLockedMessage)))
      << ghost.status.error_message();
}

// A source over its limit is slowed down, increasingly, but never locked:
// its real users still get in.
TEST(LoginTest, SourceOverItsLimitIsThrottledNotLocked) {
  CaTestEnv::Options options;
  options.lockout = {.max_failures = 100, .lockout = absl::Minutes(15)};
  options.max_failures_per_address = 4;
  auto env = MakeEnv(options);
  ASSERT_NE(env, nullptr);
  for (int i = 0; i < 4; ++i) {
    EXPECT_EQ(env->Login("user" + std::to_string(i), "x").status.error_code(),
              StatusCode::UNAUTHENTICATED);
  }
  EXPECT_EQ(env->sleeps().size(), 0u);  // failure_delay 0, no throttle yet
  EXPECT_EQ(env->server().login().Throttle("admin", "127.0.0.1"),
            absl::Milliseconds(250));
  env->Login("user9", "x");
  EXPECT_EQ(env->server().login().Throttle("admin", "127.0.0.1"),
            absl::Milliseconds(500));
  auto ok = env->Login("admin", env->admin_password());
  EXPECT_TRUE(ok.status.ok()) << ok.status.error_message();
  auto s = env->sleeps();
  ASSERT_FALSE(s.empty());
  EXPECT_EQ(s.back(), absl::Milliseconds(500));
  // The throttle ends with the failure window.
  env->clock().Advance(absl::Minutes(16));
  EXPECT_EQ(env->server().login().Throttle("admin", "127.0.0.1"),
            absl::ZeroDuration());
}

// A user failing from many sources (each under its own limits) is slowed
// down everywhere, increasingly, but never locked: no stranger can lock
// the user out of another address; the real user gets in after the delay.
TEST(LoginTest, AUserFailingFromEverywhereIsThrottledNotLocked) {
  CaTestEnv::Options options;
  options.lockout = {.max_failures = 3, .lockout = absl::Minutes(15)};
  options.max_failures_per_address = 100;
  auto env = MakeEnv(options);
  ASSERT_NE(env, nullptr);
  LoginAuthenticator& login = env->server().login();
  const auto attempt = [&](const std::string& password, int source) {
    return login.Authenticate(
        {.user = "admin",
         .password = base::SecretBytes::FromString(password),
         .otp = "",
         .source = absl::StrCat("10.0.0.", source)});
  };
  for (int source = 1; source <= 3; ++source) {
    EXPECT_EQ(attempt("wrong", source).status().code(),
              absl::StatusCode::kUnauthenticated);
  }
  // An address that never failed is slowed down for this user only.
  EXPECT_EQ(login.Throttle("admin", "10.0.0.99"), absl::Milliseconds(250));
  EXPECT_EQ(login.Throttle("someone-else", "10.0.0.99"), absl::ZeroDuration());
  EXPECT_EQ(attempt("wrong", 4).status().code(),
            absl::StatusCode::kUnauthenticated);
  EXPECT_EQ(login.Throttle("admin", "10.0.0.99"), absl::Milliseconds(500));
  const size_t slept = env->sleeps().size();
  absl::StatusOr<storage::User> ok = attempt(env->admin_password(), 99);
  EXPECT_TRUE(ok.ok()) << ok.status();
  ASSERT_GT(env->sleeps().size(), slept);
  EXPECT_EQ(env->sleeps()[slept], absl::Milliseconds(500));
}

TEST(LoginTest, TotpRequiredThenAcceptedOnceAndReplayRefused) {
  auto env = MakeEnv();
  ASSERT_NE(env, nullptr);
  // Enrol through the admin API, as spctl will.
  auto admin = env->Login("admin", env->admin_password());
  ASSERT_TRUE(admin.status.ok());
  ASSERT_TRUE(env->AddUser("dana", "dana-pw", {"login"}).ok());
  auto stub = admin::v1::Admin::NewStub(admin.channel);
  admin::v1::EnrollTotpRequest enroll;
  enroll.set_user("dana");
  admin::v1::EnrollTotpResponse enrolled;
  grpc::ClientContext ctx;
  ASSERT_TRUE(stub->EnrollTotp(&ctx, enroll, &enrolled).ok());
  auto secret = Base32Decode(enrolled.secret_base32());
  ASSERT_TRUE(secret.ok());
  EXPECT_TRUE(absl::StartsWith(enrolled.otpauth_uri(),
                               "otpauth://totp/Sallyport:dana?secret="));

  auto no_code = env->Login("dana", "dana-pw");
  EXPECT_EQ(no_code.status.error_code(), StatusCode::FAILED_PRECONDITION);
  EXPECT_EQ(no_code.status.error_message(), kOtpRequiredMessage);
  // A wrong password never reveals that a code is needed.
  EXPECT_EQ(env->Login("dana", "nope").status.error_code(),
            StatusCode::UNAUTHENTICATED);

  const std::string code = TotpCode(*secret, env->clock().Now());
  auto ok = env->Login("dana", "dana-pw", code);
  ASSERT_TRUE(ok.status.ok()) << ok.status.error_message();
  auto replay = env->Login("dana", "dana-pw", code);
  EXPECT_EQ(replay.status.error_code(), StatusCode::UNAUTHENTICATED);
  EXPECT_EQ(replay.status.error_message(), kBadCredentialsMessage);

  std::string wrong = code;
  wrong[0] = wrong[0] == '9' ? '0' : wrong[0] + 1;
  env->clock().Advance(absl::Seconds(30));
  EXPECT_EQ(env->Login("dana", "dana-pw", wrong).status.error_code(),
            StatusCode::UNAUTHENTICATED);
  // The next step's code works (once).
  const std::string next = TotpCode(*secret, env->clock().Now());
  EXPECT_TRUE(env->Login("dana", "dana-pw", next).status.ok());
  EXPECT_FALSE(env->Login("dana", "dana-pw", next).status.ok());
}

// The last accepted step lives in the Store, not in the authenticator: a
// new LoginAuthenticator over the same store (the CA after a restart, or a
// second CA instance) refuses a code the first one accepted, exactly like a
// wrong code.
TEST(LoginTest, AcceptedCodeIsRefusedByANewAuthenticatorOnTheSameStore) {
  auto env = MakeEnv();
  ASSERT_NE(env, nullptr);
  ASSERT_TRUE(env->AddUser("fay", "fay-pw", {"login"}).ok());
  auto secret = GenerateTotpSecret();
  ASSERT_TRUE(secret.ok());
  ASSERT_TRUE(env->store().SetTotpSecret("fay", *secret).ok());
  const std::string code = TotpCode(*secret, env->clock().Now());
  auto first = env->Login("fay", "fay-pw", code);
  ASSERT_TRUE(first.status.ok()) << first.status.error_message();

  AuditLog audit(&env->store());
  std::vector<absl::Duration> sleeps;
  LoginAuthenticator::Options options;
  options.store = &env->store();
  options.hasher = &env->server().hasher();
  options.audit = &audit;
  options.clock = &env->clock();
  options.failure_delay = absl::Seconds(10);  // recorded, never slept
  options.sleep = [&sleeps](absl::Duration d) { sleeps.push_back(d); };
  LoginAuthenticator second(options);
  LoginAttempt attempt{"fay", base::SecretBytes::FromString("fay-pw"), code,
                       "192.0.2.7"};
  absl::StatusOr<storage::User> replay = second.Authenticate(attempt);
  EXPECT_EQ(replay.status().code(), absl::StatusCode::kUnauthenticated);
  EXPECT_EQ(std::string(replay.status().message()), kBadCredentialsMessage);
  // Delayed, counted and audited as a replay.
  ASSERT_EQ(sleeps.size(), 1u);
  EXPECT_GT(sleeps[0], absl::ZeroDuration());
  auto creds = env->store().GetCredentials("fay");
  ASSERT_TRUE(creds.ok()) << creds.status();
  EXPECT_EQ(creds->failed_attempts, 1);
  auto head = env->store().GetAuditHead();
  ASSERT_TRUE(head.ok()) << head.status();
  auto last = env->store().ListAuditEvents(head->seq - 1, 1);
  ASSERT_TRUE(last.ok()) << last.status();
  ASSERT_EQ(last->size(), 1u);
  EXPECT_EQ((*last)[0].type, kEventLoginFailed);
  EXPECT_TRUE(
      absl::StrContains((*last)[0].payload_json, R"("reason":"otp-replayed")"))
      << (*last)[0].payload_json;

  // The next step's code works once, whichever instance sees it first.
  env->clock().Advance(absl::Seconds(30));
  attempt.otp = TotpCode(*secret, env->clock().Now());
  auto accepted = second.Authenticate(attempt);
  EXPECT_TRUE(accepted.ok()) << accepted.status();
  EXPECT_EQ(env->Login("fay", "fay-pw", attempt.otp).status.error_code(),
            StatusCode::UNAUTHENTICATED);
}

// Attempts in progress hold CA handler threads while they wait out the
// failure delay: beyond max_in_flight_per_source from one source, or
// max_in_flight in all, the next is refused at once (busy, audited), so
// failing logins cannot take every thread; a source below its limit is
// not refused for another's, and the places come back when attempts end.
TEST(LoginTest, AttemptsInProgressAreBoundedPerSourceAndInAll) {
  auto env = MakeEnv();
  ASSERT_NE(env, nullptr);
  AuditLog audit(&env->store());
  absl::Mutex mu;
  int waiting = 0;  // attempts inside the failure delay
  bool release = false;
  LoginAuthenticator::Options options;
  options.store = &env->store();
  options.hasher = &env->server().hasher();
  options.audit = &audit;
  options.clock = &env->clock();
  options.failure_delay = absl::Seconds(10);
  options.max_in_flight = 3;
  options.max_in_flight_per_source = 2;
  options.sleep = [&](absl::Duration) {
    absl::MutexLock lock(&mu);
    ++waiting;
    // Bounded: an attempt the limit should have refused fails the test
    // instead of hanging it.
    mu.AwaitWithTimeout(absl::Condition(&release), absl::Seconds(20));
    --waiting;
  };
  LoginAuthenticator auth(options);
  const auto attempt = [](const std::string& source) {
    return LoginAttempt{"admin", base::SecretBytes::FromString("wrong"), "",
                        source};
  };
  std::vector<std::thread> held;
  std::vector<absl::StatusCode> held_codes(3);
  const auto start = [&](int i, const std::string& source) {
    held.emplace_back([&, i, source] {
      held_codes[i] = auth.Authenticate(attempt(source)).status().code();
    });
  };
  struct AtLeast {
    int* waiting;
    int n;
  };
  const auto wait_for = [&](int n) {
    AtLeast w{&waiting, n};
    absl::MutexLock lock(&mu);
    return mu.AwaitWithTimeout(
        absl::Condition(
            +[](AtLeast* a) { return *a->waiting >= a->n; }, &w),
        absl::Seconds(30));
  };
  start(0, "192.0.2.1");
  start(1, "192.0.2.1");
  ASSERT_TRUE(wait_for(2));
  // The source's third: refused at once, without a hash or a delay.
  const int64_t hashes = env->server().hasher().verify_derivations();
  absl::StatusOr<storage::User> third = auth.Authenticate(attempt("192.0.2.1"));
  EXPECT_EQ(third.status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_EQ(std::string(third.status().message()), kBusyMessage);
  EXPECT_EQ(env->server().hasher().verify_derivations(), hashes);
  // Another source still gets in, up to the total.
  start(2, "192.0.2.2");
  ASSERT_TRUE(wait_for(3));
  EXPECT_EQ(auth.Authenticate(attempt("192.0.2.3")).status().code(),
            absl::StatusCode::kResourceExhausted);
  {
    absl::MutexLock lock(&mu);
    release = true;
  }
  for (std::thread& t : held) t.join();
  for (absl::StatusCode code : held_codes) {
    EXPECT_EQ(code, absl::StatusCode::kUnauthenticated);
  }
  // Their places are back.
  EXPECT_EQ(auth.Authenticate(attempt("192.0.2.1")).status().code(),
            absl::StatusCode::kUnauthenticated);
  // The refusals are audited as busy.
  auto events = env->store().ListAuditEvents(0, 1000);
  ASSERT_TRUE(events.ok()) << events.status();
  int busy = 0;
  for (const auto& e : *events) {
    if (e.type == kEventLoginFailed &&
        absl::StrContains(e.payload_json, R"("reason":"busy")")) {
      ++busy;
    }
  }
  EXPECT_EQ(busy, 2);
  // The CA's own limits, as the server uses them.
  LoginAuthenticator::Options defaults;
  EXPECT_EQ(defaults.max_in_flight, kMaxLoginsInFlight);
  EXPECT_EQ(defaults.max_in_flight_per_source, kMaxLoginsInFlightPerSource);
  EXPECT_LT(kMaxLoginsInFlight, CaServer::kMaxThreads);
}

// The failure delay is measured on the monotonic clock: a wall clock set
// back an hour during a failed login (NTP after a VM resume, `date -s`;
// here while the attempt waits out its throttle) made its handler thread
// wait out the hour too, and one set forward an hour skipped the delay.
TEST(LoginTest, AWallClockStepDuringALoginKeepsTheFailureDelay) {
  if (!testing::InChildUnderFakeWallClock()) return;
  auto env = MakeEnv();
  ASSERT_NE(env, nullptr);
  AuditLog audit(&env->store());
  std::vector<absl::Duration> sleeps;
  std::optional<absl::Duration> step;  // made at the next sleep
  LoginAuthenticator::Options options;
  options.store = &env->store();
  options.hasher = &env->server().hasher();
  options.audit = &audit;
  options.clock = &env->clock();
  options.lockout = {.max_failures = 100, .lockout = absl::Minutes(15)};
  options.max_failures_per_address = 1;       // throttled from the second on
  options.failure_delay = absl::Seconds(30);  // recorded, never slept
  options.sleep = [&](absl::Duration d) {
    sleeps.push_back(d);
    if (step.has_value()) {
      testing::SetWallClockInChild(*std::exchange(step, std::nullopt));
    }
  };
  LoginAuthenticator auth(options);
  const LoginAttempt attempt{"admin", base::SecretBytes::FromString("wrong"),
                             "", "192.0.2.9"};
  EXPECT_EQ(auth.Authenticate(attempt).status().code(),
            absl::StatusCode::kUnauthenticated);
  step = -absl::Hours(1);
  EXPECT_EQ(auth.Authenticate(attempt).status().code(),
            absl::StatusCode::kUnauthenticated);
  step = absl::ZeroDuration();  // an hour forward
  EXPECT_EQ(auth.Authenticate(attempt).status().code(),
            absl::StatusCode::kUnauthenticated);
  // Each failure delay, after the throttles of the second and third.
  EXPECT_EQ(sleeps,
            (std::vector<absl::Duration>{
                absl::Seconds(30), absl::Milliseconds(250), absl::Seconds(30),
                absl::Milliseconds(500), absl::Seconds(30)}));
}

TEST(LoginTest, PreviousStepCodeIsAcceptedForClockSkew) {
  auto env = MakeEnv();
  ASSERT_NE(env, nullptr);
  ASSERT_TRUE(env->AddUser("erin", "erin-pw", {"login"}).ok());
  auto secret = GenerateTotpSecret();
  ASSERT_TRUE(secret.ok());
  ASSERT_TRUE(env->store().SetTotpSecret("erin", *secret).ok());
  const std::string old =
      TotpCode(*secret, env->clock().Now() - absl::Seconds(30));
  EXPECT_TRUE(env->Login("erin", "erin-pw", old).status.ok());
  const std::string too_old =
      TotpCode(*secret, env->clock().Now() - absl::Seconds(90));
  EXPECT_FALSE(env->Login("erin", "erin-pw", too_old).status.ok());
}

TEST(LoginTest, MalformedRequestsAreInvalidArgument) {
  auto env = MakeEnv();
  ASSERT_NE(env, nullptr);
  auto stub = v1::CertificateAuthority::NewStub(env->AnonymousChannel());
  v1::LoginRequest request;
  request.set_user("admin");
  request.set_password(env->admin_password());
  request.set_ssh_public_key("ssh-ed25519 AAAA");
  v1::LoginResponse response;
  grpc::ClientContext ctx;
  EXPECT_EQ(stub->Login(&ctx, request, &response).error_code(),
            StatusCode::INVALID_ARGUMENT);
}

// kMaxPasswordBytes: a password of that length is checked (a wrong one is
// UNAUTHENTICATED like any other); one byte more is refused before any
// hashing, as malformed.
TEST(LoginTest, PasswordsUpToTheLimitAreCheckedLongerOnesRefused) {
  auto env = MakeEnv();
  ASSERT_NE(env, nullptr);
  const std::string longest(kMaxPasswordBytes, 'p');
  ASSERT_TRUE(env->AddUser("pat", longest, {"login"}).ok());
  EXPECT_TRUE(env->Login("pat", longest).status.ok());
  EXPECT_EQ(env->Login("pat", std::string(kMaxPasswordBytes, 'q'))
                .status.error_code(),
            StatusCode::UNAUTHENTICATED);
  const auto too_long = env->Login("pat", longest + "p").status;
  EXPECT_EQ(too_long.error_code(), StatusCode::INVALID_ARGUMENT);
  // The refusal names the field that is too long.
  EXPECT_EQ(
      too_long.error_message(),
      absl::StrCat("password is longer than ", kMaxPasswordBytes, " bytes"));
  EXPECT_EQ(env->Login("", "x").status.error_message(), "user is required");
}

}  // namespace
}  // namespace sallyport::ca
