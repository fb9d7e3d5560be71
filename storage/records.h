// Typed records kept by the Store (DESIGN.md §8). Plain structs: the Store
// fills in the fields documented as "set by the store" and ignores whatever
// the caller put there.
//
// Text fields are UTF-8 without NUL bytes: both backends refuse anything else
// with kInvalidArgument (PostgreSQL cannot store NUL in text, and silently
// truncating a name at a NUL would be worse than refusing it). Binary fields
// (TOTP secrets, session chunk data) take any bytes.
//
// Times are stored with microsecond precision; absl::InfiniteFuture() and
// absl::InfinitePast() round-trip.
#ifndef SALLYPORT_STORAGE_RECORDS_H_
#define SALLYPORT_STORAGE_RECORDS_H_

#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "audit/audit_hash.h"
#include "base/secret_bytes.h"

namespace sallyport::storage {

// Limits enforced by Validate() (bytes of UTF-8).
inline constexpr size_t kMaxNameBytes = 256;     // names, ids, logins, keys
inline constexpr size_t kMaxTextBytes = 8192;    // descriptions, reasons, keys
inline constexpr size_t kMaxListEntries = 1024;  // logins, principals, labels
inline constexpr size_t kMaxPayloadBytes = 1 << 20;    // audit payload JSON
inline constexpr size_t kMaxChunkBytes = 1 << 20;      // one session chunk
inline constexpr size_t kMaxForceCommandBytes = 4096;  // a role's command
// The most rows one page of a listing holds: List* calls and filters take
// a limit of 1..kMaxListLimit.
inline constexpr int kMaxListLimit = 10000;
// Join tokens shorter than this are refused: they must be unguessable.
inline constexpr size_t kMinJoinTokenBytes = 16;

// kInvalidArgument naming `field` unless `value` is valid UTF-8 without NUL
// bytes, at most `max_bytes` long (and not empty when `required`).
absl::Status ValidateText(std::string_view field, std::string_view value,
                          size_t max_bytes, bool required);
// Whether `hash` is a SHA-256 digest as the store keeps it: 64 lowercase
// hex digits.
bool IsLowerHexHash(std::string_view hash);

// ---------------------------------------------------------------- users

struct User {
  std::string name;  // unique key, 1..kMaxNameBytes
  std::string display_name;
  bool disabled = false;
  absl::Time created_at;  // set by the store
  absl::Time updated_at;  // set by the store

  absl::Status Validate() const;
  bool operator==(const User&) const = default;
};

// Every user has exactly one Credentials record, created (empty) with the
// user and deleted with it.
struct Credentials {
  std::string user;
  std::string password_hash;      // encoded hash (PHC string); empty = none
  base::SecretBytes totp_secret;  // raw TOTP key; empty = no TOTP
  // Consecutive failures since the last success or the last lockout.
  int failed_attempts = 0;
  std::optional<absl::Time> last_failure_at;
  std::optional<absl::Time> locked_until;
  absl::Time updated_at;  // set by the store
  // The last UnlockUser (set by the store); unset when never unlocked.
  std::optional<absl::Time> unlocked_at;
};

struct LockoutPolicy {
  int max_failures = 5;  // this many consecutive failures lock the account
  absl::Duration lockout = absl::Minutes(15);

  absl::Status Validate() const;
};

struct LoginFailureResult {
  // Consecutive failures after counting this one; 0 when it caused a lockout
  // (the count starts again when the lockout ends).
  int failed_attempts = 0;
  // Set while the account is locked (by this failure or an earlier one).
  std::optional<absl::Time> locked_until;
  // True when this failure is the one that locked the account.
  bool locked_now = false;
};

// ---------------------------------------------------------------- RBAC (§6)

// kProxyJumpPassthrough: `ssh -J` relayed without recording (DESIGN.md §7).
enum class ChannelKind {
  kShell,
  kExec,
  kSftp,
  kPortForward,
  kAgentForward,
  kProxyJumpPassthrough,
};
enum class RecordMode { kAlways, kNever };
// What a recorder failure does to a recorded session (issue 14): kStrict
// ends it (and refuses new ones while the spool cannot record); kBestEffort
// lets it go on unrecorded with a recording.failed event.
enum class RecordFailureMode { kStrict, kBestEffort };

// "shell", "exec", "sftp", "port-forward", "agent-forward",
// "proxyjump-passthrough".
std::string_view ChannelKindName(ChannelKind kind);
std::optional<ChannelKind> ParseChannelKind(std::string_view name);
// "always", "never".
std::string_view RecordModeName(RecordMode mode);
std::optional<RecordMode> ParseRecordMode(std::string_view name);
// "strict", "best_effort".
std::string_view RecordFailureModeName(RecordFailureMode mode);
std::optional<RecordFailureMode> ParseRecordFailureMode(std::string_view name);

// Matches a host when every label matches (key=value) and, if name_globs is
// not empty, the host name matches one of the globs. Interpretation is the
// policy's job; the store only keeps the fields.
struct HostSelector {
  std::map<std::string, std::string> labels;
  std::vector<std::string> name_globs;

