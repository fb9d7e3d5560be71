#include "ca/ca_keys.h"

#include <spdlog/spdlog.h>

#include <cstdio>
#include <filesystem>
#include <optional>

#include "absl/strings/str_cat.h"
#include "base/status_macros.h"

namespace sallyport::ca {
namespace {

using storage::CaKeyPurpose;

absl::StatusOr<ssh::crypto::PrivateKey> LoadKey(const std::string& path) {
  absl::StatusOr<ssh::crypto::PrivateKey> key =
      ssh::crypto::PrivateKey::LoadFile(path);
  if (!key.ok()) {
    return absl::Status(
        key.status().code() == absl::StatusCode::kInvalidArgument
            ? absl::StatusCode::kInvalidArgument
            : absl::StatusCode::kFailedPrecondition,
        absl::StrCat("CA key ", path, ": ", key.status().message()));
  }
  return key;
}

size_t Index(CaKeyPurpose purpose) { return static_cast<size_t>(purpose); }
constexpr CaKeyPurpose kAllPurposes[] = {
    CaKeyPurpose::kUser, CaKeyPurpose::kHost, CaKeyPurpose::kSession};
static_assert(static_cast<size_t>(CaKeyPurpose::kSession) + 1 == 3,
              "CaKeyring::kPurposes must count storage::CaKeyPurpose");

absl::Status NoKey(CaKeyPurpose purpose) {
  return absl::FailedPreconditionError(absl::StrCat(
      "the CA has no ", std::string(storage::CaKeyPurposeName(purpose)),
      " CA key configured (ca.yaml keys.",
      std::string(storage::CaKeyPurposeName(purpose)), "_ca)"));
}

}  // namespace

absl::Status RegisterCaKey(storage::Store* store, CaKeyPurpose purpose,
                           const ssh::crypto::PublicKey& key) {
  const std::string fp = key.FingerprintSha256();
  ASSIGN_OR_RETURN(std::vector<storage::CaKey> keys,
                   store->ListCaKeys(purpose));
  bool any_active = false;
  for (const storage::CaKey& k : keys) {
    if (k.fingerprint == fp) {
      if (k.state == storage::CaKeyState::kRetired) {
        return absl::FailedPreconditionError(absl::StrCat(
            "the ", std::string(storage::CaKeyPurposeName(purpose)), " CA key ",
            fp, " was retired; use the current key file"));
      }
      return absl::OkStatus();
    }
    if (k.state == storage::CaKeyState::kActive) any_active = true;
  }
  storage::CaKey record;
  record.fingerprint = fp;
  record.purpose = purpose;
  record.public_key = key.ToAuthorizedKeysLine(absl::StrCat(
      "sallyport-", std::string(storage::CaKeyPurposeName(purpose)), "-ca"));
  record.state = storage::CaKeyState::kActive;
  absl::Status st = any_active ? store->RotateCaKey(record).status()
                               : store->AddCaKey(record).status();
  // A key file replaced while the CA was stopped is a rotation: say so.
  if (st.ok() && any_active) {
    spdlog::warn(
        "the {} CA key file holds a new key, {}: it is now the active key "
        "and the previous one is retired (trusted until its last "
        "certificate expires)",
        storage::CaKeyPurposeName(purpose), fp);
  }
  // Another instance registered the same key at the same moment.
  if (st.code() == absl::StatusCode::kAlreadyExists) {
    ASSIGN_OR_RETURN(keys, store->ListCaKeys(purpose));
    for (const storage::CaKey& k : keys) {
      if (k.fingerprint == fp && k.state == storage::CaKeyState::kActive) {
        return absl::OkStatus();
      }
    }
  }
  return st;
}

absl::StatusOr<std::unique_ptr<CaKeyring>> CaKeyring::Create(Options options) {
  if (options.store == nullptr || options.clock == nullptr) {
    return absl::InvalidArgumentError("CaKeyring: store and clock required");
  }
  std::array<Key, kPurposes> keys;
  for (CaKeyPurpose purpose : kAllPurposes) {
    const std::string& path = PathOf(options, purpose);
    if (path.empty() && purpose == CaKeyPurpose::kSession) continue;
    ASSIGN_OR_RETURN(ssh::crypto::PrivateKey key, LoadKey(path));
    for (const Key& other : keys) {
      if (other != nullptr && other->public_key() == key.public_key()) {
        return absl::InvalidArgumentError(
            "the user, host and session CA keys must be different keys");
      }
    }
    keys[Index(purpose)] =
        std::make_shared<ssh::crypto::PrivateKey>(std::move(key));
  }
  // A key file of one purpose that the store knows under another (the
  // fingerprint is the store's key) is refused with a clear reason.
  ASSIGN_OR_RETURN(std::vector<storage::CaKey> stored,
                   options.store->ListCaKeys(std::nullopt));
  for (CaKeyPurpose purpose : kAllPurposes) {
    if (keys[Index(purpose)] == nullptr) continue;
    const std::string fp =
        keys[Index(purpose)]->public_key().FingerprintSha256();
    for (const storage::CaKey& k : stored) {
      if (k.fingerprint == fp && k.purpose != purpose) {
        return absl::InvalidArgumentError(absl::StrCat(
            "the ", std::string(storage::CaKeyPurposeName(purpose)),
            " CA key file holds ", fp, ", which the store knows as a ",
            std::string(storage::CaKeyPurposeName(k.purpose)),
            " CA key: every purpose needs a key of its own"));
      }
    }
  }
  // keys.session_ca missing while the store has an active session key:
  // another instance signs with it (HA), or it was taken out of ca.yaml.
  // Signing session certificates with the user key here would break every
  // target that trusts only the session key, so refuse to start.
  if (keys[Index(CaKeyPurpose::kSession)] == nullptr) {
    for (const storage::CaKey& k : stored) {
      if (k.purpose != CaKeyPurpose::kSession ||
          k.state != storage::CaKeyState::kActive) {
        continue;
      }
      return absl::FailedPreconditionError(absl::StrCat(
          "ca.yaml names no keys.session_ca, but the store's active session "
          "CA key is ",
          k.fingerprint,
          ": copy session_ca from another CA instance and name it in "
          "ca.yaml, or, to sign session certificates with the user CA key "
          "again, run `sallyport-ca retire-session-key --config ca.yaml` "
          "first (targets must then trust the user CA key)"));
    }
  }
  for (CaKeyPurpose purpose : kAllPurposes) {
    if (keys[Index(purpose)] == nullptr) continue;
    RETURN_IF_ERROR(RegisterCaKey(options.store, purpose,
                                  keys[Index(purpose)]->public_key()));
  }
  return std::unique_ptr<CaKeyring>(
      new CaKeyring(std::move(options), std::move(keys)));
}

CaKeyring::Key CaKeyring::Active(CaKeyPurpose p) {
  absl::MutexLock lock(&mu_);
  return keys_[Index(p)];
}

bool CaKeyring::Has(CaKeyPurpose purpose) { return Active(purpose) != nullptr; }

CaKeyPurpose CaKeyring::SessionSigner() {
  return Has(CaKeyPurpose::kSession) ? CaKeyPurpose::kSession
                                     : CaKeyPurpose::kUser;
}

const std::string& CaKeyring::PathOf(const Options& options, CaKeyPurpose p) {
  return p == CaKeyPurpose::kUser   ? options.user_key_path
         : p == CaKeyPurpose::kHost ? options.host_key_path
                                    : options.session_key_path;
}

absl::Duration CaKeyring::WindowOf(CaKeyPurpose p) const {
  return p == CaKeyPurpose::kUser   ? options_.user_trust_window
         : p == CaKeyPurpose::kHost ? options_.host_trust_window
                                    : options_.session_trust_window;
}

ssh::crypto::PublicKey CaKeyring::ActivePublicKey(CaKeyPurpose purpose) {
  return Active(purpose)->public_key();
}

absl::StatusOr<ssh::cert::Certificate> CaKeyring::Sign(
    CaKeyPurpose purpose, const ssh::cert::CertificateRequest& request) {
  Key key = Active(purpose);
  if (key == nullptr) return NoKey(purpose);
  return ssh::cert::SignCertificate(request, *key);
}

absl::StatusOr<std::vector<storage::CaKey>> CaKeyring::StoredKeys(
    CaKeyPurpose purpose) {
  const absl::Time now = options_.clock->Now();
  {
    absl::MutexLock lock(&list_mu_);
    const KeyList& list = lists_[Index(purpose)];
    // A clock that went back also refreshes.
    if (now >= list.read_at && now < list.read_at + kKeyListTtl) {
      return list.keys;
    }
  }
  ASSIGN_OR_RETURN(std::vector<storage::CaKey> keys,
                   options_.store->ListCaKeys(purpose));
  absl::MutexLock lock(&list_mu_);
  KeyList& list = lists_[Index(purpose)];
  list.keys = keys;
  list.read_at = now;
  return keys;
}

absl::StatusOr<std::vector<CaKeyring::TrustedKey>> CaKeyring::TrustedKeys(
    CaKeyPurpose purpose) {
  ASSIGN_OR_RETURN(std::vector<storage::CaKey> keys, StoredKeys(purpose));
  const absl::Duration window = WindowOf(purpose);
  const absl::Time now = options_.clock->Now();
  std::vector<TrustedKey> out;
  // Our own active key always comes first, even if another instance has
  // rotated the store's view since.
  std::string own;
  if (Key active = Active(purpose); active != nullptr) {
    own = active->public_key().FingerprintSha256();
    // The line as registered (with its comment, as in the .pub file).
    std::string line = active->public_key().ToAuthorizedKeysLine(absl::StrCat(
        "sallyport-", std::string(storage::CaKeyPurposeName(purpose)), "-ca"));
    for (const storage::CaKey& k : keys) {
      if (k.fingerprint == own) line = k.public_key;
    }
    out.push_back({std::move(line), own, true});
  }
  for (const storage::CaKey& k : keys) {
    if (k.fingerprint == own) continue;
    const bool trusted =
        k.state == storage::CaKeyState::kActive ||
        (k.retired_at.has_value() && *k.retired_at + window > now);
    if (trusted) {
      out.push_back({k.public_key, k.fingerprint,
                     k.state == storage::CaKeyState::kActive});
    }
  }
  return out;
}

absl::StatusOr<storage::CaKey> CaKeyring::Rotate(CaKeyPurpose purpose) {
  absl::MutexLock rotate(&rotate_mu_);
  if (!Has(purpose)) return NoKey(purpose);
  const std::string& path = PathOf(options_, purpose);
  ASSIGN_OR_RETURN(ssh::crypto::PrivateKey fresh,
                   ssh::crypto::PrivateKey::GenerateEd25519());
  const std::string comment = absl::StrCat(
      "sallyport-", std::string(storage::CaKeyPurposeName(purpose)), "-ca");
  const std::string tmp = path + ".new";
  RETURN_IF_ERROR(fresh.WriteFile(tmp, comment));
  storage::CaKey record;
  record.fingerprint = fresh.public_key().FingerprintSha256();
  record.purpose = purpose;
  record.public_key = fresh.public_key().ToAuthorizedKeysLine(comment);
  record.state = storage::CaKeyState::kActive;
  absl::StatusOr<storage::CaKey> stored = options_.store->RotateCaKey(record);
  if (!stored.ok()) {
    std::remove(tmp.c_str());
    return stored.status();
  }
  const std::string retired = absl::StrCat(
      path, ".", absl::ToUnixSeconds(options_.clock->Now()), ".retired");
  std::error_code ec;
  std::filesystem::rename(path, retired, ec);
  if (!ec) std::filesystem::rename(tmp, path, ec);
  if (ec) {
    return absl::InternalError(absl::StrCat(
        "rotated in the store, but replacing ", path, " failed: ", ec.message(),
        " (the new key is in ", tmp, ")"));
  }
  {
    absl::MutexLock lock(&mu_);
    keys_[Index(purpose)] =
        std::make_shared<ssh::crypto::PrivateKey>(std::move(fresh));
  }
  {
    absl::MutexLock lock(&list_mu_);
    lists_[Index(purpose)].read_at = absl::InfinitePast();
  }
  return stored;
}

}  // namespace sallyport::ca
