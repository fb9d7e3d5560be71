// The audit event catalogue (DESIGN.md §9, issue 14 "Events"): every event
// type Sallyport writes, with a stable code, who writes it and the payload
// fields it carries. docs/audit-events.md documents each code (a test
// checks that it does). Codes never change meaning; new ones are added.
//
// An event is stored as (seq, time, type = code, actor, payload JSON,
// prev_hash, hash) in the Store's hash chain (audit/audit_hash.h). The
// payload is a flat JSON object built from AuditFields; it never holds a
// secret (password, one-time code, private key, token secret).
//
// The gateway uses only this library (no storage): it builds events with
// these codes and sends them to the CA (gateway.proto RecordGatewayEvents),
// which checks the code against the catalogue and appends them.
#ifndef SALLYPORT_AUDIT_EVENTS_H_
#define SALLYPORT_AUDIT_EVENTS_H_

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "absl/types/span.h"
#include "base/event_line.h"

namespace sallyport::audit {

// ---- written by the CA
inline constexpr std::string_view kEventLoginOk = "login.ok";
inline constexpr std::string_view kEventLoginFailed = "login.failed";
// A (user, source) pair reached its failure limit and is locked.
inline constexpr std::string_view kEventLoginLocked = "login.locked";
// `sallyport-ca unlock USER` on the CA host.
inline constexpr std::string_view kEventUserUnlocked = "user.unlocked";
inline constexpr std::string_view kEventCertIssued = "cert.issued";
inline constexpr std::string_view kEventCertRefused = "cert.refused";
inline constexpr std::string_view kEventAdminDenied = "admin.denied";
inline constexpr std::string_view kEventAccessDenied = "authz.denied";
// A jump (`ssh -J`) the CA allowed, with how the gateway carries it
// (mode "passthrough" or "record"); refused jumps are "authz.denied".
inline constexpr std::string_view kEventJumpAllowed = "authz.jump";
inline constexpr std::string_view kEventCaInitialised = "ca.initialised";
// `sallyport-ca retire-session-key` on the CA host.
inline constexpr std::string_view kEventCaKeyRetired = "ca.key.retired";
inline constexpr std::string_view kEventGatewayEnrolled = "gateway.enrolled";
inline constexpr std::string_view kEventGatewayRenewed = "gateway.renewed";
inline constexpr std::string_view kEventEnrollRefused = "enroll.refused";
inline constexpr std::string_view kEventHostEnrolled = "host.enrolled";
// Admin calls are "admin." + the RPC method name (kAdminEventPrefix), e.g.
// "admin.CreateUser"; revocations are "admin.Revoke" and
// "admin.RevokeUserCertificates".
inline constexpr std::string_view kAdminEventPrefix = "admin.";
inline constexpr std::string_view kEventAdminRevoke = "admin.Revoke";
inline constexpr std::string_view kEventAdminRevokeUser =
    "admin.RevokeUserCertificates";
// A gateway's events refused by the CA (not its session, bad event).
inline constexpr std::string_view kEventGatewayEventsRefused =
    "gateway.events.refused";
// ship (#14): a gateway's recording upload refused by the CA (another
// gateway's session).
inline constexpr std::string_view kEventRecordingRefused = "recording.refused";
// A gateway's writes refused over its write budget at the CA (finding C):
// at most one per gateway per minute, counting the refusals since the
// last (ca/write_budget.h).
inline constexpr std::string_view kEventGatewayWriteBudgetExceeded =
    "gateway.write_budget.exceeded";
// A gateway's new session refused at its limit of open sessions at the
// CA (CA config gateway.max_open_sessions): at most one per gateway per
// minute, counting the refusals since the last.
inline constexpr std::string_view kEventGatewayOpenSessionsExceeded =
    "gateway.open_sessions.exceeded";
// Reads of the audit log and of recordings (spctl audit / sessions): each
// list, show, play, export and verify is itself an event.
inline constexpr std::string_view kEventAuditRead = "audit.read";
inline constexpr std::string_view kEventAuditDenied = "audit.denied";
inline constexpr std::string_view kEventSessionRead = "session.read";
inline constexpr std::string_view kEventSessionReplay = "session.replay";
inline constexpr std::string_view kEventSessionExport = "session.export";

// ---- written by the gateway (sent to the CA)
inline constexpr std::string_view kEventSessionStart = "session.start";
inline constexpr std::string_view kEventSessionRefused = "session.refused";
inline constexpr std::string_view kEventSessionEnd = "session.end";
inline constexpr std::string_view kEventChannelOpen = "channel.open";
inline constexpr std::string_view kEventChannelRefused = "channel.refused";
inline constexpr std::string_view kEventChannelClose = "channel.close";
inline constexpr std::string_view kEventExecCommand = "exec.command";
inline constexpr std::string_view kEventPortForwardOpen = "portforward.open";
inline constexpr std::string_view kEventPortForwardClose = "portforward.close";
inline constexpr std::string_view kEventPortForwardListen =
    "portforward.listen";
inline constexpr std::string_view kEventProxyJump = "proxyjump.open";
inline constexpr std::string_view kEventProxyJumpClose = "proxyjump.close";
inline constexpr std::string_view kEventFileTransferStart =
    "filetransfer.start";
inline constexpr std::string_view kEventUpstreamFailed = "upstream.failed";
inline constexpr std::string_view kEventRecordingStarted = "recording.started";
inline constexpr std::string_view kEventRecordingFailed = "recording.failed";
inline constexpr std::string_view kEventRecordingComplete =
    "recording.complete";
// A torn spool tail was cut off after a crash.
inline constexpr std::string_view kEventRecordingRepaired =
    "recording.repaired";
// A spool is damaged where a crash cannot tear it: kept, not shipped past
// the damage, never cut automatically.
inline constexpr std::string_view kEventRecordingDamaged = "recording.damaged";

// Who writes an event of a type.
enum class EventWriter { kCa, kGateway };

struct EventSpec {
  std::string_view code;
  EventWriter writer;
  // One line for docs and `spctl audit ls`.
  std::string_view summary;
  // Payload fields always present (others may be added; readers ignore
  // fields they do not know).
  std::vector<std::string_view> fields;
  // True for the "admin.<Method>" family: code is the prefix "admin.".
  bool prefix = false;
};

// Every event type, in a stable order.
absl::Span<const EventSpec> EventCatalogue();

// The spec of `code` (the "admin." family matches any "admin.<Method>" not
// listed separately); nullptr for an unknown code.
const EventSpec* FindEvent(std::string_view code);

// True when `code` is a catalogue code the gateway may send.
bool IsGatewayEvent(std::string_view code);

// The size of one event a gateway sends (GatewayEvents.RecordGatewayEvents):
// the CA refuses a bigger one (INVALID_ARGUMENT), and the gateway's
// EventSender builds none (gateway/event_sender.h cuts the text). At most
// kMaxGatewayEventFields fields, each text at most
// kMaxGatewayEventTextBytes, and the fields' names and texts together at
// most kMaxGatewayEventBytes: escaped as JSON (a control character takes
// 6 bytes) that still fits the Store's payload limit
// (ca/gateway_events_service.cc asserts it), so the CA stores every event
// it takes, and one event stays far below a request
// (CaServer::kMaxReceiveMessageBytes, 1 MiB).
inline constexpr int kMaxGatewayEventFields = 64;
inline constexpr size_t kMaxGatewayEventTextBytes = 16 << 10;
inline constexpr size_t kMaxGatewayEventBytes = 128 << 10;

// One payload field (//base:event_line's field type).
using AuditValue = base::LogValue;
using AuditField = base::LogField;

// {"k":"v",...} in the order given, with JSON string escaping (control
// characters as \u00XX; invalid UTF-8 bytes replaced by U+FFFD, so the
// payload is always valid JSON).
std::string AuditPayloadJson(const std::vector<AuditField>& fields);

// The most bytes of text one field of an event keeps when its text comes
// from a request as it was sent, refused or not (admin.<Method>: a 120 KB
// description the CA refused was logged whole).
inline constexpr size_t kMaxAuditedTextBytes = 1024;
// Caps each field's text at `max` bytes (max >= 3): a longer string keeps
// its first bytes up to a UTF-8 boundary and ends in "…" (U+2026), at most
// `max` bytes in all; a list of strings keeps its entries while their sum
// fits and cuts the first that does not in the same way (dropping the
// rest). A cut field is followed by `<name>_bytes`, the size of its whole
// text (a list's: the sum of its strings), which a request cannot forge:
// field names are the program's. Other fields are unchanged.
std::vector<AuditField> CapAuditFields(std::vector<AuditField> fields,
                                       size_t max = kMaxAuditedTextBytes);

}  // namespace sallyport::audit

#endif  // SALLYPORT_AUDIT_EVENTS_H_