  bool operator==(const HostSelector&) const = default;
};

// A deny rule wins over every allow. An empty list means "any".
struct DenyRule {
  std::vector<std::string> logins;
  std::vector<HostSelector> hosts;
  std::vector<ChannelKind> channels;

  bool operator==(const DenyRule&) const = default;
};

struct Role {
  std::string name;  // unique key
  std::string description;
  std::vector<std::string> logins;  // principals this role may log in as
  std::vector<HostSelector> hosts;  // hosts this role may reach
  std::vector<ChannelKind> channels;
  absl::Duration max_ttl = absl::Hours(8);  // > 0
  RecordMode record = RecordMode::kAlways;
  std::vector<DenyRule> deny;
  // Recording policy (issue 14; kept in the role spec JSON).
  RecordFailureMode record_mode = RecordFailureMode::kStrict;
  // Whether user input is recorded; unset: on for pty sessions only.
  std::optional<bool> record_input;
  // The command that replaces every shell, exec and sftp this role allows
  // (like the certificate's force-command; ca/rbac/rbac.h says how roles
  // combine). Unset: the user's own command runs. Kept in the role spec
  // JSON; 1..kMaxForceCommandBytes printable bytes (tab allowed).
  std::optional<std::string> force_command;
  absl::Time created_at;  // set by the store
  absl::Time updated_at;  // set by the store

  absl::Status Validate() const;
  bool operator==(const Role&) const = default;
};

struct RoleBinding {
  std::string user;
  std::string role;
  absl::Time created_at;  // set by the store

  bool operator==(const RoleBinding&) const = default;
};

// ---------------------------------------------------------------- hosts

enum class HostTrust {
  kPinnedKey,  // host_key is the only key accepted
  kHostCa,     // any host certificate from our host CA naming the host
};
std::string_view HostTrustName(HostTrust trust);  // "pinned-key", "host-ca"
std::optional<HostTrust> ParseHostTrust(std::string_view name);

struct Host {
  std::string name;     // unique key
  std::string address;  // DNS name or IP literal
  uint16_t port = 22;   // 1..65535
  std::map<std::string, std::string> labels;
  HostTrust trust = HostTrust::kHostCa;
  // OpenSSH public key ("ssh-ed25519 AAAA..."); required for kPinnedKey.
  std::string host_key;
  absl::Time created_at;  // set by the store
  absl::Time updated_at;  // set by the store

