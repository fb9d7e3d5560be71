// ca_issuance_bench's client calls: each started on a completion queue
// with its own tag, and its response checked when it ends.
#ifndef SALLYPORT_TESTS_BENCH_CA_ISSUANCE_CALLS_H_
#define SALLYPORT_TESTS_BENCH_CA_ISSUANCE_CALLS_H_

#include <grpcpp/grpcpp.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_set.h"
#include "absl/strings/match.h"
#include "absl/synchronization/mutex.h"

namespace sallyport::ca::bench {

// Every response is checked: an OpenSSH certificate line for the
// requested key, and a serial never seen before in this run.
inline bool CertificateLooksIssued(const std::string& line) {
  return absl::StartsWith(line, "ssh-ed25519-cert-v01@openssh.com ") &&
         line.size() > 200;
}

class SerialSet {
 public:
  // False for 0 or a serial already seen.
  bool Add(uint64_t serial) {
    absl::MutexLock lock(&mu_);
    return serial != 0 && seen_.insert(serial).second;
  }

 private:
  absl::Mutex mu_;
  absl::flat_hash_set<uint64_t> seen_ ABSL_GUARDED_BY(mu_);
};

// One call in flight on a completion queue (its own tag); checked when it
// ends.
class Call {
 public:
  virtual ~Call() = default;
  // The RPC succeeded and its response checks out.
  virtual bool Good(SerialSet& serials) const = 0;
  size_t client = 0;
  grpc::ClientContext ctx;
  grpc::Status status;
};

template <typename Response>
class CallOf final : public Call {
 public:
  using Check = bool (*)(const Response&, SerialSet&);
  explicit CallOf(Check check) : check_(check) {}
  bool Good(SerialSet& serials) const override {
    return status.ok() && check_(response, serials);
  }
  // Starts the call: `prepare(ctx, cq)` is the stub's AsyncXxx bound to
  // its request.
  template <typename Prepare>
  static std::unique_ptr<Call> Start(Check check, Prepare prepare,
                                     grpc::CompletionQueue* cq) {
    auto call = std::make_unique<CallOf<Response>>(check);
    call->reader = prepare(&call->ctx, cq);
    call->reader->Finish(&call->response, &call->status, call.get());
    return call;
  }
  Response response;
  std::unique_ptr<grpc::ClientAsyncResponseReader<Response>> reader;

 private:
  Check check_;
};

// Starts one call of client `c` on `cq`.
template <typename Client>
using StartCallOf =
    std::function<std::unique_ptr<Call>(Client& c, grpc::CompletionQueue* cq)>;

// One call on `c`, waited for on this thread.
template <typename Client>
bool CallOnce(Client& c, const StartCallOf<Client>& start, SerialSet& serials) {
  grpc::CompletionQueue cq;
  std::unique_ptr<Call> call = start(c, &cq);
  void* tag = nullptr;
  bool completed = false;
  const bool good = cq.Next(&tag, &completed) && tag == call.get() &&
                    completed && call->Good(serials);
  cq.Shutdown();
  while (cq.Next(&tag, &completed)) {
  }
  return good;
}

}  // namespace sallyport::ca::bench

#endif  // SALLYPORT_TESTS_BENCH_CA_ISSUANCE_CALLS_H_
