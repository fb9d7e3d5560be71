#include "gateway/recording_uploader.h"

#include <chrono>
#include <utility>
#include <vector>

#include "gateway/ca_client.h"

namespace sallyport::gateway {

GrpcRecordingUploader::GrpcRecordingUploader(
    std::shared_ptr<grpc::Channel> channel, absl::Duration deadline)
    : GrpcRecordingUploader([channel] { return channel; }, deadline) {}

GrpcRecordingUploader::GrpcRecordingUploader(
    std::function<std::shared_ptr<grpc::Channel>()> channel,
    absl::Duration deadline)
    : channel_(std::move(channel)), deadline_(deadline) {}

void GrpcRecordingUploader::CancelAll() {
  absl::MutexLock lock(&mu_);
  cancelled_ = true;
  for (grpc::ClientContext* c : active_) c->TryCancel();
}

absl::StatusOr<audit::v1::RecordingSession> GrpcRecordingUploader::Upload(
    const audit::v1::RecordingSession& session, const NextBatch& next) {
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() +
                   absl::ToChronoMilliseconds(deadline_));
  {
    absl::MutexLock lock(&mu_);
    if (cancelled_) return absl::CancelledError("the shipper is stopping");
    active_.insert(&ctx);
  }
  struct Unregister {
    GrpcRecordingUploader* self;
    grpc::ClientContext* ctx;
    ~Unregister() {
      absl::MutexLock lock(&self->mu_);
      self->active_.erase(ctx);
    }
  } unregister{this, &ctx};

  v1::UploadRecordingResponse response;
  std::unique_ptr<v1::GatewayRecordings::Stub> stub =
      v1::GatewayRecordings::NewStub(channel_());
  std::unique_ptr<grpc::ClientWriter<v1::UploadRecordingRequest>> writer =
      stub->UploadRecording(&ctx, &response);
  v1::UploadRecordingRequest m;
  *m.mutable_session() = session;
  absl::Status local;
  bool first = true;
  while (true) {
    std::vector<audit::v1::RecordingRecord> records;
    absl::StatusOr<bool> more = next(records);
    if (!more.ok()) {
      local = more.status();
      ctx.TryCancel();
      break;
    }
    if (!*more && !first) break;
    for (audit::v1::RecordingRecord& r : records) {
      *m.add_records() = std::move(r);
    }
    first = false;
    if (!writer->Write(m)) break;  // the CA ended the call: see Finish
    m.Clear();
    if (!*more) break;
  }
  writer->WritesDone();
  const grpc::Status finished = writer->Finish();
  if (!local.ok()) return local;
  if (!finished.ok()) return FromGrpc(finished);
  return response.session();
}

}  // namespace sallyport::gateway
