#include "tests/e2e/gateway_ship_util.h"

#include <dirent.h>
#include <sys/stat.h>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "audit/recording_reader.h"
#include "audit/recording_record.h"
#include "audit/recording_store.h"
#include "storage/open.h"
#include "tests/harness/listening_process.h"

namespace sallyport::testing {

namespace v1 = ::sallyport::audit::v1;

std::optional<StoredRecording> FindStoredRecording(const std::string& store_url,
                                                   const std::string& command) {
  absl::StatusOr<std::unique_ptr<storage::Store>> store =
      storage::OpenStore(store_url);
  if (!store.ok()) return std::nullopt;
  storage::SessionFilter filter;
  filter.limit = 1000;
  absl::StatusOr<std::vector<storage::Session>> sessions =
      (*store)->ListSessions(filter);
  if (!sessions.ok()) return std::nullopt;
  for (const storage::Session& s : *sessions) {
    StoredRecording out;
    out.session = s;
    std::optional<uint32_t> channel;
    uint64_t after = 0;
    while (true) {
      absl::StatusOr<std::vector<storage::SessionRecord>> rows =
          (*store)->ListSessionRecords(s.id, after, 1000);
      if (!rows.ok() || rows->empty()) break;
      for (const storage::SessionRecord& row : *rows) {
        absl::StatusOr<v1::RecordingRecord> r = audit::FromStoreRecord(row);
        if (!r.ok()) return std::nullopt;
        after = r->seq();
        if (r->has_request() && r->request().type() == "exec" &&
            r->request().summary() == command) {
          channel = r->channel_id();
        }
        if (channel && r->channel_id() == *channel && r->has_data() &&
            r->data().direction() == v1::RECORD_DIRECTION_OUTPUT &&
            r->data().ssh_stream() == 0) {
          out.output += r->data().bytes();
        }
        if (r->has_session_end()) out.has_end = true;
        out.records.push_back(*std::move(r));
      }
    }
    if (!channel) continue;
    // The session as it is after its records were read (the CA ends a
    // session after it stored its end record).
    absl::StatusOr<storage::Session> now = (*store)->GetSession(s.id);
    if (now.ok()) out.session = *now;
    return out;
  }
  return std::nullopt;
}

absl::Status VerifyStoredRecording(const std::string& store_url,
                                   const std::string& session_id) {
  absl::StatusOr<std::unique_ptr<storage::Store>> store =
      storage::OpenStore(store_url);
  if (!store.ok()) return store.status();
  absl::StatusOr<audit::RecordingCheck> check =
      audit::VerifyRecording(**store, session_id);
  if (!check.ok()) return check.status();
  if (!check->intact) {
    return absl::DataLossError(absl::StrCat("broken at ",
                                            check->first_broken_seq.value_or(0),
                                            ": ", check->problem));
  }
  return absl::OkStatus();
}

std::vector<std::string> SpoolFiles(const std::string& dir) {
  std::vector<std::string> out;
  if (DIR* d = ::opendir(dir.c_str())) {
    while (dirent* e = ::readdir(d)) {
      const std::string name = e->d_name;
      if (name.size() > 6 && name.substr(name.size() - 6) == ".spool") {
        out.push_back(dir + "/" + name);
      }
    }
    ::closedir(d);
  }
  return out;
}

std::string Sha256Hex(const std::string& bytes) {
  audit::StreamHasher h;
  h.Update(bytes);
  absl::StatusOr<std::string> d = h.Finish();
  return d.ok() ? absl::BytesToHexString(*d) : "";
}

absl::StatusOr<std::unique_ptr<BackgroundProcess>> StartStreamingClient(
    GatewayE2eEnv& env, const std::string& command, const std::string& received,
    const std::vector<std::string>& ssh_options) {
  std::vector<std::string> argv = env.Ssh("alice", "web01", ssh_options);
  argv.push_back(command);
  BackgroundProcess::Options po;
  po.log_path = received + ".log";
  return BackgroundProcess::Start(
      {"bash", "-c",
       absl::StrCat("exec ", ShellJoin(argv), " > ", ShellQuote(received))},
      po);
}

bool WaitForFileSize(const std::string& path, int64_t bytes,
                     absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  struct stat st = {};
  while (absl::Now() < deadline) {
    if (::stat(path.c_str(), &st) == 0 && st.st_size > bytes) return true;
    absl::SleepFor(absl::Milliseconds(20));
  }
  return false;
}

RunResult Spctl(BastionFixture& fixture, const std::vector<std::string>& args) {
  absl::StatusOr<const BastionFixture::User*> admin = fixture.user("admin");
  if (!admin.ok()) return RunResult();
  std::vector<std::string> argv = {"setsid", "-w", RunfilePath("cli/spctl")};
  argv.insert(argv.end(), args.begin(), args.end());
  RunOptions options;
  options.env["SALLYPORT_HOME"] = (*admin)->home;
  return GatewayE2eEnv::Run(argv, options);
}

}  // namespace sallyport::testing
