// ship (#14): the shipper's link to the CA (audit/shipper.h): one
// GatewayRecordings.UploadRecording client stream per upload over the
// gateway's mTLS channel (gateway/ca_client.h MakeCaChannel). Blocking;
// called from the shipper's own thread, never from an I/O thread.
#ifndef SALLYPORT_GATEWAY_RECORDING_UPLOADER_H_
#define SALLYPORT_GATEWAY_RECORDING_UPLOADER_H_

#include <grpcpp/grpcpp.h>

#include <functional>
#include <memory>
#include <set>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "audit/shipper.h"
#include "proto/gateway.grpc.pb.h"

namespace sallyport::gateway {

class GrpcRecordingUploader final : public audit::RecordingUploader {
 public:
  // `deadline`: of one upload call (audit::kShipMaxBytesPerCall bounds
  // what one call carries).
  explicit GrpcRecordingUploader(std::shared_ptr<grpc::Channel> channel,
                                 absl::Duration deadline = absl::Minutes(2));
  // Each upload on whatever channel `channel` returns then (the gateway
  // replaces its channel when its mTLS certificate changes).
  explicit GrpcRecordingUploader(
      std::function<std::shared_ptr<grpc::Channel>()> channel,
      absl::Duration deadline = absl::Minutes(2));

  absl::StatusOr<audit::v1::RecordingSession> Upload(
      const audit::v1::RecordingSession& session,
      const NextBatch& next) override;
  void CancelAll() override;

 private:
  std::function<std::shared_ptr<grpc::Channel>()> channel_;
  const absl::Duration deadline_;
  absl::Mutex mu_;
  bool cancelled_ ABSL_GUARDED_BY(mu_) = false;
  std::set<grpc::ClientContext*> active_ ABSL_GUARDED_BY(mu_);
};

}  // namespace sallyport::gateway

#endif  // SALLYPORT_GATEWAY_RECORDING_UPLOADER_H_
