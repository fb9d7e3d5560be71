// The GatewayRecordings gRPC service (proto/gateway.proto, issue 14): a
// gateway's shipper streams a spooled session recording, and the CA stores
// it through audit::RecordingWriter (it alone writes the Store). The caller
// must present a gateway's mTLS certificate; a session recorded by another
// gateway is refused and audited ("recording.refused").
//
// Every message is checked and stored before the next is read: memory per
// call is one message (at most kMaxRecordsPerMessage records and
// kMaxMessageBytes), and what was stored before an error stays stored, so
// the shipper resumes from the `last_seq` a session-only call returns.
// An upload holds a handler thread while it is open: with the gateway's
// revocation streams, at most kMaxGatewayStreamsPerGateway of them
// (ca_service.h), so a gateway that opens uploads and stalls them holds
// only its own share of the CA's threads.
// The sessions a gateway leaves open are bounded too: an upload that
// opens a new session (one the Store does not have) is refused
// RESOURCE_EXHAUSTED (TooManyOpenSessions) while the gateway has
// CaContext::max_open_sessions_per_gateway open (CA config
// gateway.max_open_sessions), counted in the Store
// (Store::CountOpenSessions), so across restarts and CA instances. Only
// new sessions are counted and refused: the uploads of the sessions
// already open go on, and each one that ends frees a place. Uploads
// opening sessions at the same moment are counted apart, so a gateway
// may pass the limit by as many as it opens at once (at most
// kMaxGatewayStreamsPerGateway per CA instance).
#ifndef SALLYPORT_CA_RECORDING_SERVICE_H_
#define SALLYPORT_CA_RECORDING_SERVICE_H_

#include <grpcpp/grpcpp.h>

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "ca/ca_service.h"
#include "proto/gateway.grpc.pb.h"

namespace sallyport::ca {

// The refusal of a new session of `gateway`, which has `limit` open:
// kResourceExhausted naming the limit.
absl::Status TooManyOpenSessions(std::string_view gateway,
                                 std::string_view session_id, int64_t limit);

class RecordingService final : public gateway::v1::GatewayRecordings::Service {
 public:
  // Records per UploadRecordingRequest.
  static constexpr int kMaxRecordsPerMessage = 256;
  // Serialized bytes per UploadRecordingRequest (the server's receive limit,
  // CaServer::kMaxReceiveMessageBytes, refuses larger ones before this).
  static constexpr size_t kMaxMessageBytes = size_t{1} << 20;

  explicit RecordingService(CaContext ctx) : ctx_(ctx) {}

  grpc::Status UploadRecording(
      grpc::ServerContext* context,
      grpc::ServerReader<gateway::v1::UploadRecordingRequest>* reader,
      gateway::v1::UploadRecordingResponse* response) override;

 private:
  CaContext ctx_;
};

}  // namespace sallyport::ca

#endif  // SALLYPORT_CA_RECORDING_SERVICE_H_
