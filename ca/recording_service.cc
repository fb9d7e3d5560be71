#include "ca/recording_service.h"

#include <spdlog/spdlog.h>

#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "audit/events.h"
#include "audit/recording_writer.h"
#include "base/safe_text.h"
#include "base/status_macros.h"
#include "ca/enrollment.h"
#include "ca/rbac/names.h"
#include "ca/service_util.h"
#include "storage/records.h"

namespace sallyport::ca {
namespace {

namespace pb = gateway::v1;
namespace av1 = ::sallyport::audit::v1;

// The writer's refusals name the record and are safe to return; a DATA_LOSS
// (a record that does not continue the chain, an altered re-shipment) is
// the gateway's fault, not an internal error.
grpc::Status Refusal(const absl::Status& status) {
  if (status.code() == absl::StatusCode::kDataLoss) {
    return grpc::Status(grpc::StatusCode::DATA_LOSS,
                        std::string(status.message()));
  }
  return ToGrpc(status);
}

absl::Status CheckMessage(const pb::UploadRecordingRequest& m) {
  if (m.records_size() > RecordingService::kMaxRecordsPerMessage) {
    return absl::InvalidArgumentError(
        absl::StrCat("at most ", RecordingService::kMaxRecordsPerMessage,
                     " records per message"));
  }
  if (m.ByteSizeLong() > RecordingService::kMaxMessageBytes) {
    return absl::InvalidArgumentError(absl::StrCat(
        "at most ", RecordingService::kMaxMessageBytes, " bytes per message"));
  }
  return absl::OkStatus();
}

// The session's metadata is shown in auditors' terminals (`spctl sessions
// ls`, `verify`, `play`): its id is a simple name, as
// IssueSessionCertificate takes it; its user a name without control,
// bidirectional or invisible characters; its login and host, when set, a
// login and a host name by the rules RBAC holds them to. A row whose id
// read "7f3a: OK, 5 records, hash chain intact" and an ESC [8m made
// `sessions verify` show a fake OK.
absl::Status CheckSessionMetadata(const av1::RecordingSession& meta) {
  RETURN_IF_ERROR(ValidateSimpleName("session_id", meta.session_id(), 64));
  RETURN_IF_ERROR(storage::ValidateText("user", meta.user(),
                                        storage::kMaxNameBytes, false));
  if (!base::IsPrintableUtf8(meta.user())) {
    return absl::InvalidArgumentError(
        "user: a user name holds no control, bidirectional or invisible "
        "character");
  }
  if (!meta.login().empty()) RETURN_IF_ERROR(rbac::ValidateLogin(meta.login()));
  if (!meta.host().empty()) {
    RETURN_IF_ERROR(rbac::ValidateHostName(meta.host()));
  }
  return absl::OkStatus();
}

// A new session of `gateway`: OK while the gateway has fewer than
// ctx.max_open_sessions_per_gateway open, counted in the Store up to that
// limit; TooManyOpenSessions otherwise, said (an audit event, a log line)
// at most once per gateway and report interval, with how many were
// refused.
absl::Status AdmitNewSession(const CaContext& ctx,
                             const grpc::ServerContext& context,
                             const std::string& gateway,
                             const std::string& session_id) {
  const int64_t limit = ctx.max_open_sessions_per_gateway;
  ASSIGN_OR_RETURN(int64_t open, ctx.store->CountOpenSessions(gateway, limit));
  if (open < limit) return absl::OkStatus();
  const absl::Status refusal = TooManyOpenSessions(gateway, session_id, limit);
  CountedRefusal counted{.report = true, .refused = 1};
  if (ctx.open_session_refusals != nullptr) {
    counted =
        ctx.open_session_refusals->Refuse(gateway, ctx.clock->Monotonic());
  }
  if (!counted.report) return refusal;
  const std::string source = PeerAddress(context.peer());
  spdlog::warn("gateway open sessions: gateway={} refused={} source={}: {}",
               base::SafeText(gateway), counted.refused, source,
               std::string(refusal.message()));
  // Best effort: the refusal stands whether or not it could be logged.
  (void)ctx.audit->Record(audit::kEventGatewayOpenSessionsExceeded,
                          GatewayActor(gateway),
                          {{"gateway", gateway},
                           {"session_id", session_id},
                           {"max_open_sessions", limit},
                           {"refused", static_cast<int64_t>(counted.refused)},
                           {"source", source}});
  return refusal;
}

}  // namespace

absl::Status TooManyOpenSessions(std::string_view gateway,
                                 std::string_view session_id, int64_t limit) {
  return absl::ResourceExhaustedError(
      absl::StrCat("gateway '", base::SafeText(gateway), "' has ", limit,
                   " sessions open at the CA, the most it may (CA config "
                   "gateway.max_open_sessions): session ",
                   base::SafeText(session_id),
                   " is not opened until one of them ends; retry later"));
}

grpc::Status RecordingService::UploadRecording(
    grpc::ServerContext* context,
    grpc::ServerReader<pb::UploadRecordingRequest>* reader,
    pb::UploadRecordingResponse* response) {
  absl::StatusOr<ClientIdentity> peer =
      ctx_.peers->AuthenticateGateway(*context, "UploadRecording");
  if (!peer.ok()) return ToGrpc(peer.status());
  // Before the first read: a stalled call holds its place from its start.
  InFlightLimiter::Ticket upload = ctx_.gateway_streams->TryEnter(peer->name);
  if (!upload.ok()) return ToGrpc(TooManyGatewayStreams("recording upload"));
  pb::UploadRecordingRequest m;
  if (!reader->Read(&m)) {
    return ToGrpc(absl::InvalidArgumentError("an upload needs its session"));
  }
  if (absl::Status bad = CheckMessage(m); !bad.ok()) return ToGrpc(bad);
  // Each message's bytes and records are taken from the gateway's write
  // budget before they are written, the call's (its session) with the
  // first: a gateway over it has what it stored so far, and resumes there.
  auto charge = [&](const pb::UploadRecordingRequest& message,
                    uint64_t call_bytes) {
    return ChargeGatewayWrite(
        ctx_, *context, peer->name, "UploadRecording",
        GatewayWriteCost(message.ByteSizeLong(),
                         static_cast<uint64_t>(message.records_size()),
                         call_bytes));
  };
  if (absl::Status over = charge(m, kGatewayCallWriteBytes); !over.ok()) {
    return ToGrpc(over);
  }
  bool charged = true;  // the message in `m`
  if (!m.has_session()) {
    return ToGrpc(absl::InvalidArgumentError(
        "the first message of an upload must carry the session"));
  }
  const av1::RecordingSession meta = m.session();
  if (absl::Status bad = CheckSessionMetadata(meta); !bad.ok()) {
    return ToGrpc(bad);
  }
  // The CA's log line of an interrupted session's session.end, which the
  // writer appends with the session's end.
  audit::RecordingWriter writer(*ctx_.store, ctx_.audit);
  auto refused = [&](const absl::Status& st) {
    // Loud refusals: another gateway's session, and an integrity failure
    // (a broken chain, a stored record sent again altered).
    if (st.code() == absl::StatusCode::kPermissionDenied ||
        st.code() == absl::StatusCode::kDataLoss) {
      (void)ctx_.audit->Record(audit::kEventRecordingRefused, peer->name,
                               {{"gateway", peer->name},
                                {"session_id", meta.session_id()},
                                {"source", PeerAddress(context->peer())},
                                {"reason", std::string(st.message())}});
    }
    return Refusal(st);
  };
  absl::StatusOr<av1::RecordingSession> stored =
      writer.Begin(peer->name, meta, [&] {
        return AdmitNewSession(ctx_, *context, peer->name, meta.session_id());
      });
  if (!stored.ok()) return refused(stored.status());
  // A gateway identity revoked while the upload is open writes no more:
  // checked before each write (a Store read when this CA revoked
  // something, else at most once per revocation poll).
  OpenCallCaller caller(ctx_, *context, ctx_.revocation_poll);
  do {
    if (absl::Status bad = CheckMessage(m); !bad.ok()) return ToGrpc(bad);
    if (m.has_session() && m.session().session_id() != meta.session_id()) {
      return ToGrpc(absl::InvalidArgumentError(
          "one upload carries the records of one session"));
    }
    if (!std::exchange(charged, false)) {
      if (absl::Status over = charge(m, 0); !over.ok()) return ToGrpc(over);
    }
    if (m.records_size() == 0) continue;
    // Moved out of the message: a record's data is not copied on its way
    // to the Store.
    std::vector<av1::RecordingRecord> records;
    records.reserve(static_cast<size_t>(m.records_size()));
    for (av1::RecordingRecord& r : *m.mutable_records()) {
      records.push_back(std::move(r));
    }
    if (absl::Status still = caller.Check(
            "the recording upload ended (the records stored before stay)");
        !still.ok()) {
      return refused(still);
    }
    stored = writer.Write(peer->name, meta.session_id(), std::move(records));
    if (!stored.ok()) return refused(stored.status());
  } while (reader->Read(&m));
  *response->mutable_session() = *stored;
  return grpc::Status::OK;
}

}  // namespace sallyport::ca
