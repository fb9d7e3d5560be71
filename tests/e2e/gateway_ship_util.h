// What the shipper's end-to-end tests share (issue 14): the recordings the
// real CA stored (read from its Store, as spctl does), the spool files the
// real gateway left, and a streaming exec client whose received bytes are
// compared with the recording.
#ifndef SALLYPORT_TESTS_E2E_GATEWAY_SHIP_UTIL_H_
#define SALLYPORT_TESTS_E2E_GATEWAY_SHIP_UTIL_H_

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "gtest/gtest.h"
#include "proto/audit.pb.h"
#include "storage/store.h"
#include "tests/e2e/gateway_e2e_env.h"
#include "tests/harness/subprocess.h"

namespace sallyport::testing {

// A gateway E2E environment (real CA on SQLite, real gateway with its spool
// and shipper) for tests that read what the gateway shipped to the CA.
class ShippingGatewayTest : public ::testing::Test {
 protected:
  // The fixture's options; a test that needs other roles or users
  // overrides this.
  virtual BastionFixture::Options Options() {
    return BastionFixture::DefaultOptions();
  }
  void SetUp() override {
    absl::StatusOr<std::unique_ptr<GatewayE2eEnv>> env =
        GatewayE2eEnv::Start(Options());
    ASSERT_TRUE(env.ok()) << env.status();
    env_ = *std::move(env);
    spool_dir_ = env_->fixture().gateway_state_dir() + "/spool";
    store_url_ = "sqlite://" + env_->fixture().ca_state_dir() + "/ca.db";
  }
  std::string Logs() {
    return absl::StrCat("\n--- gateway log\n", env_->fixture().GatewayLog(),
                        "\n--- CA log\n", env_->fixture().CaLog());
  }
  std::unique_ptr<GatewayE2eEnv> env_;
  std::string spool_dir_;
  std::string store_url_;
};

// A stored recording: the session and the stdout of the exec channel
// whose command line was `command`.
struct StoredRecording {
  storage::Session session;
  std::vector<audit::v1::RecordingRecord> records;
  std::string output;
  bool has_end = false;
};

// The stdout of the exec channel whose command line was `command` in
// `records` (a session's, in order); nullopt when no such exec is there.
std::optional<std::string> ExecOutput(
    const std::vector<audit::v1::RecordingRecord>& records,
    const std::string& command);
// Whether `records` hold a session_end record.
bool HasSessionEnd(const std::vector<audit::v1::RecordingRecord>& records);

// The recording of `command` in the store at `store_url`, read whole.
// nullopt when no stored session holds an exec of `command`.
std::optional<StoredRecording> FindStoredRecording(const std::string& store_url,
                                                   const std::string& command);

// Whether the stored recording's hash chain checks (audit::VerifyRecording,
// what `spctl sessions verify` runs); the problem when it does not.
absl::Status VerifyStoredRecording(const std::string& store_url,
                                   const std::string& session_id);

// A channel of a recorded session: its type, the requests forwarded on it,
// the data kept whole (stdout only for output) and, once closed, the bytes
// that crossed it each way (SFTP and SCP content is only counted).
struct RecordedChannel {
  std::string session_id;
  uint32_t channel_id = 0;
  std::string type;  // of its channel_open ("session", ...)
  std::vector<audit::v1::RequestRecord> requests;
  std::string input, output;
  bool closed = false;
  uint64_t bytes_input = 0, bytes_output = 0;

  // Whether a request of `type` has a summary containing `text`.
  bool HasRequest(std::string_view type, std::string_view text) const;
};

// The channels of `user`'s recorded sessions to `host`: those the CA
// stored (the store at `store_url`) and those still in the gateway's
// spool files in `spool_dir` (not shipped yet), each record once.
std::vector<RecordedChannel> RecordedChannels(const std::string& store_url,
                                              const std::string& spool_dir,
                                              const std::string& user,
                                              const std::string& host);

// Paths of the *.spool files in `dir`.
std::vector<std::string> SpoolFiles(const std::string& dir);

std::string Sha256Hex(const std::string& bytes);

// `ssh ... COMMAND > received` in the background (bash -c), as alice to
// web01; `ssh_options` (e.g. {"-o", "Port=N"} for another gateway) go
// before the destination.
absl::StatusOr<std::unique_ptr<BackgroundProcess>> StartStreamingClient(
    GatewayE2eEnv& env, const std::string& command, const std::string& received,
    const std::vector<std::string>& ssh_options = {});

// Waits until `path` holds more than `bytes` (false at the deadline).
bool WaitForFileSize(const std::string& path, int64_t bytes,
                     absl::Duration timeout);

// `spctl ARGS` as the fixture's admin.
RunResult Spctl(BastionFixture& fixture, const std::vector<std::string>& args);

}  // namespace sallyport::testing

#endif  // SALLYPORT_TESTS_E2E_GATEWAY_SHIP_UTIL_H_
