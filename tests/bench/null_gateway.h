// The gateway with recording off, for benchmarks: `sallyport-gateway serve`
// built into the bench binary with a NullRecorder instead of the spool
// recorder, so a bench can start it as a child process of itself
// (`BENCH --serve-null=CONFIG --listen=HOST:PORT`). Issue 12's gateway
// figures are stated for the null recorder; issue 14 compares it with the
// real recorder.
#ifndef SALLYPORT_TESTS_BENCH_NULL_GATEWAY_H_
#define SALLYPORT_TESTS_BENCH_NULL_GATEWAY_H_

#include <string>

namespace sallyport::testing {

// Serves `config` (a gateway.yaml) on `listen` with a NullRecorder and no
// metrics listener until SIGTERM or SIGINT. Returns the exit code.
int ServeNullRecorderGateway(const std::string& config,
                             const std::string& listen);

}  // namespace sallyport::testing

#endif  // SALLYPORT_TESTS_BENCH_NULL_GATEWAY_H_
