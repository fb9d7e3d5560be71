#include "tests/e2e/gateway_ship_util.h"

#include <dirent.h>
#include <sys/stat.h>

#include <map>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "audit/recording_reader.h"
#include "audit/recording_record.h"
#include "audit/recording_store.h"
#include "audit/spool.h"
#include "storage/open.h"
#include "tests/harness/listening_process.h"

namespace sallyport::testing {

namespace v1 = ::sallyport::audit::v1;

namespace {

// Every record of the stored session `id`, in order.
absl::StatusOr<std::vector<v1::RecordingRecord>> StoredRecords(
    storage::Store& store, const std::string& id) {
  std::vector<v1::RecordingRecord> out;
  uint64_t after = 0;
  while (true) {
    absl::StatusOr<std::vector<storage::SessionRecord>> rows =
        store.ListSessionRecords(id, after, 1000);
    if (!rows.ok()) return rows.status();
    if (rows->empty()) return out;
    for (const storage::SessionRecord& row : *rows) {
      absl::StatusOr<v1::RecordingRecord> r = audit::FromStoreRecord(row);
      if (!r.ok()) return r.status();
      after = r->seq();
      out.push_back(*std::move(r));
    }
  }
}

// session id -> seq -> record.
using RecordsBySession =
    std::map<std::string, std::map<uint64_t, v1::RecordingRecord>>;

void AddStoredRecords(const std::string& store_url, const std::string& user,
                      const std::string& host, RecordsBySession& sessions) {
  absl::StatusOr<std::unique_ptr<storage::Store>> store =
      storage::OpenStore(store_url);
  if (!store.ok()) return;
  storage::SessionFilter filter;
  filter.user = user;
  filter.host = host;
  filter.limit = 1000;
  absl::StatusOr<std::vector<storage::Session>> stored =
      (*store)->ListSessions(filter);
  if (!stored.ok()) return;
  for (const storage::Session& s : *stored) {
    absl::StatusOr<std::vector<v1::RecordingRecord>> records =
        StoredRecords(**store, s.id);
    if (!records.ok()) continue;
    for (v1::RecordingRecord& r : *records) {
      sessions[s.id].emplace(r.seq(), std::move(r));
    }
  }
}

}  // namespace

std::optional<std::string> ExecOutput(
    const std::vector<v1::RecordingRecord>& records,
    const std::string& command) {
  std::optional<uint32_t> channel;
  std::string output;
  for (const v1::RecordingRecord& r : records) {
    if (r.has_request() && r.request().type() == "exec" &&
        audit::RequestText(r.request()) == command) {
      channel = r.channel_id();
    }
    if (channel && r.channel_id() == *channel && r.has_data() &&
        r.data().direction() == v1::RECORD_DIRECTION_OUTPUT &&
        r.data().ssh_stream() == 0) {
      output += r.data().bytes();
    }
  }
  if (!channel) return std::nullopt;
  return output;
}

bool HasSessionEnd(const std::vector<v1::RecordingRecord>& records) {
  for (const v1::RecordingRecord& r : records) {
    if (r.has_session_end()) return true;
  }
  return false;
}

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
    absl::StatusOr<std::vector<v1::RecordingRecord>> records =
        StoredRecords(**store, s.id);
    if (!records.ok()) return std::nullopt;
    std::optional<std::string> output = ExecOutput(*records, command);
    if (!output) continue;
    StoredRecording out;
    out.session = s;
    out.output = *std::move(output);
    out.has_end = HasSessionEnd(*records);
    out.records = *std::move(records);
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

bool RecordedChannel::HasRequest(std::string_view type,
                                 std::string_view text) const {
  for (const v1::RequestRecord& r : requests) {
    if (r.type() == type &&
        audit::RequestText(r).find(text) != std::string::npos) {
      return true;
    }
  }
  return false;
}

std::vector<RecordedChannel> RecordedChannels(const std::string& store_url,
                                              const std::string& spool_dir,
                                              const std::string& user,
                                              const std::string& host) {
  // A session being shipped is in both: each record once.
  RecordsBySession sessions;
  AddStoredRecords(store_url, user, host, sessions);
  for (const std::string& path : SpoolFiles(spool_dir)) {
    absl::StatusOr<audit::SpoolContents> c = audit::ReadSpool(path);
    if (!c.ok() || c->session.user() != user || c->session.host() != host) {
      continue;
    }
    for (v1::RecordingRecord& r : c->records) {
      sessions[c->session.session_id()].emplace(r.seq(), std::move(r));
    }
  }
  std::vector<RecordedChannel> out;
  for (const auto& [id, records] : sessions) {
    std::map<uint32_t, RecordedChannel> channels;
    for (const auto& [seq, r] : records) {
      if (r.has_session_end()) continue;
      RecordedChannel& c = channels[r.channel_id()];
      c.session_id = id;
      c.channel_id = r.channel_id();
      if (r.has_channel_open()) c.type = r.channel_open().type();
      if (r.has_request()) c.requests.push_back(r.request());
      if (r.has_data() && r.data().ssh_stream() == 0) {
        (r.data().direction() == v1::RECORD_DIRECTION_INPUT ? c.input
                                                            : c.output) +=
            r.data().bytes();
      }
      if (r.has_channel_close()) {
        c.closed = true;
        c.bytes_input = r.channel_close().bytes_input();
        c.bytes_output = r.channel_close().bytes_output();
      }
    }
    for (auto& [channel, c] : channels) out.push_back(std::move(c));
  }
  return out;
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
