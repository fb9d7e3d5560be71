#include "storage/records.h"

#include <array>
#include <limits>
#include <utility>

#include "absl/strings/str_cat.h"
#include "base/status_macros.h"

namespace sallyport::storage {
namespace {

// Strict UTF-8 (RFC 3629): no overlong forms, no surrogates, nothing above
// U+10FFFF. PostgreSQL applies the same rules to text in a UTF8 database;
// checking here makes SQLite behave the same.
bool IsValidUtf8(std::string_view s) {
  size_t i = 0;
  const size_t n = s.size();
  while (i < n) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c < 0x80) {
      ++i;
      continue;
    }
    size_t len;
    uint32_t min;
    uint32_t cp;
    if ((c & 0xe0) == 0xc0) {
      len = 2, min = 0x80, cp = c & 0x1f;
    } else if ((c & 0xf0) == 0xe0) {
      len = 3, min = 0x800, cp = c & 0x0f;
    } else if ((c & 0xf8) == 0xf0) {
      len = 4, min = 0x10000, cp = c & 0x07;
    } else {
      return false;
    }
    if (n - i < len) return false;
    for (size_t k = 1; k < len; ++k) {
      const auto cc = static_cast<unsigned char>(s[i + k]);
      if ((cc & 0xc0) != 0x80) return false;
      cp = (cp << 6) | (cc & 0x3f);
    }
    if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) {
      return false;
    }
    i += len;
  }
  return true;
}

template <typename Enum, size_t N>
std::optional<Enum> ParseEnum(
    const std::array<std::pair<Enum, std::string_view>, N>& table,
    std::string_view name) {
  for (const auto& [value, text] : table) {
    if (text == name) return value;
  }
  return std::nullopt;
}

template <typename Enum, size_t N>
std::string_view EnumName(
    const std::array<std::pair<Enum, std::string_view>, N>& table, Enum value) {
  for (const auto& [v, text] : table) {
    if (v == value) return text;
  }
  return "unknown";
}

constexpr std::array<std::pair<ChannelKind, std::string_view>, 6>
    kChannelKinds = {
        {{ChannelKind::kShell, "shell"},
         {ChannelKind::kExec, "exec"},
         {ChannelKind::kSftp, "sftp"},
         {ChannelKind::kPortForward, "port-forward"},
         {ChannelKind::kAgentForward, "agent-forward"},
         {ChannelKind::kProxyJumpPassthrough, "proxyjump-passthrough"}}};
constexpr std::array<std::pair<RecordMode, std::string_view>, 2> kRecordModes =
    {{{RecordMode::kAlways, "always"}, {RecordMode::kNever, "never"}}};
constexpr std::array<std::pair<RecordFailureMode, std::string_view>, 2>
    kRecordFailureModes = {{{RecordFailureMode::kStrict, "strict"},
                            {RecordFailureMode::kBestEffort, "best_effort"}}};
constexpr std::array<std::pair<HostTrust, std::string_view>, 2> kHostTrusts = {
    {{HostTrust::kPinnedKey, "pinned-key"}, {HostTrust::kHostCa, "host-ca"}}};
constexpr std::array<std::pair<CertificatePurpose, std::string_view>, 4>
    kCertificatePurposes = {{{CertificatePurpose::kLogin, "login"},
                             {CertificatePurpose::kSession, "session"},
                             {CertificatePurpose::kHost, "host"},
                             {CertificatePurpose::kGateway, "gateway"}}};
constexpr std::array<std::pair<SessionStatus, std::string_view>, 4>
    kSessionStatuses = {{{SessionStatus::kActive, "active"},
                         {SessionStatus::kEnded, "ended"},
                         {SessionStatus::kFailed, "failed"},
                         {SessionStatus::kInterrupted, "interrupted"}}};
constexpr std::array<std::pair<SessionRecordKind, std::string_view>, 8>
    kSessionRecordKinds = {
        {{SessionRecordKind::kData, "data"},
         {SessionRecordKind::kRequest, "request"},
         {SessionRecordKind::kWindowChange, "window_change"},
         {SessionRecordKind::kChannelOpen, "channel_open"},
         {SessionRecordKind::kChannelClose, "channel_close"},
         {SessionRecordKind::kStreamSummary, "stream_summary"},
         {SessionRecordKind::kSessionEnd, "session_end"},
         {SessionRecordKind::kSessionStart, "session_start"}}};