  absl::Status Validate() const;
  bool operator==(const Host&) const = default;
};

// ---------------------------------------------------------------- certificates

// kGateway: a gateway's mTLS identity (X.509, not SSH), recorded with user
// "gateway:NAME" (schema version 12).
enum class CertificatePurpose { kLogin, kSession, kHost, kGateway };
// "login", "session", "host", "gateway".
std::string_view CertificatePurposeName(CertificatePurpose purpose);
std::optional<CertificatePurpose> ParseCertificatePurpose(
    std::string_view name);

// Serials are 1..INT64_MAX (PostgreSQL has no unsigned 64-bit type).
inline constexpr uint64_t kMaxSerial = 0x7fffffffffffffffULL;

struct IssuedCertificate {
  uint64_t serial = 0;  // from Store::AllocateSerial, unique
  std::string key_id;
  std::string user;  // empty for host certificates
  std::vector<std::string> principals;
  absl::Time valid_after;
  absl::Time valid_before;
  std::string public_key_fingerprint;  // "SHA256:..." of the certified key
  std::string ca_key_fingerprint;      // the signing CA key
  CertificatePurpose purpose = CertificatePurpose::kLogin;
  absl::Time issued_at;  // set by the store
  // A gateway identity (kGateway) renewed from the identity of this serial
  // (RenewGatewayIdentity); 0: none (an enrolment, or not kGateway). Each
  // serial is renewed at most once (schema version 15): the store refuses
  // a second renewal of it.
  uint64_t renews_serial = 0;
  // Not stored (reads leave it unset): for a login or session
  // certificate, the created_at of `user` as the issuer read it when it
  // decided. When set, the certificate is recorded only if that user still
  // exists, is enabled and is the same user (not deleted and created again
  // since), checked in the record's own transaction (Store::
  // RecordCertificate).
  std::optional<absl::Time> user_created_at;

  absl::Status Validate() const;
  bool operator==(const IssuedCertificate&) const = default;
};

struct CertificateFilter {
  std::optional<std::string> user;
  std::optional<CertificatePurpose> purpose;
  // Only certificates with valid_after <= valid_at < valid_before.
  std::optional<absl::Time> valid_at;
  uint64_t after_serial = 0;  // paging: serials greater than this
  int limit = 1000;           // 1..10000
};

// Exactly one of serial and key_fingerprint is set.
struct Revocation {
  int64_t id = 0;  // set by the store: increasing, for incremental sync
  std::optional<uint64_t> serial;
  std::optional<std::string> key_fingerprint;
  std::string reason;
  std::string revoked_by;
  absl::Time revoked_at;  // set by the store

  absl::Status Validate() const;
  bool operator==(const Revocation&) const = default;
};

// ---------------------------------------------------------------- audit (§9)

// The chain's types (audit/audit_hash.h).
using audit::AuditEvent;
using audit::AuditHead;
using audit::kAuditGenesisHash;

struct AuditEventInput {
  std::string type;          // stable event code, e.g. "cert.issued"
  std::string actor;         // who did it ("alice", "gateway:gw1", ...)
  std::string payload_json;  // opaque to the store; hashed byte for byte

  absl::Status Validate() const;
};

// The audit events one gateway sent in one request
// (GatewayEvents.RecordGatewayEvents), in order, for
// Store::AppendGatewayAuditEvents. A gateway's event sender names each of
// its runs with a random `stream` and numbers the events of a run from 1
// up in the order it sends them; numbers[i] is events[i]'s. An empty
// stream: the events are not numbered (numbers is empty).
struct GatewayAuditEvents {
  std::string gateway_id;  // 1..kMaxNameBytes
  std::string stream;      // 0..kMaxGatewayStreamBytes
  std::vector<uint64_t> numbers;
  std::vector<AuditEventInput> events;

