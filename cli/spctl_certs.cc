// spctl certs ls|show|revoke, krl export, ca status|rotate|target-keys,
// access check.
#include <algorithm>
#include <optional>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "base/safe_text.h"
#include "cli/krl.h"
#include "cli/sp_home.h"
#include "cli/spctl.h"
#include "ssh/crypto/keys.h"

namespace sallyport::cli {
namespace {

namespace pb = admin::v1;
using Stub = pb::Admin::Stub;
using CaStub = ca::v1::CertificateAuthority::Stub;

struct CertArgs {
  std::string user;
  bool active = false;
  std::string purpose;
  uint64_t serial = 0;
  std::string key;
  std::string reason;
  std::string output_file;
  std::string login;
  std::string host;
  std::string kind;
  std::string destination;
};

// Every revocation, paged.
std::optional<int> AllRevocations(Spctl& ctl,
                                  std::vector<ca::v1::Revocation>* out) {
  int64_t after = 0;
  for (;;) {
    ca::v1::ListRevocationsRequest req;
    req.set_after_id(after);
    req.set_limit(10000);
    ca::v1::ListRevocationsResponse resp;
    if (auto rc = Call(ctl, ctl.Ca(), &CaStub::ListRevocations, req, &resp,
                       "list revocations")) {
      return rc;
    }
    for (const auto& r : resp.revocations()) {
      if (out->size() >= kMaxKrlEntries) {
        return ctl.Error("more revocations than one KRL holds");
      }
      out->push_back(r);
      after = std::max(after, r.id());
    }
    if (!resp.more()) return std::nullopt;
    // Each page starts after the one before, or this would never end.
    if (resp.revocations().empty()) {
      return ctl.Error(
          "list revocations: the CA's next page does not start after this one");
    }
  }
}

int List(Spctl& ctl, const CertArgs& a) {
  pb::ListCertificatesResponse all;
  uint64_t after = 0;
  for (;;) {
    pb::ListCertificatesRequest req;
    req.set_user(a.user);
    req.set_purpose(a.purpose);
    if (a.active)
      req.mutable_valid_at()->set_seconds(absl::ToUnixSeconds(absl::Now()));
    req.set_after_serial(after);
    req.set_limit(1000);
    pb::ListCertificatesResponse resp;
    if (auto rc = Call(ctl, ctl.Admin(), &Stub::ListCertificates, req, &resp,
                       "certs ls")) {
      return *rc;
    }
    for (const auto& c : resp.certificates()) {
      *all.add_certificates() = c;
      after = std::max(after, c.serial());
    }
    if (!resp.more() || all.certificates_size() >= 100000) break;
    // Each page starts after the one before, or this would never end.
    if (resp.certificates().empty()) {
      return ctl.Error(
          "certs ls: the CA's next page does not start after this one");
    }
  }
  if (a.active) {
    // --active: valid now and not revoked.
    pb::ListCertificatesResponse kept;
    for (const auto& c : all.certificates()) {
      if (!c.revoked()) *kept.add_certificates() = c;
    }
    all = kept;
  }
  if (ctl.Structured(all)) return kExitOk;
  std::vector<std::vector<std::string>> rows;
  for (const auto& c : all.certificates()) {
    rows.push_back({std::to_string(c.serial()), c.purpose(), c.key_id(),
                    absl::StrJoin(c.principals(), ","),
                    FormatTime(c.valid_before()),
                    c.revoked() ? "revoked" : "-"});
  }
  PrintTable(ctl.out(),
             {"SERIAL", "PURPOSE", "KEY ID", "PRINCIPALS", "VALID UNTIL (UTC)",
              "REVOKED"},
             rows);
  return kExitOk;
}

// "no", or when, by whom, why and what was revoked.
std::string RevokedText(const pb::IssuedCertificate& c) {
  if (!c.revoked()) return "no";
  const pb::RevokedEntry& r = c.revocation();
  std::string text =
      absl::StrCat(FormatTime(r.revoked_at()), " UTC by ",
                   r.revoked_by().empty() ? "-" : r.revoked_by());
  if (!r.reason().empty())
    absl::StrAppend(&text, ": ", base::EscapeControls(r.reason()));
  if (r.has_key_fingerprint()) {
    absl::StrAppend(&text, " (its key ", r.key_fingerprint(), " is revoked)");
  }
  return text;
}

// The one listed certificate with `serial`, if there is one.
std::optional<pb::IssuedCertificate> Listed(
    const pb::ListCertificatesResponse& resp, uint64_t serial) {
  if (resp.certificates_size() != 1 ||
      resp.certificates(0).serial() != serial) {
    return std::nullopt;
  }
  return resp.certificates(0);
}

// The ListCertificates request that finds `serial` (serial > 0).
pb::ListCertificatesRequest BySerial(uint64_t serial) {
  pb::ListCertificatesRequest req;
  req.set_after_serial(serial - 1);
  req.set_limit(1);
  return req;
}

int Show(Spctl& ctl, uint64_t serial) {
  pb::ListCertificatesResponse resp;
  if (serial == 0) return ctl.Error("serials start at 1", kExitUsage);
  if (auto rc = Call(ctl, ctl.Admin(), &Stub::ListCertificates,
                     BySerial(serial), &resp, "certs show")) {
    return *rc;
  }
  const std::optional<pb::IssuedCertificate> found = Listed(resp, serial);
  if (!found) {
    return ctl.Error(
        absl::StrCat("there is no certificate with serial ", serial),
        kExitNotFound);
  }
  const pb::IssuedCertificate& c = *found;
  if (ctl.Structured(c)) return kExitOk;
  ctl.out() << "Serial:       " << c.serial() << "\n"
            << "Purpose:      " << c.purpose() << "\n"
            << "Key ID:       " << c.key_id() << "\n"
            << "User:         " << (c.user().empty() ? "-" : c.user()) << "\n"
            << "Principals:   " << absl::StrJoin(c.principals(), ", ") << "\n"
            << "Valid after:  " << FormatTime(c.valid_after()) << " UTC\n"
            << "Valid before: " << FormatTime(c.valid_before()) << " UTC\n"
            << "Key:          " << c.public_key_fingerprint() << "\n"
            << "CA key:       " << c.ca_key_fingerprint() << "\n"
            << "Issued:       " << FormatTime(c.issued_at()) << " UTC\n"
            << "Revoked:      " << RevokedText(c) << "\n";
  return kExitOk;
}

int Revoke(Spctl& ctl, const CertArgs& a, bool by_serial) {
  const int targets =
      (by_serial ? 1 : 0) + (a.key.empty() ? 0 : 1) + (a.user.empty() ? 0 : 1);
  if (targets != 1) {
    return ctl.Error(
        "pass exactly one of --serial N, --key FINGERPRINT, --user NAME",
        kExitUsage);
  }
  if (!a.user.empty()) {
    pb::RevokeUserCertificatesRequest req;
    req.set_user(a.user);
    req.set_reason(a.reason);
    pb::RevokeUserCertificatesResponse resp;
    if (auto rc = Call(ctl, ctl.Admin(), &Stub::RevokeUserCertificates, req,
                       &resp, absl::StrCat("certs revoke --user ", a.user))) {
      return *rc;
    }
    if (!ctl.Structured(resp)) {
      ctl.out() << "Revoked " << resp.serials_size() << " certificate(s) of "
                << a.user;
      if (resp.serials_size() > 0) {
        ctl.out() << " (serials " << absl::StrJoin(resp.serials(), ", ") << ")";
      }
      ctl.out() << "\n";
    }
    return kExitOk;
  }
  pb::RevokeRequest req;
  if (by_serial) {
    req.set_serial(a.serial);
  } else {
    if (!ParseSha256Fingerprint(a.key).ok()) {
      return ctl.Error(
          "--key: a key fingerprint is SHA256:<base64> (as "
          "`ssh-keygen -l` prints it)",
          kExitUsage);
    }
    req.set_key_fingerprint(a.key);
  }
  req.set_reason(a.reason);
  pb::RevokedEntry resp;
  if (auto rc =
          Call(ctl, ctl.Admin(), &Stub::Revoke, req, &resp, "certs revoke")) {
    return *rc;
  }
  if (!ctl.Structured(resp)) {
    ctl.out() << "Revoked "
              << (by_serial ? absl::StrCat("serial ", a.serial)
                            : absl::StrCat("key ", a.key))
              << "\n";
  }
  if (by_serial) {
    // A serial no SSH certificate of this CA has: most likely a typo (the
    // certificate meant is still valid). It may also be an mTLS
    // certificate's (a gateway's, or a user's TLS login), which the CA
    // does not list, so the revocation stands; the admin is told.
    pb::ListCertificatesResponse found;
    grpc::ClientContext ctx;
    ctx.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(30)));
    if (ctl.Admin()->ListCertificates(&ctx, BySerial(a.serial), &found).ok() &&
        !Listed(found, a.serial)) {
      ctl.err() << "spctl: note: no SSH certificate this CA issued has serial "
                << a.serial
                << " (an mTLS certificate may); if it was a typo, the "
                   "certificate you meant is still valid: `spctl certs ls` "
                   "lists the serials\n";
    }
  }
  return kExitOk;
}

