// Interop, our server: bulk data with the machine's OpenSSH tools through
// example_server — 100 MiB through `cat` each way, key re-exchange every
// mebibyte started by ssh (RekeyLimit) and by our server (--rekey-bytes),
// scp in legacy (-O) and SFTP mode, sftp batch mode, and rsync over ssh.
// Every transfer is checked with SHA-256.
#include <regex>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "gtest/gtest.h"
#include "tests/interop/example_server_fixture.h"

namespace sallyport::testing {
namespace {

// The kex count of the last connection that ended, from the server log.
int LastKexCount(const std::string& log) {
  static const std::regex kCount(R"(ended: .*\(kex count (\d+)\))");
  int count = -1;
  for (std::sregex_iterator it(log.begin(), log.end(), kCount), end; it != end;
       ++it) {
    count = std::stoi((*it)[1].str());
  }
  return count;
}

class ExampleServerTransfer : public ExampleServerTest {
 protected:
  // "ssh OPTIONS" as one shell word list, for pipelines and rsync -e.
  std::string SshLine(const std::vector<std::string>& extra = {}) const {
    std::vector<std::string> args = SshArgs();
    args.insert(args.end(), extra.begin(), extra.end());
    return ShellJoin(args);
  }
  // scp/sftp take the same options, but -P for the port.
  std::vector<std::string> CopyArgs(const std::string& program) const {
    std::vector<std::string> args = SshArgs();
    args[0] = program;
    for (size_t i = 0; i + 1 < args.size(); ++i) {
      if (args[i] == "-p") args[i] = "-P";
    }
    return args;
  }
  std::string Remote(const std::string& path) const {
    return Destination() + ":" + path;
  }
};

TEST_F(ExampleServerTransfer, HundredMebibytesThroughCatBothWays) {
  StartServer();
  const std::string src = dir_->File("src"), up = dir_->File("up"),
                    down = dir_->File("down");
  MakeRandomFile(src, "100M");
  const std::string want = Sha256OfFile(src);
  ASSERT_EQ(want.size(), 64u);

  RunResult r = Shell(absl::StrCat(SshLine(), " ", Destination(), " ",
                                   ShellQuote("cat > " + up), " < ", src));
  EXPECT_EQ(r.exit_code, 0) << r.Describe();
  EXPECT_EQ(Sha256OfFile(up), want);

  r = Shell(absl::StrCat(SshLine(), " ", Destination(), " ",
                         ShellQuote("cat " + up), " > ", down));
  EXPECT_EQ(r.exit_code, 0) << r.Describe();
  EXPECT_EQ(Sha256OfFile(down), want);
}

TEST_F(ExampleServerTransfer, RekeyEveryMebibyteStartedByTheClient) {
  StartServer();
  const std::string src = dir_->File("src"), up = dir_->File("up");
  MakeRandomFile(src, "100M");
  RunResult r =
      Shell(absl::StrCat(SshLine({"-o", "RekeyLimit=1M"}), " ", Destination(),
                         " ", ShellQuote("cat > " + up), " < ", src));
  EXPECT_EQ(r.exit_code, 0) << r.Describe();
  EXPECT_EQ(Sha256OfFile(up), Sha256OfFile(src));
  ASSERT_TRUE(WaitForLog("(kex count")) << ServerLog();
  EXPECT_GT(LastKexCount(ServerLog()), 50) << ServerLog();
}

TEST_F(ExampleServerTransfer, RekeyEveryMebibyteStartedByTheServer) {
  StartServer({"--rekey-bytes", "1048576"});
  const std::string src = dir_->File("src"), down = dir_->File("down");
  MakeRandomFile(src, "100M");
  RunResult r = Shell(absl::StrCat(SshLine(), " ", Destination(), " ",
                                   ShellQuote("cat " + src), " > ", down));
  EXPECT_EQ(r.exit_code, 0) << r.Describe();
  EXPECT_EQ(Sha256OfFile(down), Sha256OfFile(src));
  ASSERT_TRUE(WaitForLog("(kex count")) << ServerLog();
  EXPECT_GT(LastKexCount(ServerLog()), 50) << ServerLog();
}

TEST_F(ExampleServerTransfer, ScpLegacyAndSftpModes) {
  StartServer();
  const std::string src = dir_->File("src");
  MakeRandomFile(src, "16M");
  const std::string want = Sha256OfFile(src);
  for (bool legacy : {true, false}) {
    SCOPED_TRACE(legacy ? "scp -O" : "scp (SFTP)");
    const std::string tag = legacy ? "legacy" : "sftp";
    const std::string up = dir_->File("up-" + tag),
                      down = dir_->File("down-" + tag);
    std::vector<std::string> argv = CopyArgs("scp");
    if (legacy) argv.push_back("-O");
    std::vector<std::string> put = argv;
    put.insert(put.end(), {src, Remote(up)});
    auto r = RunCommand(put);
    ASSERT_TRUE(r.ok()) << r.status();
    EXPECT_EQ(r->exit_code, 0) << r->Describe();
    EXPECT_EQ(Sha256OfFile(up), want);

    std::vector<std::string> get = argv;
    get.insert(get.end(), {Remote(up), down});
    r = RunCommand(get);
    ASSERT_TRUE(r.ok()) << r.status();
    EXPECT_EQ(r->exit_code, 0) << r->Describe();
    EXPECT_EQ(Sha256OfFile(down), want);
  }
  // Legacy scp runs "scp -t"/"scp -f" through exec; SFTP mode uses the
  // subsystem.
  ExpectContains(ServerLog(), "started exec");
  ExpectContains(ServerLog(), "started subsystem");
}

TEST_F(ExampleServerTransfer, SftpBatchPutGetLsRenameRm) {
  StartServer();
  const std::string src = dir_->File("src");
  MakeRandomFile(src, "16M");
  const std::string remote_dir = dir_->File("remote");
  ASSERT_TRUE(RunCommand({"mkdir", remote_dir}).ok());
  const std::string batch = absl::StrJoin(
      std::vector<std::string>{
          absl::StrCat("cd ", remote_dir),
          absl::StrCat("put ", src, " first"),
          "ls -l",
          "rename first second",
          absl::StrCat("get second ", dir_->File("fetched")),
          "ls",
          "rm second",
          "ls -1",
      },
      "\n");
  ASSERT_TRUE(WriteFile(dir_->File("batch"), batch + "\n").ok());
  std::vector<std::string> argv = CopyArgs("sftp");
  argv.insert(argv.end(), {"-b", dir_->File("batch"), Destination()});
  auto r = RunCommand(argv);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->exit_code, 0) << r->Describe();
  ExpectContains(r->out, "16777216");  // ls -l of the uploaded file
  ExpectContains(r->out, "sftp> rm second");
  EXPECT_EQ(Sha256OfFile(dir_->File("fetched")), Sha256OfFile(src));
  // Renamed, then removed.
  auto left = RunCommand({"ls", "-A", remote_dir});
  ASSERT_TRUE(left.ok());
  EXPECT_EQ(left->out, "");
}

TEST_F(ExampleServerTransfer, RsyncTreeOverSsh) {
  StartServer();
  const std::string src = dir_->File("tree"), dst = dir_->File("copy");
  ASSERT_TRUE(RunCommand({"mkdir", "-p", src + "/sub"}).ok());
  for (int i = 0; i < 200; ++i) {
    ASSERT_TRUE(WriteFile(absl::StrCat(src, i % 2 ? "/sub" : "", "/file", i),
                          absl::StrCat("contents of file ", i, "\n",
                                       std::string(i * 37, 'x')))
                    .ok());
  }
  MakeRandomFile(src + "/big", "50M");
  RunResult r = Shell(absl::StrCat("rsync -a -e ", ShellQuote(SshLine()), " ",
                                   ShellQuote(src + "/"), " ",
                                   ShellQuote(Remote(dst + "/"))));
  EXPECT_EQ(r.exit_code, 0) << r.Describe();
  EXPECT_EQ(Sha256OfFile(dst + "/big"), Sha256OfFile(src + "/big"));
  // Every file, byte for byte.
  auto diff = RunCommand({"diff", "-r", src, dst});
  ASSERT_TRUE(diff.ok());
  EXPECT_EQ(diff->exit_code, 0) << diff->Describe();
  auto count =
      Shell(absl::StrCat("find ", ShellQuote(dst), " -type f | wc -l"));
  EXPECT_EQ(count.out, "201\n");
}

}  // namespace
}  // namespace sallyport::testing