  // The events' own checks, the gateway and stream's, and with a stream one
  // number per event, ascending, each 1..INT64_MAX.
  absl::Status Validate() const;
};
inline constexpr size_t kMaxGatewayStreamBytes = 64;
// The streams of one gateway the Store keeps (the most recently written):
// each run of a gateway's sender is a new stream, and the rows of old runs
// (which never send again) would otherwise grow without bound, one per
// restart (Store::AppendGatewayAuditEvents).
inline constexpr int kGatewayEventStreamsKept = 64;

// ---------------------------------------------------------------- sessions

// The chain hash before a session's first record (64 hex zeros).
inline constexpr std::string_view kRecordingGenesisHash =
    "0000000000000000000000000000000000000000000000000000000000000000";

// kInterrupted: the gateway died before the session ended; its records
// were shipped from the spool on the gateway's next start.
enum class SessionStatus { kActive, kEnded, kFailed, kInterrupted };
// "active", "ended", "failed", "interrupted".
std::string_view SessionStatusName(SessionStatus status);
std::optional<SessionStatus> ParseSessionStatus(std::string_view name);
// The most open sessions Store::CountOpenSessions counts (its `at_most`):
// a count reads up to that many index entries.
inline constexpr int64_t kMaxOpenSessionsCounted = 10'000'000;

struct Session {
  std::string id;  // unique key chosen by the gateway
  std::string user;
  std::string login;
  std::string host;
  absl::Time started_at;
  std::optional<absl::Time> ended_at;
  int64_t bytes_in = 0;   // client → host
  int64_t bytes_out = 0;  // host → client
  SessionStatus status = SessionStatus::kActive;
  // The gateway that owns the session (its mTLS identity); only it may add
  // records. Empty for sessions stored before schema version 5.
  std::string gateway_id;
  // Set by the store (AppendSessionRecords): the last record's seq (0 when
  // there is none) and its chain hash (kRecordingGenesisHash when none).
  uint64_t last_seq = 0;
  std::string chain_head = std::string(kRecordingGenesisHash);
  // Set by the store (AppendSessionRecords; schema version 10): while the
  // session is active, the bytes of the data records stored so far of its
  // channels that have not closed yet (a channel's totals reach bytes_in
  // and bytes_out only with its channel_close record). 0 once it ended.
  int64_t open_bytes_in = 0;
  int64_t open_bytes_out = 0;
  // Set by the store (AbandonSession; schema version 19) when an admin
  // marked the active session abandoned: its gateway is gone for good and
  // will not ship its end. The status stays kActive (a gateway that comes
  // back still ships its records and its end, which then stands; the mark
  // stays as history).
  std::optional<absl::Time> abandoned_at;
  std::string abandoned_by;    // the admin
  std::string abandon_reason;  // why, as they gave it

  absl::Status Validate() const;
  // Active and marked abandoned (listings show it so).
  bool Abandoned() const {
    return status == SessionStatus::kActive && abandoned_at.has_value();
  }
  // bytes_in + open_bytes_in (bytes_out + open_bytes_out), at most the
  // int64 maximum: an active session's bytes so far (the totals of its
  // closed channels and what is recorded of the open ones), an ended
  // session's totals.
  int64_t BytesInSoFar() const;
  int64_t BytesOutSoFar() const;
  bool operator==(const Session&) const = default;
};

// Store::AbandonSession's mark.
struct SessionAbandonment {
  absl::Time at;
  std::string by;      // a user name (kMaxNameBytes)
  std::string reason;  // 1..kMaxAbandonReasonBytes, printable text
};
inline constexpr size_t kMaxAbandonReasonBytes = 1024;

struct SessionEnd {
  absl::Time ended_at;
  // kEnded, kFailed or kInterrupted.
  SessionStatus status = SessionStatus::kEnded;
  int64_t bytes_in = 0;
  int64_t bytes_out = 0;
  // When set, the session ends only if exactly this many records are stored
  // (kFailedPrecondition otherwise): the CA closes a recording only once
  // every record the gateway spooled has arrived.
  std::optional<uint64_t> expect_last_seq;
  // Set: the audit event of this end (an interrupted session's
  // session.end, which its stopped gateway never sent), made from the
  // session as the call ends it and appended in the same transaction. Only
  // a call that ends the session appends it (a session ends once), so a
  // call made again never adds a second. It may be called more than once
  // (a transaction retried); kInvalidArgument for an event
  // AuditEventInput::Validate refuses.
  std::function<AuditEventInput(const Session& ended)> event;
};

// What Store::AppendSessionRecordsAndEnd did.
struct EndedSession {
  Session session;  // as the call left it
  // True when this call ended the session (and appended its
  // SessionEnd::event); false when it had ended before.
  bool ended = false;
};

struct SessionFilter {
  std::optional<std::string> user;
  std::optional<std::string> host;
  std::optional<std::string> login;
  std::optional<absl::Time> started_after;   // inclusive
  std::optional<absl::Time> started_before;  // exclusive
  int limit = 100;                           // 1..10000, newest first
  // Paging: only sessions after this one in the list's order (newest
  // first, ties on the start time by id): the last of the previous page.
  struct Cursor {
    absl::Time started_at;
    std::string id;
  };
  std::optional<Cursor> after;
};

// One record of a session recording, as the Store keeps it: a flat row
// whose fields mean what audit/recording_record.h says per kind (the Store
// does not interpret them). `hash` is the record's SHA-256 chain hash
// (lowercase hex), computed by //audit; the Store keeps the chain's head.
enum class SessionRecordKind {
  kData,
  kRequest,
  kWindowChange,
  kChannelOpen,
  kChannelClose,
  kStreamSummary,
  kSessionEnd,
  kSessionStart,  // schema version 14
};
// "data", "request", "window_change", "channel_open", "channel_close",
// "stream_summary", "session_end", "session_start".
std::string_view SessionRecordKindName(SessionRecordKind kind);
std::optional<SessionRecordKind> ParseSessionRecordKind(std::string_view name);

enum class RecordDirection { kNone, kInput, kOutput };
// "none", "input" (user -> host), "output" (host -> user).
std::string_view RecordDirectionName(RecordDirection direction);
std::optional<RecordDirection> ParseRecordDirection(std::string_view name);

struct SessionRecord {
  std::string session_id;
  uint64_t seq = 0;  // 1..kMaxSerial, contiguous within the session
  uint32_t channel = 0;
  absl::Duration offset;  // since the session started, >= 0
  SessionRecordKind kind = SessionRecordKind::kData;
  RecordDirection direction = RecordDirection::kNone;
  uint32_t stream = 0;  // SSH data type: 0 data, 1 stderr
  std::string name;     // text, at most kMaxNameBytes
  std::string summary;  // text, at most kMaxTextBytes
  int64_t value1 = 0;
  int64_t value2 = 0;
  std::string data;  // raw bytes, at most kMaxChunkBytes
  std::string hash;  // 64 lowercase hex characters