int ListKeys(Spctl& ctl, pb::ListCaKeysResponse* keys) {
  if (auto rc = Call(ctl, ctl.Admin(), &Stub::ListCaKeys,
                     pb::ListCaKeysRequest(), keys, "list CA keys")) {
    return *rc;
  }
  return kExitOk;
}

int ExportKrl(Spctl& ctl, const CertArgs& a) {
  pb::ListCaKeysResponse keys;
  if (int rc = ListKeys(ctl, &keys); rc != kExitOk) return rc;
  KrlContents krl;
  for (const pb::CaKey& k : keys.keys()) {
    absl::StatusOr<ssh::crypto::PublicKey> key =
        ssh::crypto::PublicKey::FromAuthorizedKeysLine(k.public_key());
    if (!key.ok()) {
      return ctl.Error(absl::StrCat("CA key ", k.fingerprint(), ": ",
                                    key.status().message()));
    }
    krl.ca_keys.push_back(key->Blob());
  }
  std::vector<ca::v1::Revocation> revs;
  if (auto rc = AllRevocations(ctl, &revs)) return *rc;
  if (absl::Status st = AddRevocations(revs, &krl); !st.ok()) {
    return ctl.Error(st.message());
  }
  krl.generated = absl::Now();
  krl.comment = "Sallyport revocations (spctl krl export)";
  absl::StatusOr<std::string> bytes = BuildKrl(krl);
  if (!bytes.ok()) return ctl.Error(bytes.status().message());
  if (absl::Status st = WriteFileAtomic(a.output_file, *bytes, 0644);
      !st.ok()) {
    return ctl.Error(st.message());
  }
  ctl.out() << "Wrote " << a.output_file << ": " << krl.serials.size()
            << " revoked serial(s), " << krl.key_sha256.size()
            << " revoked key(s), " << krl.ca_keys.size() << " CA key(s)\n";
  return kExitOk;
}

