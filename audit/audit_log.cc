#include "audit/audit_log.h"

#include "absl/time/clock.h"

namespace sallyport::audit {

std::string EventLine(LogFormat format, absl::Time time, std::string_view type,
                      std::string_view actor,
                      const std::vector<AuditField>& fields) {
  bool failed = type.ends_with(".failed") || type.ends_with(".denied") ||
                type.ends_with(".refused") || type.ends_with(".locked");
  std::vector<AuditField> all = {
      {"actor", actor.empty() ? "-" : std::string(actor)}};
  all.insert(all.end(), fields.begin(), fields.end());
  for (auto& [name, value] : all) {
    const auto* text = std::get_if<std::string>(&value);
    if (name == "code" && text != nullptr && *text != "OK") failed = true;
    if (name == kLineOutcomeField) {
      // The event's own outcome (session.end's "interrupted", ...): the
      // line's outcome= is success or failure, so this one is renamed
      // (as the gateway's own line names recording.failed's: action=).
      if (text == nullptr || *text != "ok") failed = true;
      name = type == kEventRecordingFailed ? "action" : "result";
    }
  }
  return base::FormatEventLine(format, time, type,
                               failed ? "failure" : "success", all);
}

void AuditLog::WriteLine(std::string_view type, std::string_view actor,
                         const std::vector<AuditField>& fields) {
  if (write_line_) {
    write_line_(EventLine(line_format_, absl::Now(), type, actor, fields));
  }
}

storage::AuditEventInput AuditLog::Event(
    std::string_view type, std::string_view actor,
    const std::vector<AuditField>& fields) {
  storage::AuditEventInput event;
  event.type = std::string(type);
  event.actor = actor.empty() ? "-" : std::string(actor);
  event.payload_json = AuditPayloadJson(fields);
  if (!event.Validate().ok()) {
    // Replaced only if the actor is what the store would refuse.
    storage::AuditEventInput replaced = event;
    replaced.actor = "(invalid)";
    if (replaced.Validate().ok()) return replaced;
  }
  return event;
}

absl::Status AuditLog::Record(std::string_view type, std::string_view actor,
                              const std::vector<AuditField>& fields) {
  WriteLine(type, actor, fields);
  return store_->AppendAuditEvent(Event(type, actor, fields)).status();
}

absl::StatusOr<size_t> AuditLog::RecordGatewayEvents(
    std::string_view gateway, std::string_view stream,
    const std::vector<NumberedEvent>& events) {
  storage::GatewayAuditEvents batch;
  batch.gateway_id = std::string(gateway);
  batch.stream = std::string(stream);
  batch.events.reserve(events.size());
  for (const NumberedEvent& e : events) {
    if (!stream.empty()) batch.numbers.push_back(e.number);
    batch.events.push_back(Event(e.type, e.actor, e.fields));
  }
  absl::StatusOr<std::vector<storage::AuditEvent>> appended =
      store_->AppendGatewayAuditEvents(batch);
  if (!appended.ok()) return appended.status();
  // Those stored before are the batch's first ones.
  for (size_t i = events.size() - appended->size(); i < events.size(); ++i) {
    WriteLine(events[i].type, events[i].actor, events[i].fields);
  }
  return appended->size();
}

absl::Status AuditLog::RecordCertificate(const storage::IssuedCertificate& cert,
                                         std::string_view type,
                                         std::string_view actor,
                                         const std::vector<AuditField>& fields,
                                         const storage::SessionClaim* claim) {
  // The line says the certificate was issued: only once it is recorded.
  const storage::AuditEventInput event = Event(type, actor, fields);
  absl::Status s =
      claim != nullptr
          ? store_->RecordSessionCertificate(cert, event, *claim).status()
          : store_->RecordCertificateWithAudit(cert, event).status();
  if (s.ok()) WriteLine(type, actor, fields);
  return s;
}

void AuditLog::RecordCertificateAsync(const storage::IssuedCertificate& cert,
                                      std::string_view type,
                                      std::string_view actor,
                                      const std::vector<AuditField>& fields,
                                      std::function<void(absl::Status)> done,
                                      const storage::SessionClaim* claim) {
  // As RecordCertificate: the line goes out once the store committed.
  // (The callback may run on the store's thread: it holds its own copy
  // of the writer.)
  std::string line;
  if (write_line_) {
    line = EventLine(line_format_, absl::Now(), type, actor, fields);
  }
  storage::Store::RecordedCertificate recorded =
      [write = write_line_, line = std::move(line),
       done = std::move(done)](absl::StatusOr<storage::IssuedCertificate> r) {
        if (r.ok() && write) write(line);
        done(r.status());
      };
  const storage::AuditEventInput event = Event(type, actor, fields);
  if (claim != nullptr) {
    store_->RecordSessionCertificateAsync(cert, event, *claim,
                                          std::move(recorded));
  } else {
    store_->RecordCertificateWithAuditAsync(cert, event, std::move(recorded));
  }
}

}  // namespace sallyport::audit