constexpr std::array<std::pair<RecordDirection, std::string_view>, 3>
    kRecordDirections = {{{RecordDirection::kNone, "none"},
                          {RecordDirection::kInput, "input"},
                          {RecordDirection::kOutput, "output"}}};
constexpr std::array<std::pair<CaKeyPurpose, std::string_view>, 3>
    kCaKeyPurposes = {{{CaKeyPurpose::kUser, "user"},
                       {CaKeyPurpose::kHost, "host"},
                       {CaKeyPurpose::kSession, "session"}}};
constexpr std::array<std::pair<CaKeyState, std::string_view>, 2> kCaKeyStates =
    {{{CaKeyState::kActive, "active"}, {CaKeyState::kRetired, "retired"}}};

absl::Status ValidateName(std::string_view field, std::string_view value) {
  return ValidateText(field, value, kMaxNameBytes, /*required=*/true);
}

absl::Status ValidateNameList(std::string_view field,
                              const std::vector<std::string>& values) {
  if (values.size() > kMaxListEntries) {
    return absl::InvalidArgumentError(absl::StrCat(
        std::string(field), ": more than ", kMaxListEntries, " entries"));
  }
  for (const std::string& v : values) RETURN_IF_ERROR(ValidateName(field, v));
  return absl::OkStatus();
}

absl::Status ValidateLabels(std::string_view field,
                            const std::map<std::string, std::string>& labels) {
  if (labels.size() > kMaxListEntries) {
    return absl::InvalidArgumentError(absl::StrCat(
        std::string(field), ": more than ", kMaxListEntries, " labels"));
  }
  for (const auto& [key, value] : labels) {
    RETURN_IF_ERROR(
        ValidateName(absl::StrCat(std::string(field), " key"), key));
    RETURN_IF_ERROR(ValidateText(absl::StrCat(std::string(field), " value"),
                                 value, kMaxNameBytes, /*required=*/false));
  }
  return absl::OkStatus();
}

absl::Status ValidateSelectors(std::string_view field,
                               const std::vector<HostSelector>& selectors) {
  if (selectors.size() > kMaxListEntries) {
    return absl::InvalidArgumentError(absl::StrCat(
        std::string(field), ": more than ", kMaxListEntries, " selectors"));
  }
  for (const HostSelector& s : selectors) {
    RETURN_IF_ERROR(
        ValidateLabels(absl::StrCat(std::string(field), " labels"), s.labels));
    RETURN_IF_ERROR(ValidateNameList(
        absl::StrCat(std::string(field), " name_globs"), s.name_globs));
  }
  return absl::OkStatus();
}

absl::Status ValidateChannels(const std::vector<ChannelKind>& channels) {
  if (channels.size() > kMaxListEntries) {
    return absl::InvalidArgumentError("channels: too many entries");
  }
  for (ChannelKind k : channels) {
    if (!ParseChannelKind(ChannelKindName(k))) {
      return absl::InvalidArgumentError("channels: unknown channel kind");
    }
  }
  return absl::OkStatus();
}