int CaStatus(Spctl& ctl) {
  pb::ListCaKeysResponse keys;
  if (int rc = ListKeys(ctl, &keys); rc != kExitOk) return rc;
  if (ctl.Structured(keys)) return kExitOk;
  std::vector<std::vector<std::string>> rows;
  for (const pb::CaKey& k : keys.keys()) {
    rows.push_back({k.purpose(), k.state(), k.fingerprint(),
                    FormatTime(k.created_at()), FormatTime(k.retired_at())});
  }
  PrintTable(
      ctl.out(),
      {"PURPOSE", "STATE", "FINGERPRINT", "CREATED (UTC)", "RETIRED (UTC)"},
      rows);
  ctl.out() << "Retired keys stay trusted until their last certificate "
               "expires.\n";
  return kExitOk;
}

// The TrustedUserCAKeys lines for targets: the keys that sign session
// certificates (the session CA keys when the CA has an active one, else the
// user CA keys), active and retired-but-still-trusted, from
// GetCaPublicKeys. After the session key was retired the user keys come
// first, then the retired session keys while they are still trusted.
int TargetKeys(Spctl& ctl, const std::string& output_file) {
  ca::v1::CaPublicKeys keys;
  if (auto rc =
          Call(ctl, ctl.Ca(), &CaStub::GetCaPublicKeys,
               ca::v1::GetCaPublicKeysRequest(), &keys, "ca target-keys")) {
    return *rc;
  }
  bool session = false;
  for (const ca::v1::CaPublicKey& k : keys.session_ca()) {
    session = session || k.active();
  }
  if (!session && keys.user_ca().empty()) {
    return ctl.Error("the CA lists no user CA key");
  }
  std::string text;
  int count = 0;
  auto add = [&](const auto& list) {
    for (const ca::v1::CaPublicKey& k : list) {
      absl::StrAppend(&text, k.public_key(), "\n");
      ++count;
    }
  };
  if (!session) add(keys.user_ca());
  add(keys.session_ca());
  if (output_file.empty()) {
    ctl.out() << text;
  } else if (absl::Status st = WriteFileAtomic(output_file, text, 0644);
             !st.ok()) {
    return ctl.Error(st.message());
  } else {
    ctl.out() << "Wrote " << output_file << ": " << count << " "
              << (session ? "session" : "user") << " CA key(s)\n";
  }
  ctl.err() << "Targets: TrustedUserCAKeys = these lines ("
            << (session ? "the session CA keys: users' own certificates "
                          "do not open such targets"
                        : "the user CA keys: without a session CA key, "
                          "users' own certificates open such targets too")
            << "). Refresh after every rotation.\n";
  return kExitOk;
}

