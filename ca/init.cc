#include "ca/init.h"

#include <fcntl.h>
#include <openssl/rand.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "base/status_macros.h"
#include "ca/audit_log.h"
#include "ca/ca_keys.h"
#include "ca/service_util.h"
#include "ca/tls_material.h"
#include "ssh/crypto/keys.h"

namespace sallyport::ca {
namespace {

std::string Path(const std::string& dir, std::string_view name) {
  return absl::StrCat(dir, "/", std::string(name));
}

// Creates `path` exclusively with `mode` and writes `data`.
absl::Status WriteNew(const std::string& path, std::string_view data,
                      mode_t mode) {
  int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
  if (fd < 0) {
    return absl::FailedPreconditionError(
        absl::StrCat("cannot create ", path, ": ", strerror(errno)));
  }
  size_t done = 0;
  while (done < data.size()) {
    ssize_t n = write(fd, data.data() + done, data.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      close(fd);
      return absl::InternalError(absl::StrCat("cannot write ", path));
    }
    done += static_cast<size_t>(n);
  }
  if (fsync(fd) != 0 || close(fd) != 0) {
    return absl::InternalError(absl::StrCat("cannot write ", path));
  }
  return absl::OkStatus();
}

std::string YamlQuote(std::string_view s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') out.push_back('\\');
    out.push_back(c);
  }
  out.push_back('"');
  return out;
}

absl::StatusOr<std::string> WriteSshCaKey(const std::string& dir,
                                          std::string_view name) {
  ASSIGN_OR_RETURN(ssh::crypto::PrivateKey key,
                   ssh::crypto::PrivateKey::GenerateEd25519());
  std::string comment = absl::StrCat("sallyport-", std::string(name));
  std::replace(comment.begin(), comment.end(), '_', '-');
  ASSIGN_OR_RETURN(base::SecretBytes text, key.ToOpenSshFormat(comment));
  RETURN_IF_ERROR(WriteNew(Path(dir, name), text.view(), 0600));
  const std::string pub = key.public_key().ToAuthorizedKeysLine(comment);
  RETURN_IF_ERROR(WriteNew(Path(dir, absl::StrCat(std::string(name), ".pub")),
                           pub + "\n", 0644));
  return pub;
}

absl::Status WriteKeyAndCert(const std::string& dir, std::string_view stem,
                             EVP_PKEY* key, X509* cert) {
  ASSIGN_OR_RETURN(base::SecretBytes key_pem, PrivateKeyToPem(key));
  RETURN_IF_ERROR(WriteNew(Path(dir, absl::StrCat(std::string(stem), ".key")),
                           key_pem.view(), 0600));
  ASSIGN_OR_RETURN(std::string cert_pem, CertificateToPem(cert));
  return WriteNew(Path(dir, absl::StrCat(std::string(stem), ".crt")), cert_pem,
                  0644);
}

uint64_t RandomSerial() {
  uint64_t serial = 0;
  RAND_bytes(reinterpret_cast<unsigned char*>(&serial), sizeof(serial));
  return (serial & 0x7fffffffffffffffULL) | 1;
}

}  // namespace

std::string DefaultStoreUrl(const std::string& state_dir) {
  return absl::StrCat("sqlite://", state_dir, "/ca.db");
}

