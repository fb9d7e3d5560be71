#include "ca/audit_service.h"

#include <algorithm>
#include <map>
#include <set>
#include <utility>

#include "absl/strings/str_cat.h"
#include "audit/events.h"
#include "audit/recording_reader.h"
#include "audit/recording_record.h"
#include "audit/recording_store.h"
#include "audit/terminal_text.h"
#include "base/status_macros.h"
#include "ca/admin_convert.h"
#include "ca/service_util.h"

namespace sallyport::ca {
namespace {

namespace pb = admin::v1;

int Page(int32_t limit) {
  if (limit <= 0) return AuditService::kDefaultPage;
  return std::min<int>(limit, AuditService::kMaxPage);
}

void ToProto(const storage::AuditEvent& e, pb::AuditEvent* out) {
  out->set_seq(e.seq);
  *out->mutable_time() = ToTimestamp(e.time);
  out->set_type(e.type);
  out->set_actor(e.actor);
  out->set_payload_json(e.payload_json);
  out->set_prev_hash(e.prev_hash);
  out->set_hash(e.hash);
}

// The purposes a caller may name (anything else is refused, so the audit
// event says what happened).
bool KnownPurpose(std::string_view p,
                  std::initializer_list<std::string_view> allowed) {
  return std::find(allowed.begin(), allowed.end(), p) != allowed.end();
}

// What a paged read of the audit log continues: the purpose and the range.
std::string AuditLogTarget(const pb::ListAuditEventsRequest& r) {
  auto at = [](bool has, const google::protobuf::Timestamp& t) {
    return has ? absl::StrCat(t.seconds(), ".", t.nanos()) : std::string();
  };
  return absl::StrCat("audit ", r.purpose(), "\n", at(r.has_since(), r.since()),
                      "\n", at(r.has_until(), r.until()));
}

// ... and of a recording: the purpose, the session and the format.
std::string SessionTarget(const pb::ReadSessionRequest& r) {
  return absl::StrCat("sessions ", r.purpose(), "\n", r.id(), "\n", r.format());
}

}  // namespace

bool ReadContinuations::Continues(const std::string& caller,
                                  const std::string& target,
                                  uint64_t after_seq) const {
  if (after_seq == 0) return false;
  absl::MutexLock lock(&mu_);
  auto it = reads_.find({caller, target});
  return it != reads_.end() && it->second.next_after_seq == after_seq &&
         clock_->Monotonic() - it->second.served_at <= kReadContinuationWindow;
}

void ReadContinuations::Served(const std::string& caller,
                               const std::string& target,
                               uint64_t next_after_seq) {
  absl::MutexLock lock(&mu_);
  std::pair<std::string, std::string> key(caller, target);
  if (next_after_seq == 0) {
    reads_.erase(key);
    return;
  }
  const absl::Duration now = clock_->Monotonic();
  if (reads_.size() >= kMaxTrackedReads && reads_.find(key) == reads_.end()) {
    // Full: the expired reads go, else the least recently served one.
    std::erase_if(reads_, [&](const auto& read) {
      return now - read.second.served_at > kReadContinuationWindow;
    });
    if (reads_.size() >= kMaxTrackedReads) {
      reads_.erase(std::min_element(
          reads_.begin(), reads_.end(), [](const auto& a, const auto& b) {
            return a.second.served_at < b.second.served_at;
          }));
    }
  }
  reads_[key] = Cursor{next_after_seq, now};
}

size_t ReadContinuations::size() const {
  absl::MutexLock lock(&mu_);
  return reads_.size();
}

absl::StatusOr<std::string> AuditService::AuthenticateAuditor(
    const grpc::ServerContext& ctx, std::string_view what) {
  absl::StatusOr<ClientIdentity> id = ctx_.peers->Authenticate(ctx);
  absl::Status refusal;
  if (!id.ok()) {
    refusal = id.status();
  } else if (id->kind != ClientIdentity::Kind::kUser) {
    refusal = absl::PermissionDeniedError(
        "the audit API needs a user's certificate, not a gateway's");
  } else {
    absl::StatusOr<std::vector<storage::Role>> roles =
        ctx_.store->ListRolesForUser(id->name);
    if (!roles.ok()) {
      refusal = absl::UnavailableError("the CA's store is unavailable");
    } else if (std::none_of(
                   roles->begin(), roles->end(), [](const storage::Role& r) {
                     return r.name == kAuditorRole || r.name == kAdminRole;
                   })) {
      refusal = absl::PermissionDeniedError(absl::StrCat(
          "user ", id->name, " has neither the auditor nor the admin role"));
    }
  }
  if (!refusal.ok()) {
    (void)ctx_.audit->Record(
        audit::kEventAuditDenied, id.ok() ? id->name : "-",
        {{"what", std::string(what)},
         {"source", PeerAddress(ctx.peer())},
         {"code", std::string(absl::StatusCodeToString(refusal.code()))},
         {"reason", std::string(refusal.message())}});
    return refusal;
  }
  return id->name;
}

grpc::Status AuditService::ListAuditEvents(
    grpc::ServerContext* context, const pb::ListAuditEventsRequest* request,
    pb::ListAuditEventsResponse* response) {
  const std::string& purpose = request->purpose();
  if (!KnownPurpose(purpose, {"ls", "export", "verify"})) {
    return ToGrpc(absl::InvalidArgumentError(
        "purpose must be \"ls\", \"export\" or \"verify\""));
  }
  const std::string what = absl::StrCat("audit ", purpose);
  absl::StatusOr<std::string> caller = AuthenticateAuditor(*context, what);
  if (!caller.ok()) return ToGrpc(caller.status());
  const std::string target = AuditLogTarget(*request);
  if (!continuations_.Continues(*caller, target, request->after_seq())) {
    std::vector<audit::AuditField> fields = {
        {"what", what}, {"source", PeerAddress(context->peer())}};
    if (request->after_seq() != 0) {
      fields.push_back(
          {"after_seq", static_cast<int64_t>(request->after_seq())});
    }
    if (request->has_since()) {
      fields.push_back(
          {"since", absl::FormatTime(FromTimestamp(request->since()))});
    }
    if (request->has_until()) {
      fields.push_back(
          {"until", absl::FormatTime(FromTimestamp(request->until()))});
    }
    absl::Status audited =
        ctx_.audit->Record(audit::kEventAuditRead, *caller, fields);
    if (!audited.ok()) {
      return ToGrpc(
          absl::UnavailableError("the audit log could not be written"));
    }
  }
  grpc::Status st = ListAuditEventsPage(request, response);
  if (st.ok()) {
    continuations_.Served(*caller, target, response->next_after_seq());
  }
  return st;
}

grpc::Status AuditService::ListAuditEventsPage(
    const pb::ListAuditEventsRequest* request,
    pb::ListAuditEventsResponse* response) {
  // The head first: every event up to it is committed, so a verifier sees
  // the chain up to the head (a later event may follow, never an earlier
  // one be missing).
  absl::StatusOr<storage::AuditHead> head = ctx_.store->GetAuditHead();
  if (!head.ok()) return ToGrpc(head.status());
  response->set_head_seq(head->seq);
  response->set_head_hash(head->hash);
  const int page = Page(request->limit());
  absl::StatusOr<std::vector<storage::AuditEvent>> events =
      ctx_.store->ListAuditEvents(request->after_seq(), page);
  if (!events.ok()) return ToGrpc(events.status());
  std::optional<absl::Time> since, until;
  if (request->has_since()) since = FromTimestamp(request->since());
  if (request->has_until()) until = FromTimestamp(request->until());
  // As many as fit a page: the next one starts after the last event looked
  // at (one in the range that did not fit, or out of the range).
  ListPage fits(static_cast<uint32_t>(page), kMaxPage);
  uint64_t looked_at = request->after_seq();
  for (const storage::AuditEvent& e : *events) {
    if (e.seq > head->seq) break;
    if ((!since || e.time >= *since) && (!until || e.time < *until)) {
      pb::AuditEvent entry;
      ToProto(e, &entry);
      if (!fits.Take(entry)) {
        response->set_next_after_seq(looked_at);
        return grpc::Status::OK;
      }
      *response->add_events() = std::move(entry);
    }
    looked_at = e.seq;
  }
  if (static_cast<int>(events->size()) == page &&
      events->back().seq < head->seq) {
    response->set_next_after_seq(events->back().seq);
  }
  return grpc::Status::OK;
}

absl::StatusOr<AuditService::GrepResult> AuditService::Grep(
    std::string_view session_id, std::string_view text) {
  // One search per channel's input and per its output (stdout and stderr
  // together), finished at the channel's close: ids are reused.
  std::map<std::pair<uint32_t, bool>, audit::TextSearch> streams;
  std::set<std::string> matches;
  auto finish = [&](auto it) {
    if (it->second.Finish()) {
      matches.insert(absl::StrCat(it->first.second ? "input" : "output",
                                  " channel ", it->first.first));
    }
    return streams.erase(it);
  };
  GrepResult result;
  int64_t scanned = 0;
  uint64_t after = 0;
  while (!result.partial) {
    ASSIGN_OR_RETURN(
        std::vector<storage::SessionRecord> rows,
        ctx_.store->ListSessionRecords(session_id, after, kReadSessionBatch));
    if (rows.empty()) break;
    for (const storage::SessionRecord& row : rows) {
      if (scanned >= kMaxGrepBytesPerSession) {
        // Records are left: the rest of the session is not searched.
        result.partial = true;
        break;
      }
      after = row.seq;
      // Every byte stored counts, command text as well as data.
      scanned += static_cast<int64_t>(kGrepRowBytes + row.name.size() +
                                      row.summary.size() + row.data.size());
      absl::StatusOr<audit::v1::RecordingRecord> r =
          audit::FromStoreRecord(row);
      if (!r.ok()) continue;  // `sessions verify` names it
      if (r->has_data()) {
        const bool input =
            r->data().direction() == audit::v1::RECORD_DIRECTION_INPUT;
        auto [it, added] =
            streams.try_emplace({r->channel_id(), input}, std::string(text));
        if (added && streams.size() > kMaxGrepStreams) {
          // Streams without end: stop here (each holds up to a line).
          streams.erase(it);
          result.partial = true;
          break;
        }
        it->second.Feed(r->data().bytes());
      } else if (r->has_request() &&
                 (r->request().type() == "exec" ||
                  r->request().type() == "subsystem") &&
                 audit::RequestText(r->request()).find(text) !=
                     std::string::npos) {
        matches.insert(absl::StrCat("command channel ", r->channel_id()));
      } else if (r->has_channel_close()) {
        for (const bool input : {false, true}) {
          auto it = streams.find({r->channel_id(), input});
          if (it != streams.end()) finish(it);
        }
      }
    }
  }
  for (auto it = streams.begin(); it != streams.end();) it = finish(it);
  result.matches.assign(matches.begin(), matches.end());
  return result;
}

grpc::Status AuditService::ListSessions(grpc::ServerContext* context,
                                        const pb::ListSessionsRequest* request,
                                        pb::ListSessionsResponse* response) {
  absl::StatusOr<std::string> caller =
      AuthenticateAuditor(*context, "sessions ls");
  if (!caller.ok()) return ToGrpc(caller.status());
  std::vector<audit::AuditField> fields = {
      {"what", "sessions ls"}, {"source", PeerAddress(context->peer())}};
  storage::SessionFilter filter;
  if (!request->user().empty()) {
    filter.user = request->user();
    fields.push_back({"user", request->user()});
  }
  if (!request->host().empty()) {
    filter.host = request->host();
    fields.push_back({"host", request->host()});
  }
  if (request->has_since())
    filter.started_after = FromTimestamp(request->since());
  if (request->has_until()) {
    filter.started_before = FromTimestamp(request->until());
  }
  if (request->grep().size() > kMaxGrepTextBytes) {
    return ToGrpc(absl::InvalidArgumentError(absl::StrCat(
        "the grep text is longer than ", kMaxGrepTextBytes, " bytes")));
  }
  if (!request->grep().empty()) fields.push_back({"grep", request->grep()});
  filter.limit = request->limit() <= 0
                     ? 100
                     : std::min<int>(request->limit(), kMaxSessions);
  absl::Status audited =
      ctx_.audit->Record(audit::kEventSessionRead, *caller, fields);
  if (!audited.ok()) {
    return ToGrpc(absl::UnavailableError("the audit log could not be written"));
  }
  if (request->grep().empty()) {
    absl::StatusOr<std::vector<storage::Session>> sessions =
        ctx_.store->ListSessions(filter);
    if (!sessions.ok()) return ToGrpc(sessions.status());
    for (const storage::Session& s : *sessions) {
      SessionSummaryToProto(s, response->add_sessions());
    }
    return grpc::Status::OK;
  }
  // The limit counts matches: page through the sessions until enough of
  // them match (one page and one session's search in memory at a time).
  const int want = filter.limit;
  int searched = 0;
  while (response->sessions_size() < want) {
    if (searched >= kMaxGrepSessions) {
      // Incomplete only if an older session is left unsearched.
      filter.limit = 1;
      absl::StatusOr<std::vector<storage::Session>> more =
          ctx_.store->ListSessions(filter);
      if (!more.ok()) return ToGrpc(more.status());
      response->set_grep_incomplete(!more->empty());
      break;
    }
    filter.limit = std::min(kGrepPageSessions, kMaxGrepSessions - searched);
    absl::StatusOr<std::vector<storage::Session>> page =
        ctx_.store->ListSessions(filter);
    if (!page.ok()) return ToGrpc(page.status());
    for (const storage::Session& s : *page) {
      // The caller gave up (its deadline passed): stop the work.
      if (context->IsCancelled()) {
        return grpc::Status(grpc::StatusCode::CANCELLED,
                            "the search was cancelled");
      }
      ++searched;
      absl::StatusOr<GrepResult> found = Grep(s.id, request->grep());
      if (!found.ok()) return ToGrpc(found.status());
      if (found->matches.empty()) {
        if (found->partial) response->add_grep_partial(s.id);
        continue;
      }
      pb::SessionSummary* out = response->add_sessions();
      SessionSummaryToProto(s, out);
      for (std::string& m : found->matches) out->add_matches(std::move(m));
      if (response->sessions_size() == want) break;
    }
    if (static_cast<int>(page->size()) < filter.limit) break;
    filter.after = storage::SessionFilter::Cursor{page->back().started_at,
                                                  page->back().id};
  }
  return grpc::Status::OK;
}

grpc::Status AuditService::ReadSession(grpc::ServerContext* context,
                                       const pb::ReadSessionRequest* request,
                                       pb::ReadSessionResponse* response) {
  const std::string& purpose = request->purpose();
  if (!KnownPurpose(purpose, {"show", "play", "export", "verify"})) {
    return ToGrpc(absl::InvalidArgumentError(
        "purpose must be \"show\", \"play\", \"export\" or \"verify\""));
  }
  absl::StatusOr<std::string> caller =
      AuthenticateAuditor(*context, absl::StrCat("sessions ", purpose));
  if (!caller.ok()) return ToGrpc(caller.status());
  absl::StatusOr<storage::Session> session =
      ctx_.store->GetSession(request->id());
  if (!session.ok()) return ToGrpc(session.status());
  const std::string target = SessionTarget(*request);
  if (!continuations_.Continues(*caller, target, request->after_seq())) {
    std::string_view type = purpose == "play"     ? audit::kEventSessionReplay
                            : purpose == "export" ? audit::kEventSessionExport
                                                  : audit::kEventSessionRead;
    std::vector<audit::AuditField> fields = {
        {"session_id", request->id()},
        {"what", absl::StrCat("sessions ", purpose)},
        {"source", PeerAddress(context->peer())}};
    if (purpose == "export") fields.push_back({"format", request->format()});
    if (request->after_seq() != 0) {
      fields.push_back(
          {"after_seq", static_cast<int64_t>(request->after_seq())});
    }
    absl::Status audited = ctx_.audit->Record(type, *caller, fields);
    if (!audited.ok()) {
      return ToGrpc(
          absl::UnavailableError("the audit log could not be written"));
    }
  }
  *response->mutable_session() = audit::ToProtoSession(*session);
  if (session->abandoned_at) {
    SessionAbandonedToProto(*session, response->mutable_abandoned());
  }
  grpc::Status st = ReadSessionPage(request, response);
  if (st.ok()) {
    continuations_.Served(*caller, target, response->next_after_seq());
  }
  return st;
}

grpc::Status AuditService::ReadSessionPage(
    const pb::ReadSessionRequest* request, pb::ReadSessionResponse* response) {
  if (request->after_seq() == 0) {
    absl::StatusOr<audit::RecordingCheck> check =
        audit::VerifyRecording(*ctx_.store, request->id());
    if (!check.ok()) return ToGrpc(check.status());
    response->set_intact(check->intact);
    if (check->first_broken_seq) {
      response->set_first_broken_seq(*check->first_broken_seq);
    }
    response->set_problem(check->problem);
  }
  const int page = Page(request->limit());
  // A page also ends once it holds kMaxReadSessionPageBytes of records
  // (a record is at most 1 MiB), well under gRPC's 4 MiB default receive
  // limit; the caller goes on from next_after_seq. Rows are read
  // kReadSessionBatch at a time, so a page of large records does not read
  // `page` rows from the store to send a few dozen.
  size_t page_bytes = 0;
  uint64_t after = request->after_seq();
  int taken = 0;
  while (taken < page) {
    const int batch = std::min(page - taken, kReadSessionBatch);
    absl::StatusOr<std::vector<storage::SessionRecord>> rows =
        ctx_.store->ListSessionRecords(request->id(), after, batch);
    if (!rows.ok()) return ToGrpc(rows.status());
    for (const storage::SessionRecord& row : *rows) {
      if (page_bytes >= kMaxReadSessionPageBytes) {
        response->set_next_after_seq(response->records().rbegin()->seq());
        return grpc::Status::OK;
      }
      after = row.seq;
      ++taken;
      absl::StatusOr<audit::v1::RecordingRecord> r =
          audit::FromStoreRecord(row);
      if (!r.ok()) {
        // A row no record produces: pass what identifies it; the chain
        // check (client and first page) names it.
        audit::v1::RecordingRecord* bad = response->add_records();
        bad->set_session_id(row.session_id);
        bad->set_seq(row.seq);
        continue;
      }
      page_bytes += r->ByteSizeLong();
      *response->add_records() = std::move(*r);
    }
    if (static_cast<int>(rows->size()) < batch) return grpc::Status::OK;
  }
  response->set_next_after_seq(after);
  return grpc::Status::OK;
}

}  // namespace sallyport::ca