int Rotate(Spctl& ctl, const std::string& purpose) {
  pb::RotateCaKeyRequest req;
  req.set_purpose(purpose);
  pb::CaKey key;
  if (auto rc = Call(ctl, ctl.Admin(), &Stub::RotateCaKey, req, &key,
                     absl::StrCat("ca rotate --purpose ", purpose))) {
    return *rc;
  }
  if (!ctl.Structured(key)) {
    ctl.out()
        << "New " << purpose << " CA key " << key.fingerprint() << "\n"
        << key.public_key() << "\n"
        << "The old key stays trusted until its last certificate expires; "
           "add the new key to TrustedUserCAKeys / known_hosts now.\n";
    // Certificates are signed with the new key from now on.
    ctl.err() << (purpose == "host"
                      ? "Host certificates (targets, the gateway's) are "
                        "signed with it from now on: clients whose "
                        "known_hosts lacks it see a host-key warning until "
                        "they run `sp config`.\n"
                  : purpose == "session"
                      ? "Session certificates are signed with it from now "
                        "on: targets whose TrustedUserCAKeys lacks it refuse "
                        "gateway sessions until it is added.\n"
                      : "User certificates are signed with it from now on, "
                        "and session certificates too unless the CA has a "
                        "session CA key: targets whose TrustedUserCAKeys "
                        "lacks it refuse those until it is added.\n")
              << "(docs/operations.md, \"CA key rotation\": rotating "
                 "without an outage)\n";
  }
  return kExitOk;
}

int Check(Spctl& ctl, const CertArgs& a) {
  // Said here, naming the flag: the CA's "destination must be HOST:PORT"
  // did not say where a destination goes.
  if (a.kind == "port-forward" && a.destination.empty()) {
    return ctl.Error(
        "access check: a port-forward needs --destination HOST:PORT (where "
        "the forward goes, as the host sees it)",
        kExitUsage);
  }
  pb::CheckAccessRequest req;
  req.set_user(a.user);
  req.set_login(a.login);
  req.set_host(a.host);
  req.set_kind(a.kind);
  req.set_destination(a.destination);
  pb::CheckAccessResponse resp;
  if (auto rc = Call(ctl, ctl.Admin(), &Stub::CheckAccess, req, &resp,
                     "access check")) {
    return *rc;
  }
  if (!ctl.Structured(resp)) {
    ctl.out() << (resp.allowed() ? "ALLOW" : "DENY") << ": " << resp.reason()
              << "\n";
    if (!resp.role().empty()) {
      ctl.out() << "Decided by role " << resp.role();
      if (!resp.rule().empty()) ctl.out() << ", rule " << resp.rule();
      ctl.out() << "\n";
    }
    ctl.out() << "Code: " << resp.code() << "\n";
    if (!resp.host().empty() && resp.host() != a.host) {
      ctl.out() << "Host: " << resp.host() << " (the inventory host of "
                << a.host << ")\n";
    }
    if (resp.allowed()) ctl.out() << "Recording: " << resp.record() << "\n";
    if (resp.has_force_command()) {
      ctl.out() << "Forced command: " << resp.force_command() << "\n";
    }
  }
  if (resp.allowed()) return kExitOk;
  // The CA answers an unknown user with a refusal (as the gateway would
  // refuse them); for the admin asking it is a name that does not exist.
  return resp.code() == "unknown-user" ? kExitNotFound : kExitDenied;
}

}  // namespace

