#include "audit/events.h"

#include <utility>
#include <variant>

namespace sallyport::audit {
namespace {

using W = EventWriter;

// Fields every gateway event carries (the CA sets "gateway" from the
// caller's mTLS identity; "at" is the gateway's clock).
#define SP_GW "gateway", "session_id", "at"

const std::vector<EventSpec>& Catalogue() {
  static const auto* catalogue = new std::vector<EventSpec>{
      // ---- CA: logins and certificates
      {kEventLoginOk,
       W::kCa,
       "a user logged in (password, TOTP)",
       {"user", "source", "serial"}},
      {kEventLoginFailed,
       W::kCa,
       "a login attempt failed",
       {"user", "source", "reason"}},
      {kEventLoginLocked,
       W::kCa,
       "a (user, source) pair reached its failure limit and is locked",
       {"user", "source", "until"}},
      {kEventUserUnlocked,
       W::kCa,
       "a locked user was unlocked on the CA host",
       {"user", "via"}},
      {kEventCertIssued,
       W::kCa,
       "a certificate was issued",
       {"subject", "purpose", "serial"}},
      {kEventCertRefused,
       W::kCa,
       "a certificate request was refused",
       {"subject", "code", "reason"}},
      {kEventAccessDenied,
       W::kCa,
       "an RBAC or identity refusal (a channel, a login kind)",
       {"reason"}},
      {kEventJumpAllowed,
       W::kCa,
       "a jump the CA allowed, passed through or recorded",
       {"gateway", "user", "host", "mode"}},
      {kEventAdminDenied,
       W::kCa,
       "an admin call without the admin role",
       {"method", "source", "code", "reason"}},
      {kEventCaInitialised,
       W::kCa,
       "`sallyport-ca init` created the CA",
       {"admin", "user_ca", "host_ca", "tls"}},
      {kEventCaKeyRetired,
       W::kCa,
       "a CA key was retired on the CA host (the session CA key, by "
       "`sallyport-ca retire-session-key`)",
       {"purpose", "fingerprint", "via"}},
      {kEventGatewayEnrolled,
       W::kCa,
       "a gateway enrolled with a join token",
       {"gateway", "source", "principals"}},
      {kEventGatewayRenewed,
       W::kCa,
       "a gateway renewed its mTLS identity",
       {"gateway", "source", "previous_serial", "tls_valid_before"}},
      {kEventEnrollRefused,
       W::kCa,
       "an enrolment was refused",
       {"kind", "source", "code", "reason"}},
      {kEventHostEnrolled,
       W::kCa,
       "a host enrolled and got a host certificate",
       {"host", "address", "source", "serial", "key_fingerprint"}},
      {kEventAdminRevoke,
       W::kCa,
       "revocation: a certificate serial or key was revoked",
       {"code", "source"}},
      {kEventAdminRevokeUser,
       W::kCa,
       "revocation: every certificate of a user was revoked",
       {"code", "source"}},
      {kAdminEventPrefix,
       W::kCa,
       "admin change: one event per admin RPC (admin.<Method>), with its "
       "result code",
       {"code", "source"},
       /*prefix=*/true},
      {kEventGatewayEventsRefused,
       W::kCa,
       "a gateway sent events the CA refused (another gateway's session: "
       "the first gateway to write anything of a session owns it; an "
       "event naming another user or login than its session's "
       "certificate was issued for; an unknown code)",
       {"gateway", "session_id", "reason"}},
      {kEventRecordingRefused,
       W::kCa,
       "a gateway's recording upload was refused (another gateway's "
       "session, its events or recording came first; a broken chain)",
       {"gateway", "session_id", "reason"}},
      {kEventGatewayWriteBudgetExceeded,
       W::kCa,
       "a gateway's writes were refused because it is over its write budget "
       "at the CA (at most one event per gateway per minute)",
       {"gateway", "method", "refused", "rate_bytes_per_second", "burst_bytes",
        "source"}},
      {kEventGatewayOpenSessionsExceeded,
       W::kCa,
       "a gateway's upload of a new session was refused because the gateway "
       "has as many sessions open at the CA as it may (at most one event per "
       "gateway per minute)",
       {"gateway", "session_id", "max_open_sessions", "refused", "source"}},
      {kEventAuditRead,
       W::kCa,
       "the audit log was listed, exported or verified (spctl audit)",
       {"what", "source"}},
      {kEventAuditDenied,
       W::kCa,
       "a read of the audit log or of recordings without the auditor or "
       "admin role",
       {"what", "source", "reason"}},
      {kEventSessionRead,
       W::kCa,
       "sessions were listed, shown or verified (spctl sessions)",
       {"what", "source"}},
      {kEventSessionReplay,
       W::kCa,
       "replay: a recording was played back",
       {"session_id", "source"}},
      {kEventSessionExport,
       W::kCa,
       "a recording was exported (asciicast)",
       {"session_id", "format", "source"}},
      // ---- gateway
      {kEventSessionStart,
       W::kGateway,
       "a user authenticated at the gateway (a session starts)",
       {SP_GW, "user", "login", "host", "peer", "serial", "ca_fingerprint"}},
      {kEventSessionRefused,
       W::kGateway,
       "a user's authentication at the gateway was refused",
       {SP_GW, "peer", "login", "host", "reason"}},
      {kEventSessionEnd,
       W::kGateway,
       "a session (connection) ended",
       {SP_GW, "user", "outcome", "duration_ms", "bytes_in", "bytes_out"}},
      {kEventChannelOpen,
       W::kGateway,
       "a channel was opened",
       {SP_GW, "user", "channel", "kind", "login", "host"}},
      {kEventChannelRefused,
       W::kGateway,
       "a channel was refused",
       {SP_GW, "user", "channel", "kind", "login", "host", "reason"}},
      {kEventChannelClose,
       W::kGateway,
       "a channel was closed",
       {SP_GW, "user", "channel", "kind", "bytes_in", "bytes_out",
        "ext_dropped_bytes_in", "ext_dropped_bytes_out"}},
      {kEventExecCommand,
       W::kGateway,
       "exec: the command line a user ran",
       {SP_GW, "user", "channel", "host", "command"}},
      {kEventPortForwardOpen,
       W::kGateway,
       "a port forward was opened: `direction` local (ssh -L, -D, -W: to "
       "`destination` from the host) or remote (ssh -R: a connection to "
       "`destination` on the host, forwarded to the user)",
       {SP_GW, "user", "channel", "host", "destination", "direction"}},
      {kEventPortForwardClose,
       W::kGateway,
       "a port forward was closed, with its bytes each way",
       {SP_GW, "user", "channel", "destination", "direction", "bytes_in",
        "bytes_out", "ext_dropped_bytes_in", "ext_dropped_bytes_out"}},
      {kEventPortForwardListen,
       W::kGateway,
       "a remote forward (ssh -R) was granted: the host listens on `listen` "
       "for the user",
       {SP_GW, "user", "host", "login", "listen"}},
      {kEventProxyJump,
       W::kGateway,
       "an `ssh -J` jump through the gateway",
       {SP_GW, "user", "channel", "host", "destination"}},
      {kEventProxyJumpClose,
       W::kGateway,
       "an `ssh -J` jump ended",
       {SP_GW, "user", "channel", "destination", "bytes_in", "bytes_out",
        "ext_dropped_bytes_in", "ext_dropped_bytes_out"}},
      {kEventFileTransferStart,
       W::kGateway,
       "a file transfer started (sftp subsystem or scp -t/-f)",
       {SP_GW, "user", "channel", "host", "protocol", "direction"}},
      {kEventUpstreamFailed,
       W::kGateway,
       "the gateway could not connect to a target host",
       {SP_GW, "host", "address", "reason"}},
      {kEventRecordingStarted,
       W::kGateway,
       "a channel's recording started",
       {SP_GW, "channel"}},
      {kEventRecordingFailed,
       W::kGateway,
       "recording failed (spool unwritable or full); with the policy applied",
       {SP_GW, "channel", "record_mode", "outcome", "reason"}},
      {kEventRecordingComplete,
       W::kGateway,
       "a session's recording was shipped to and confirmed by the CA",
       {SP_GW, "records", "status"}},
      {kEventRecordingRepaired,
       W::kGateway,
       "a spool's torn tail (after a crash) was truncated",
       {SP_GW, "torn_bytes", "reason"}},
      {kEventRecordingDamaged,
       W::kGateway,
       "a spool is damaged (not a torn tail) and is kept unrepaired",
       {SP_GW, "reason"}},
  };
  return *catalogue;
}

#undef SP_GW

}  // namespace

absl::Span<const EventSpec> EventCatalogue() { return Catalogue(); }

const EventSpec* FindEvent(std::string_view code) {
  const EventSpec* family = nullptr;
  for (const EventSpec& spec : Catalogue()) {
    if (spec.prefix) {
      if (code.size() > spec.code.size() && code.starts_with(spec.code)) {
        family = &spec;
      }
    } else if (spec.code == code) {
      return &spec;
    }
  }
  return family;
}

bool IsGatewayEvent(std::string_view code) {
  const EventSpec* spec = FindEvent(code);
  return spec != nullptr && spec->writer == EventWriter::kGateway;
}

std::string AuditPayloadJson(const std::vector<AuditField>& fields) {
  return base::JsonObject(fields);
}

namespace {

constexpr char kCutMark[] = "\u2026";                   // "…"
constexpr size_t kCutMarkBytes = sizeof(kCutMark) - 1;  // 3

// `text` in at most `max` bytes: whole when it fits, else its first bytes
// (not splitting a UTF-8 sequence) and kCutMark.
std::string CutText(const std::string& text, size_t max) {
  if (text.size() <= max) return text;
  size_t n = max < kCutMarkBytes ? 0 : max - kCutMarkBytes;
  // Back to the start of the sequence the cut falls in (at most 3
  // continuation bytes, 10xxxxxx).
  for (int i = 0;
       i < 3 && n > 0 && (static_cast<unsigned char>(text[n]) & 0xC0) == 0x80;
       ++i) {
    --n;
  }
  return text.substr(0, n) + kCutMark;
}

}  // namespace

std::vector<AuditField> CapAuditFields(std::vector<AuditField> fields,
                                       size_t max) {
  std::vector<AuditField> out;
  out.reserve(fields.size());
  for (AuditField& field : fields) {
    size_t whole = 0;
    bool cut = false;
    if (auto* text = std::get_if<std::string>(&field.second)) {
      whole = text->size();
      if (whole > max) {
        *text = CutText(*text, max);
        cut = true;
      }
    } else if (auto* list =
                   std::get_if<std::vector<std::string>>(&field.second)) {
      for (const std::string& entry : *list) whole += entry.size();
      size_t left = max;
      size_t kept = 0;
      while (kept < list->size() && (*list)[kept].size() <= left) {
        left -= (*list)[kept++].size();
      }
      if (kept < list->size()) {
        (*list)[kept] = CutText((*list)[kept], left);
        list->resize(kept + 1);
        cut = true;
      }
    }
    std::string name = field.first;
    out.push_back(std::move(field));
    if (cut) {
      out.emplace_back(name + "_bytes", static_cast<int64_t>(whole));
    }
  }
  return out;
}

}  // namespace sallyport::audit