absl::Status PrepareStateDir(const std::string& state_dir) {
  if (mkdir(state_dir.c_str(), 0700) != 0 && errno != EEXIST) {
    return absl::FailedPreconditionError(
        absl::StrCat("cannot create ", state_dir, ": ", strerror(errno)));
  }
  for (const char* name :
       {"ca.yaml", "user_ca", "host_ca", "session_ca", "tls.key"}) {
    if (access(Path(state_dir, name).c_str(), F_OK) == 0) {
      return absl::FailedPreconditionError(
          absl::StrCat(state_dir, " already holds a CA (", name,
                       " exists); not touching it"));
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<InitResult> InitializeCa(const InitOptions& options,
                                        storage::Store* store) {
  RETURN_IF_ERROR(storage::ValidateText("admin name", options.admin,
                                        storage::kMaxNameBytes, true));
  const std::string& dir = options.state_dir;
  InitResult result;
  result.admin = options.admin;
  if (options.admin_password.has_value()) {
    if (options.admin_password->empty()) {
      return absl::InvalidArgumentError("the admin password is empty");
    }
    if (absl::Status bad = CheckNewPassword(options.admin_password->view());
        !bad.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat("the admin password: ", bad.message()));
    }
    result.admin_password = *options.admin_password;
  } else {
    // 20 characters from [A-Za-z0-9] (about 119 bits), by rejection
    // sampling so every character is equally likely; no leading '-' or
    // shell metacharacters to trip over.
    static constexpr char kAlphabet[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    base::SecretBytes pw;
    while (pw.size() < 20) {
      uint8_t b = 0;
      if (RAND_bytes(&b, 1) != 1) return absl::InternalError("RAND_bytes");
      if (b >= 248) continue;  // 248 = 4 * 62
      const uint8_t c = static_cast<uint8_t>(kAlphabet[b % 62]);
      pw.Append(absl::Span<const uint8_t>(&c, 1));
    }
    result.admin_password = std::move(pw);
    result.password_generated = true;
  }
  ASSIGN_OR_RETURN(std::unique_ptr<PasswordHasher> hasher,
                   PasswordHasher::Create(options.scrypt));
  ASSIGN_OR_RETURN(std::string password_hash,
                   hasher->Hash(result.admin_password));
  if (store->GetUser(options.admin).ok()) {
    return absl::FailedPreconditionError(
        absl::StrCat("the store already has a user ", options.admin,
                     " (is this database already initialised?)"));
  }

  // SSH CA keys.
  ASSIGN_OR_RETURN(result.user_ca_public_key, WriteSshCaKey(dir, "user_ca"));
  ASSIGN_OR_RETURN(result.host_ca_public_key, WriteSshCaKey(dir, "host_ca"));
  if (options.session_ca) {
    ASSIGN_OR_RETURN(result.session_ca_public_key,
                     WriteSshCaKey(dir, "session_ca"));
  }

  // Internal TLS CA and the endpoint's self-signed certificate.
  const absl::Time now = options.clock->Now();
  ASSIGN_OR_RETURN(base::EvpPkeyPtr client_ca_key, GenerateTlsKey());
  CertificateSpec ca_spec;
  ca_spec.common_name = "Sallyport client CA";
  ca_spec.serial = RandomSerial();
  ca_spec.not_before = now - absl::Hours(1);
  ca_spec.not_after = now + absl::Hours(24 * 365 * 10);
  ca_spec.is_ca = true;
  ASSIGN_OR_RETURN(base::X509Ptr client_ca_cert,
                   IssueCertificate(ca_spec, client_ca_key.get(), nullptr,
                                    client_ca_key.get()));
  RETURN_IF_ERROR(WriteKeyAndCert(dir, "client_ca", client_ca_key.get(),
                                  client_ca_cert.get()));

  ASSIGN_OR_RETURN(base::EvpPkeyPtr tls_key, GenerateTlsKey());
  CertificateSpec tls_spec;
  tls_spec.common_name = std::string(kServerTlsName);
  tls_spec.serial = RandomSerial();
  tls_spec.not_before = now - absl::Hours(1);
  tls_spec.not_after = now + absl::Hours(24 * 365 * 5);
  tls_spec.server = true;
  tls_spec.dns_names = {std::string(kServerTlsName), "localhost"};
  char host[256] = {0};
  if (gethostname(host, sizeof(host) - 1) == 0 && host[0] != '\0' &&
      std::string_view(host) != "localhost") {
    tls_spec.dns_names.push_back(host);
  }
  tls_spec.ip_addresses = {"127.0.0.1", "::1"};
  ASSIGN_OR_RETURN(
      base::X509Ptr tls_cert,
      IssueCertificate(tls_spec, tls_key.get(), nullptr, tls_key.get()));
  RETURN_IF_ERROR(WriteKeyAndCert(dir, "tls", tls_key.get(), tls_cert.get()));
  ASSIGN_OR_RETURN(result.tls_fingerprint,
                   CertificateFingerprint(tls_cert.get()));

  // The store: CA keys, roles, the first admin.
  ASSIGN_OR_RETURN(ssh::crypto::PublicKey user_ca,
                   ssh::crypto::PublicKey::FromAuthorizedKeysLine(
                       result.user_ca_public_key));
  ASSIGN_OR_RETURN(ssh::crypto::PublicKey host_ca,
                   ssh::crypto::PublicKey::FromAuthorizedKeysLine(
                       result.host_ca_public_key));
  RETURN_IF_ERROR(RegisterCaKey(store, storage::CaKeyPurpose::kUser, user_ca));
  RETURN_IF_ERROR(RegisterCaKey(store, storage::CaKeyPurpose::kHost, host_ca));
  std::vector<AuditField> fingerprints = {
      {"user_ca", user_ca.FingerprintSha256()},
      {"host_ca", host_ca.FingerprintSha256()}};
  if (options.session_ca) {
    ASSIGN_OR_RETURN(ssh::crypto::PublicKey session_ca,
                     ssh::crypto::PublicKey::FromAuthorizedKeysLine(
                         result.session_ca_public_key));
    RETURN_IF_ERROR(
        RegisterCaKey(store, storage::CaKeyPurpose::kSession, session_ca));
    fingerprints.push_back({"session_ca", session_ca.FingerprintSha256()});
  }
  for (const auto& [name, description, logins] :
       {std::tuple<std::string, std::string, std::vector<std::string>>{
            std::string(kAdminRole), "Administers the CA (admin API)", {}},
        {"login", "Logs in to hosts", {options.admin}}}) {
    storage::Role role;
    role.name = name;
    role.description = description;
    role.logins = logins;
    if (!logins.empty()) {
      role.channels = {storage::ChannelKind::kShell,
                       storage::ChannelKind::kExec, storage::ChannelKind::kSftp,
                       storage::ChannelKind::kPortForward};
    }
    absl::Status st = store->CreateRole(role).status();
    if (!st.ok() && st.code() != absl::StatusCode::kAlreadyExists) return st;
  }
  storage::User admin;
  admin.name = options.admin;
  admin.display_name = "First administrator";
  RETURN_IF_ERROR(store->CreateUser(admin).status());
  RETURN_IF_ERROR(store->SetPasswordHash(admin.name, password_hash));
  RETURN_IF_ERROR(store->BindRole(admin.name, kAdminRole).status());
  RETURN_IF_ERROR(store->BindRole(admin.name, "login").status());
  AuditLog audit(store);
  std::vector<AuditField> fields = {{"admin", admin.name}};
  for (AuditField& f : fingerprints) fields.push_back(std::move(f));
  fields.push_back({"tls", result.tls_fingerprint});
  RETURN_IF_ERROR(
      audit.Record(kEventCaInitialised, "sallyport-ca init", fields));

  // The config file last: its presence means "initialised".
  result.config_path = Path(dir, "ca.yaml");
  const std::string yaml = absl::StrCat(
      "# sallyport-ca configuration (schema: proto/config.proto, CaConfig).\n",
      "# Written by `sallyport-ca init`; relative paths are relative to "
      "state_dir.\n",
      "listen: ", YamlQuote(options.listen), "\n",
      "state_dir: ", YamlQuote(dir), "\n",
      "store: ", YamlQuote(options.store_url), "\n", "keys:\n",
      "  user_ca: user_ca\n", "  host_ca: host_ca\n",
      options.session_ca
          ? "  session_ca: session_ca\n"
          : "  # session_ca: a key that signs only session certificates "
            "(hosts\n  # trusting only it refuse users' own certificates)\n",
      "tls:\n", "  cert: tls.crt\n", "  key: tls.key\n",
      "  client_ca_cert: client_ca.crt\n", "  client_ca_key: client_ca.key\n",
      "login:\n", "  max_failures: 5\n", "  max_failures_per_address: 20\n",
      "  lockout: 15m\n", "  failure_delay: 250ms\n",
      "  scrypt_log_n: ", options.scrypt.log_n, "\n", "certificates:\n",
      "  max_user_ttl: 8h\n", "  backdate: 1m\n", "  host_ttl: 720h\n",
      "logging:\n", "  level: info\n",
      "# Where gateways connect to hosts from (source-address of session\n",
      "# certificates); without it the CA issues no session certificates.\n",
      "# gateway:\n", "#   egress_addresses: [10.0.0.2/32]\n");
  RETURN_IF_ERROR(WriteNew(result.config_path, yaml, 0600));
  return result;
}

absl::Status UnlockUserLocally(storage::Store* store, std::string_view user) {
  RETURN_IF_ERROR(store->UnlockUser(user));
  return AuditLog(store).Record(
      kEventUserUnlocked, "local",
      {{"user", std::string(user)}, {"via", "sallyport-ca unlock"}});
}

absl::StatusOr<std::optional<storage::CaKey>> RetireSessionCaKeyLocally(
    storage::Store* store) {
  ASSIGN_OR_RETURN(std::vector<storage::CaKey> keys,
                   store->ListCaKeys(storage::CaKeyPurpose::kSession));
  for (const storage::CaKey& k : keys) {
    if (k.state != storage::CaKeyState::kActive) continue;
    ASSIGN_OR_RETURN(storage::CaKey retired, store->RetireCaKey(k.fingerprint));
    RETURN_IF_ERROR(
        AuditLog(store).Record(kEventCaKeyRetired, "local",
                               {{"purpose", "session"},
                                {"fingerprint", retired.fingerprint},
                                {"via", "sallyport-ca retire-session-key"}}));
    return std::optional<storage::CaKey>(std::move(retired));
  }
  return std::optional<storage::CaKey>();
}

}  // namespace sallyport::ca