void AddCertCommands(CLI::App& app, Spctl& ctl, Action* action) {
  auto a = std::make_shared<CertArgs>();
  Spctl* c = &ctl;
  CLI::App* certs =
      app.add_subcommand("certs", "issued certificates and revocation");
  certs->require_subcommand(1);
  CLI::App* ls = certs->add_subcommand("ls", "list issued certificates");
  ls->add_option("--user", a->user, "only this user's");
  ls->add_flag("--active", a->active, "only valid now and not revoked");
  ls->add_option("--purpose", a->purpose,
                 "login, session, host or gateway (a gateway's mTLS identity, "
                 "user gateway:NAME)")
      ->check(CLI::IsMember({"login", "session", "host", "gateway"}));
  OnRun(ls, action, [c, a] { return List(*c, *a); });
  CLI::App* show = certs->add_subcommand(
      "show", "show one certificate, and its revocation if it is revoked");
  show->add_option("SERIAL", a->serial, "the serial")
      ->required()
      ->transform(PositiveDecimal());
  OnRun(show, action, [c, a] { return Show(*c, a->serial); });
  CLI::App* revoke = certs->add_subcommand(
      "revoke", "revoke a serial, a key, or every certificate of a user");
  CLI::Option* serial = revoke->add_option("--serial", a->serial, "a serial")
                            ->transform(PositiveDecimal());
  revoke->add_option("--key", a->key, "a key fingerprint SHA256:...");
  revoke->add_option("--user", a->user,
                     "every unexpired certificate of this user (ends their "
                     "gateway sessions)");
  revoke->add_option("--reason", a->reason, "why (kept in the audit log)");
  OnRun(revoke, action,
        [c, a, serial] { return Revoke(*c, *a, serial->count() > 0); });

  CLI::App* krl = app.add_subcommand("krl", "OpenSSH key revocation lists");
  krl->require_subcommand(1);
  CLI::App* exp = krl->add_subcommand(
      "export",
      "write a KRL of every revoked serial and key (RevokedKeys in "
      "sshd_config)");
  exp->add_option("-o,--out", a->output_file, "the KRL file")->required();
  OnRun(exp, action, [c, a] { return ExportKrl(*c, *a); });

  CLI::App* cacmd = app.add_subcommand("ca", "the CA's signing keys");
  cacmd->require_subcommand(1);
  OnRun(cacmd->add_subcommand("status", "list CA keys, active and retired"),
        action, [c] { return CaStatus(*c); });
  CLI::App* rotate = cacmd->add_subcommand(
      "rotate",
      "make a new signing key; the old one stays trusted until its "
      "certificates expire");
  a->purpose = "";
  auto purpose = std::make_shared<std::string>("user");
  rotate
      ->add_option("--purpose", *purpose,
                   "user (default), host or session (the CA's session CA "
                   "key, when it has one)")
      ->check(CLI::IsMember({"user", "host", "session"}));
  OnRun(rotate, action, [c, purpose] { return Rotate(*c, *purpose); });
  CLI::App* target_keys = cacmd->add_subcommand(
      "target-keys",
      "print the TrustedUserCAKeys lines for targets: the keys that sign "
      "session certificates (the session CA keys, else the user CA keys), "
      "retired ones still trusted included");
  target_keys->add_option("-o,--out", a->output_file,
                          "write them to FILE (atomically) instead");
  OnRun(target_keys, action, [c, a] { return TargetKeys(*c, a->output_file); });

  CLI::App* access = app.add_subcommand("access", "explain RBAC decisions");
  access->require_subcommand(1);
  CLI::App* check = access->add_subcommand(
      "check",
      "would USER get LOGIN on HOST for KIND? exit 0 allow, 4 deny, 3 "
      "unknown user");
  check->add_option("USER", a->user, "the user")->required();
  check->add_option("LOGIN", a->login, "the login on the host")->required();
  check->add_option("HOST", a->host, "the inventory host (name or address)")
      ->required();
  check->add_option("KIND", a->kind,
                    "shell (default), exec, sftp, port-forward, agent-forward, "
                    "proxyjump-passthrough");
  check->add_option("--destination", a->destination,
                    "HOST:PORT for port-forward");
  OnRun(check, action, [c, a] { return Check(*c, *a); });
}

}  // namespace sallyport::cli
