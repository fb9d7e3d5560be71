#include "storage/store_test_suite.h"

#include <errno.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>

#include "absl/strings/str_cat.h"

namespace sallyport::storage::testing {
namespace {

bool WriteAll(int fd, const std::string& data) {
  size_t done = 0;
  while (done < data.size()) {
    const ssize_t n = write(fd, data.data() + done, data.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    done += static_cast<size_t>(n);
  }
  return true;
}

std::string ReadAll(int fd) {
  std::string out;
  char buf[4096];
  while (true) {
    const ssize_t n = read(fd, buf, sizeof(buf));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    out.append(buf, static_cast<size_t>(n));
  }
  return out;
}

}  // namespace

std::string BackendParamName(
    const ::testing::TestParamInfo<BackendParam>& info) {
  return info.param.name;
}

void StoreTest::SetUp() {
  backend_ = GetParam().make();
  ASSERT_NE(backend_, nullptr);
  const absl::Status ready = backend_->SetUp();
  ASSERT_TRUE(ready.ok()) << GetParam().name
                          << " backend is not available: " << ready;
  auto store = backend_->Open(&clock_);
  ASSERT_TRUE(store.ok()) << store.status();
  store_ = std::move(*store);
}

std::unique_ptr<Store> StoreTest::OpenAnother() {
  auto store = backend_->Open(&clock_);
  EXPECT_TRUE(store.ok()) << store.status();
  return store.ok() ? std::move(*store) : nullptr;
}

namespace {

// A script that makes the schema of `version` (migrations 1..version, as
// a binary of that version left it).
std::string SchemaAt(absl::Span<const migrations::Migration> all,
                     size_t version) {
  std::string script =
      "CREATE TABLE schema_migrations (version BIGINT NOT NULL PRIMARY KEY, "
      "name TEXT NOT NULL, applied_at_us BIGINT NOT NULL);\n";
  for (const migrations::Migration& m : all.subspan(0, version)) {
    absl::StrAppend(&script, m.sql,
                    "\n;\nINSERT INTO schema_migrations (version, name, "
                    "applied_at_us) VALUES (",
                    m.version, ", '", m.name, "', 0);\n");
  }
  return script;
}

}  // namespace

std::unique_ptr<Store> StoreTest::UpgradeFrom(size_t version,
                                              const std::string& rows) {
  store_.reset();
  absl::Status st = backend_->SetUp();  // a new, empty database
  if (st.ok()) {
    st = backend_->ExecRawSql(SchemaAt(backend_->Migrations(), version) + rows);
  }
  EXPECT_TRUE(st.ok()) << st;
  return st.ok() ? OpenAnother() : nullptr;
}

absl::StatusOr<std::vector<std::string>> RunInChildProcesses(
    int n, const std::function<std::string(int)>& child) {
  int go[2];
  if (pipe(go) != 0) return absl::InternalError("pipe failed");
  std::vector<pid_t> pids;
  std::vector<int> results;
  // On a failure half-way, the children already started are released and
  // reaped before returning.
  auto abandon = [&](const char* what) {
    close(go[0]);
    close(go[1]);
    for (size_t k = 0; k < pids.size(); ++k) {
      close(results[k]);
      waitpid(pids[k], nullptr, 0);
    }
    return absl::InternalError(absl::StrCat(what, ": ", strerror(errno)));
  };
  for (int i = 0; i < n; ++i) {
    int out[2];
    if (pipe(out) != 0) return abandon("pipe");
    const pid_t pid = fork();
    if (pid < 0) {
      close(out[0]);
      close(out[1]);
      return abandon("fork");
    }
    if (pid == 0) {
      // Child: wait for the start signal (EOF on `go`), run, report, and
      // leave with _exit so no parent state (gtest, connections) is touched.
      close(go[1]);
      close(out[0]);
      char c;
      while (read(go[0], &c, 1) < 0 && errno == EINTR) {
      }
      const std::string result = child(i);
      _exit(WriteAll(out[1], result) ? 0 : 3);
    }
    close(out[1]);
    pids.push_back(pid);
    results.push_back(out[0]);
  }
  close(go[0]);
  close(go[1]);  // start them all at once
  std::vector<std::string> outputs;
  absl::Status status = absl::OkStatus();
  for (int i = 0; i < n; ++i) {
    outputs.push_back(ReadAll(results[i]));
    close(results[i]);
    int wstatus = 0;
    waitpid(pids[i], &wstatus, 0);
    if (!WIFEXITED(wstatus) || WEXITSTATUS(wstatus) != 0) {
      status = absl::InternalError(
          absl::StrCat("child ", i, " failed (wait status ", wstatus, ")"));
    }
  }
  if (!status.ok()) return status;
  return outputs;
}

IssuedCertificate MakeCert(uint64_t serial, std::string user,
                           CertificatePurpose purpose, absl::Time after,
                           absl::Duration ttl) {
  IssuedCertificate c;
  c.serial = serial;
  c.key_id = user + "@laptop";
  c.user = user;
  c.principals = {user, "ubuntu"};
  c.valid_after = after;
  c.valid_before = after + ttl;
  c.public_key_fingerprint = absl::StrCat("SHA256:key-of-", user);
  c.ca_key_fingerprint = "SHA256:user-ca-1";
  c.purpose = purpose;
  return c;
}

}  // namespace sallyport::storage::testing