absl::Status ValidateSerial(std::string_view field, uint64_t serial) {
  if (serial == 0 || serial > kMaxSerial) {
    return absl::InvalidArgumentError(absl::StrCat(
        std::string(field), " must be in 1..", kMaxSerial, ", got ", serial));
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status ValidateText(std::string_view field, std::string_view value,
                          size_t max_bytes, bool required) {
  if (required && value.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat(std::string(field), " must not be empty"));
  }
  if (value.size() > max_bytes) {
    return absl::InvalidArgumentError(absl::StrCat(
        std::string(field), " is longer than ", max_bytes, " bytes"));
  }
  if (value.find('\0') != std::string_view::npos) {
    return absl::InvalidArgumentError(
        absl::StrCat(std::string(field), " contains a NUL byte"));
  }
  if (!IsValidUtf8(value)) {
    return absl::InvalidArgumentError(
        absl::StrCat(std::string(field), " is not valid UTF-8"));
  }
  return absl::OkStatus();
}

std::string_view ChannelKindName(ChannelKind kind) {
  return EnumName(kChannelKinds, kind);
}
std::optional<ChannelKind> ParseChannelKind(std::string_view name) {
  return ParseEnum(kChannelKinds, name);
}
std::string_view RecordModeName(RecordMode mode) {
  return EnumName(kRecordModes, mode);
}
std::optional<RecordMode> ParseRecordMode(std::string_view name) {
  return ParseEnum(kRecordModes, name);
}
std::string_view RecordFailureModeName(RecordFailureMode mode) {
  return EnumName(kRecordFailureModes, mode);
}
std::optional<RecordFailureMode> ParseRecordFailureMode(std::string_view name) {
  return ParseEnum(kRecordFailureModes, name);
}
std::string_view HostTrustName(HostTrust trust) {
  return EnumName(kHostTrusts, trust);
}
std::optional<HostTrust> ParseHostTrust(std::string_view name) {
  return ParseEnum(kHostTrusts, name);
}
std::string_view CertificatePurposeName(CertificatePurpose purpose) {
  return EnumName(kCertificatePurposes, purpose);
}
std::optional<CertificatePurpose> ParseCertificatePurpose(
    std::string_view name) {
  return ParseEnum(kCertificatePurposes, name);
}
std::string_view SessionStatusName(SessionStatus status) {
  return EnumName(kSessionStatuses, status);
}
std::optional<SessionStatus> ParseSessionStatus(std::string_view name) {
  return ParseEnum(kSessionStatuses, name);
}
std::string_view SessionRecordKindName(SessionRecordKind kind) {
  return EnumName(kSessionRecordKinds, kind);
}
std::optional<SessionRecordKind> ParseSessionRecordKind(std::string_view name) {
  return ParseEnum(kSessionRecordKinds, name);
}
std::string_view RecordDirectionName(RecordDirection direction) {
  return EnumName(kRecordDirections, direction);
}
std::optional<RecordDirection> ParseRecordDirection(std::string_view name) {
  return ParseEnum(kRecordDirections, name);
}
std::string_view CaKeyPurposeName(CaKeyPurpose purpose) {
  return EnumName(kCaKeyPurposes, purpose);
}
std::optional<CaKeyPurpose> ParseCaKeyPurpose(std::string_view name) {
  return ParseEnum(kCaKeyPurposes, name);
}
std::string_view CaKeyStateName(CaKeyState state) {
  return EnumName(kCaKeyStates, state);
}
std::optional<CaKeyState> ParseCaKeyState(std::string_view name) {
  return ParseEnum(kCaKeyStates, name);
}

absl::Status User::Validate() const {
  RETURN_IF_ERROR(ValidateName("user name", name));
  return ValidateText("display name", display_name, kMaxTextBytes, false);
}

absl::Status LockoutPolicy::Validate() const {
  if (max_failures < 1) {
    return absl::InvalidArgumentError("lockout policy: max_failures < 1");
  }
  if (lockout <= absl::ZeroDuration() || lockout == absl::InfiniteDuration()) {
    return absl::InvalidArgumentError(
        "lockout policy: lockout must be positive and finite");
  }
  return absl::OkStatus();
}

absl::Status Role::Validate() const {
  RETURN_IF_ERROR(ValidateName("role name", name));
  RETURN_IF_ERROR(
      ValidateText("role description", description, kMaxTextBytes, false));
  RETURN_IF_ERROR(ValidateNameList("role logins", logins));
  RETURN_IF_ERROR(ValidateSelectors("role hosts", hosts));
  RETURN_IF_ERROR(ValidateChannels(channels));
  if (max_ttl <= absl::ZeroDuration() || max_ttl > absl::Hours(24 * 366)) {
    return absl::InvalidArgumentError("role max_ttl must be in (0, 366 days]");
  }
  if (!ParseRecordMode(RecordModeName(record))) {
    return absl::InvalidArgumentError("role record: unknown mode");
  }
  if (force_command.has_value()) {
    RETURN_IF_ERROR(ValidateText("role force_command", *force_command,
                                 kMaxForceCommandBytes, true));
    for (unsigned char c : *force_command) {
      if ((c < 0x20 && c != '\t') || c == 0x7f) {
        return absl::InvalidArgumentError(
            "role force_command must be one line without control "
            "characters");
      }
    }
  }
  if (deny.size() > kMaxListEntries) {
    return absl::InvalidArgumentError("role deny: too many rules");
  }
  for (const DenyRule& rule : deny) {
    RETURN_IF_ERROR(ValidateNameList("deny logins", rule.logins));
    RETURN_IF_ERROR(ValidateSelectors("deny hosts", rule.hosts));
    RETURN_IF_ERROR(ValidateChannels(rule.channels));
  }
  return absl::OkStatus();
}

absl::Status Host::Validate() const {
  RETURN_IF_ERROR(ValidateName("host name", name));
  RETURN_IF_ERROR(ValidateName("host address", address));
  if (port == 0) return absl::InvalidArgumentError("host port must not be 0");
  RETURN_IF_ERROR(ValidateLabels("host labels", labels));
  if (!ParseHostTrust(HostTrustName(trust))) {
    return absl::InvalidArgumentError("host trust: unknown value");
  }
  return ValidateText("host key", host_key, kMaxTextBytes,
                      /*required=*/trust == HostTrust::kPinnedKey);
}

absl::Status IssuedCertificate::Validate() const {
  RETURN_IF_ERROR(ValidateSerial("certificate serial", serial));
  RETURN_IF_ERROR(ValidateText("key id", key_id, kMaxTextBytes, true));
  RETURN_IF_ERROR(ValidateText("certificate user", user, kMaxNameBytes,
                               purpose != CertificatePurpose::kHost));
  RETURN_IF_ERROR(ValidateNameList("principals", principals));
  if (principals.empty()) {
    return absl::InvalidArgumentError("principals must not be empty");
  }
  if (valid_after >= valid_before) {
    return absl::InvalidArgumentError(
        "certificate valid_after must be before valid_before");
  }
  RETURN_IF_ERROR(
      ValidateName("public key fingerprint", public_key_fingerprint));
  RETURN_IF_ERROR(ValidateName("CA key fingerprint", ca_key_fingerprint));
  if (!ParseCertificatePurpose(CertificatePurposeName(purpose))) {
    return absl::InvalidArgumentError("certificate purpose: unknown value");
  }
  if (renews_serial != 0) {
    if (purpose != CertificatePurpose::kGateway) {
      return absl::InvalidArgumentError(
          "only a gateway identity renews another");
    }
    RETURN_IF_ERROR(ValidateSerial("renewed serial", renews_serial));
  }
  if (user_created_at.has_value() && purpose != CertificatePurpose::kLogin &&
      purpose != CertificatePurpose::kSession) {
    return absl::InvalidArgumentError(
        "only a login or session certificate is bound to a user's record");
  }
  return absl::OkStatus();
}

absl::Status Revocation::Validate() const {
  if (serial.has_value() == key_fingerprint.has_value()) {
    return absl::InvalidArgumentError(
        "a revocation names exactly one of serial and key fingerprint");
  }
  if (serial) RETURN_IF_ERROR(ValidateSerial("revoked serial", *serial));
  if (key_fingerprint) {
    RETURN_IF_ERROR(ValidateName("revoked key fingerprint", *key_fingerprint));
  }
  RETURN_IF_ERROR(
      ValidateText("revocation reason", reason, kMaxTextBytes, false));
  return ValidateText("revoked by", revoked_by, kMaxNameBytes, false);
}

absl::Status AuditEventInput::Validate() const {
  RETURN_IF_ERROR(ValidateName("audit event type", type));
  RETURN_IF_ERROR(ValidateName("audit event actor", actor));
  return ValidateText("audit event payload", payload_json, kMaxPayloadBytes,
                      false);
}

absl::Status GatewayAuditEvents::Validate() const {
  RETURN_IF_ERROR(ValidateText("gateway id", gateway_id, kMaxNameBytes, true));
  RETURN_IF_ERROR(ValidateText("gateway event stream", stream,
                               kMaxGatewayStreamBytes, false));
  if (stream.empty() ? !numbers.empty() : numbers.size() != events.size()) {
    return absl::InvalidArgumentError(
        "gateway events need one number each with a stream, none without");
  }
  uint64_t previous = 0;
  for (uint64_t n : numbers) {
    if (n <= previous ||
        n > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
      return absl::InvalidArgumentError(
          "gateway event numbers must ascend from 1 (at most 2^63-1)");
    }
    previous = n;
  }
  for (const AuditEventInput& e : events) RETURN_IF_ERROR(e.Validate());
  return absl::OkStatus();
}

namespace {
int64_t SaturatingSum(int64_t a, int64_t b) {
  if (a < 0) a = 0;
  if (b < 0) b = 0;
  return a > std::numeric_limits<int64_t>::max() - b
             ? std::numeric_limits<int64_t>::max()
             : a + b;
}
}  // namespace

int64_t Session::BytesInSoFar() const {
  return SaturatingSum(bytes_in, open_bytes_in);
}
int64_t Session::BytesOutSoFar() const {
  return SaturatingSum(bytes_out, open_bytes_out);
}

absl::Status Session::Validate() const {
  RETURN_IF_ERROR(ValidateName("session id", id));
  RETURN_IF_ERROR(ValidateName("session user", user));
  RETURN_IF_ERROR(ValidateName("session login", login));
  RETURN_IF_ERROR(ValidateName("session host", host));
  if (bytes_in < 0 || bytes_out < 0) {
    return absl::InvalidArgumentError("session byte counts must be >= 0");
  }
  if (!ParseSessionStatus(SessionStatusName(status))) {
    return absl::InvalidArgumentError("session status: unknown value");
  }
  return ValidateText("session gateway id", gateway_id, kMaxNameBytes, false);
}

bool IsLowerHexHash(std::string_view hash) {
  if (hash.size() != 64) return false;
  for (char c : hash) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

absl::Status SessionRecord::Validate() const {
  RETURN_IF_ERROR(ValidateName("session id", session_id));
  RETURN_IF_ERROR(ValidateSerial("record seq", seq));
  if (offset < absl::ZeroDuration() || offset == absl::InfiniteDuration()) {
    return absl::InvalidArgumentError("record offset must be >= 0 and finite");
  }
  if (!ParseSessionRecordKind(SessionRecordKindName(kind))) {
    return absl::InvalidArgumentError("record kind: unknown value");
  }
  if (!ParseRecordDirection(RecordDirectionName(direction))) {
    return absl::InvalidArgumentError("record direction: unknown value");
  }
  if (stream > 0x7fffffffu) {
    return absl::InvalidArgumentError("record stream out of range");
  }
  RETURN_IF_ERROR(ValidateText("record name", name, kMaxNameBytes, false));
  RETURN_IF_ERROR(
      ValidateText("record summary", summary, kMaxTextBytes, false));
  if (data.size() > kMaxChunkBytes) {
    return absl::InvalidArgumentError(
        absl::StrCat("record data is longer than ", kMaxChunkBytes, " bytes"));
  }
  if (!IsLowerHexHash(hash)) {
    return absl::InvalidArgumentError(
        "record hash must be 64 lowercase hex characters");
  }
  return absl::OkStatus();
}

absl::Status NewJoinToken::Validate() const {
  if (token.size() < kMinJoinTokenBytes || token.size() > kMaxTextBytes) {
    return absl::InvalidArgumentError(absl::StrCat("join token must be ",
                                                   kMinJoinTokenBytes, "..",
                                                   kMaxTextBytes, " bytes"));
  }
  RETURN_IF_ERROR(ValidateName("join token purpose", purpose));
  if (!gateway_name.empty()) {
    RETURN_IF_ERROR(ValidateName("join token gateway name", gateway_name));
  }
  return ValidateText("join token created_by", created_by, kMaxNameBytes,
                      false);
}

absl::Status CaKey::Validate() const {
  RETURN_IF_ERROR(ValidateName("CA key fingerprint", fingerprint));
  RETURN_IF_ERROR(
      ValidateText("CA public key", public_key, kMaxTextBytes, true));
  if (!ParseCaKeyPurpose(CaKeyPurposeName(purpose)) ||
      !ParseCaKeyState(CaKeyStateName(state))) {
    return absl::InvalidArgumentError("CA key: unknown purpose or state");
  }
  return absl::OkStatus();
}

}  // namespace sallyport::storage