  absl::Status Validate() const;
  bool operator==(const SessionRecord&) const = default;
};

// ---------------------------------------------------------------- join tokens

struct NewJoinToken {
  base::SecretBytes token;  // the secret; only its SHA-256 is stored
  std::string purpose;      // e.g. "gateway"
  std::string created_by;
  absl::Time expires_at;
  // The gateway a "gateway" token is for: only that name may enrol with
  // it, and only such a token enrols a name already enrolled (schema
  // version 13). Empty: any name not yet enrolled.
  std::string gateway_name;

  absl::Status Validate() const;
};

struct JoinToken {
  // Set by the store: 1, 2, 3, ... in creation order. The public name of
  // the token (listings, revocation); never derived from the secret.
  int64_t id = 0;
  std::string token_hash;  // lowercase hex SHA-256 of the secret
  std::string purpose;
  std::string created_by;
  absl::Time created_at;  // set by the store
  absl::Time expires_at;
  std::optional<absl::Time> used_at;
  std::optional<absl::Time> revoked_at;
  std::string gateway_name;  // NewJoinToken::gateway_name

  bool operator==(const JoinToken&) const = default;
};

struct JoinTokenFilter {
  // Only tokens that can still enrol at `usable_at`: not used, not revoked,
  // expires_at > usable_at.
  std::optional<absl::Time> usable_at;
  int64_t after_id = 0;  // paging: ids greater than this
  int limit = 1000;      // 1..10000
};

// ---------------------------------------------------------------- CA keys

// kSession: the optional key that signs only the gateway's per-session
// certificates (without it the user key signs them), so that hosts can
// trust it instead of the user key, which also signs users' own
// certificates.
enum class CaKeyPurpose { kUser, kHost, kSession };
enum class CaKeyState { kActive, kRetired };
// "user", "host", "session"
std::string_view CaKeyPurposeName(CaKeyPurpose purpose);
std::optional<CaKeyPurpose> ParseCaKeyPurpose(std::string_view name);
std::string_view CaKeyStateName(CaKeyState state);  // "active", "retired"
std::optional<CaKeyState> ParseCaKeyState(std::string_view name);

// Public parts only: private keys never enter the store.
struct CaKey {
  std::string fingerprint;  // unique key, "SHA256:..."
  CaKeyPurpose purpose = CaKeyPurpose::kUser;
  std::string public_key;  // OpenSSH public key line
  CaKeyState state = CaKeyState::kActive;
  absl::Time created_at;                 // set by the store
  std::optional<absl::Time> retired_at;  // set by the store

  absl::Status Validate() const;
  bool operator==(const CaKey&) const = default;
};

}  // namespace sallyport::storage

#endif  // SALLYPORT_STORAGE_RECORDS_H_
