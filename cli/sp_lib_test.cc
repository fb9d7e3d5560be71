// Unit tests of sp's parts: CLI parsing, the CA pin, $SALLYPORT_HOME and
// the fixes `sp login` makes to what it is given. `sp login` and `sp
// status` themselves are in sp_login_test.cc.
#include <sys/stat.h>

#include <cstdlib>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/match.h"
#include "base/safe_text.h"
#include "cli/ca_client.h"
#include "cli/cli_app.h"
#include "cli/exit_codes.h"
#include "cli/sp_commands.h"
#include "cli/sp_home.h"
#include "cli/tls_pin.h"
#include "gtest/gtest.h"

namespace sallyport::cli {
namespace {

// A usage error prints what it is about: the failing command's usage, or
// the commands of the group it named, not the program's whole tree.
struct UsageRun {
  int rc = -1;
  std::string err;
};
UsageRun RunUsage(std::vector<std::string> args) {
  CLI::App app("test tool", "tool");
  app.require_subcommand(1);
  CLI::App* users = app.add_subcommand("users", "manage users");
  users->require_subcommand(1);
  std::string name;
  users->add_subcommand("add", "create a user")
      ->add_option("NAME", name, "the user name")
      ->required();
  users->add_subcommand("ls", "list users");
  app.add_subcommand("roles", "manage roles")
      ->add_subcommand("ls", "list roles");
  args.insert(args.begin(), "tool");
  std::vector<char*> argv;
  for (std::string& a : args) argv.push_back(a.data());
  testing::internal::CaptureStderr();
  std::optional<int> rc =
      ParseCommandLine(app, static_cast<int>(argv.size()), argv.data());
  UsageRun out;
  out.err = testing::internal::GetCapturedStderr();
  out.rc = rc.value_or(-1);
  return out;
}

TEST(CliAppTest, UsageErrorsShowTheCommandTheyAreAbout) {
  UsageRun r = RunUsage({"users", "add"});
  EXPECT_EQ(r.rc, 2);
  EXPECT_TRUE(absl::StrContains(r.err, "NAME is required")) << r.err;
  EXPECT_TRUE(absl::StrContains(r.err, "Usage: tool users add")) << r.err;
  EXPECT_FALSE(absl::StrContains(r.err, "list roles")) << r.err;

  r = RunUsage({"users", "bogus"});
  EXPECT_EQ(r.rc, 2);
  EXPECT_TRUE(absl::StrContains(r.err, "unknown command 'tool users bogus'"))
      << r.err;
  EXPECT_TRUE(absl::StrContains(r.err, "Commands (tool users COMMAND"))
      << r.err;
  EXPECT_TRUE(absl::StrContains(r.err, "create a user")) << r.err;
  EXPECT_FALSE(absl::StrContains(r.err, "list roles")) << r.err;

  r = RunUsage({"bogus"});
  EXPECT_EQ(r.rc, 2);
  EXPECT_TRUE(absl::StrContains(r.err, "unknown command 'tool bogus'"))
      << r.err;
  EXPECT_TRUE(absl::StrContains(r.err, "roles ls")) << r.err;

  r = RunUsage({"users", "ls"});
  EXPECT_EQ(r.rc, -1) << r.err;  // parsed: the program goes on
}

// Found by hand: `spctl certs show -1` asked for serial 2^64-1 (CLI11 reads
// unsigned options with strtoull), and "010" was octal 8.
TEST(CliAppTest, SerialsAreDecimalNumbersFromOne) {
  for (const std::string bad :
       {"-1", "0", "010x", "0x10", "", " 5", "+5", "18446744073709551616"}) {
    CLI::App app("test tool", "tool");
    uint64_t serial = 0;
    app.add_option("SERIAL", serial, "the serial")
        ->transform(PositiveDecimal());
    std::vector<std::string> args = {"tool", "--", bad};
    std::vector<char*> argv;
    for (std::string& a : args) argv.push_back(a.data());
    testing::internal::CaptureStderr();
    std::optional<int> rc = ParseCommandLine(app, 3, argv.data());
    const std::string err = testing::internal::GetCapturedStderr();
    EXPECT_EQ(rc, 2) << bad << ": parsed as " << serial;
    EXPECT_TRUE(absl::StrContains(err, "SERIAL: want a decimal number")) << err;
  }
  CLI::App app("test tool", "tool");
  uint64_t serial = 0;
  app.add_option("SERIAL", serial, "the serial")->transform(PositiveDecimal());
  for (const auto& [text, n] : std::vector<std::pair<std::string, uint64_t>>{
           {"18446744073709551615", UINT64_MAX}, {"010", 10}, {"7", 7}}) {
    std::vector<std::string> args = {"tool", text};
    std::vector<char*> argv = {args[0].data(), args[1].data()};
    app.clear();
    EXPECT_EQ(ParseCommandLine(app, 2, argv.data()), std::nullopt) << text;
    EXPECT_EQ(serial, n) << text;
  }
}

// Found by hand: `spctl users add $'\xff'` reached protobuf (whose strings
// are UTF-8), which logged an error and sent an empty name.
TEST(CliAppTest, NamesTheFirstValueThatIsNotUtf8) {
  CLI::App app("test tool", "tool");
  std::string name, display;
  CLI::App* add = app.add_subcommand("add", "create a user");
  add->add_option("NAME", name, "the user name");
  add->add_option("--display-name", display, "free text");
  const auto parse = [&](std::vector<std::string> args) {
    args.insert(args.begin(), "tool");
    std::vector<char*> argv;
    for (std::string& a : args) argv.push_back(a.data());
    app.clear();
    EXPECT_EQ(ParseCommandLine(app, static_cast<int>(argv.size()), argv.data()),
              std::nullopt);
    return NonUtf8Argument(app);
  };
  EXPECT_EQ(parse({"add",
                   "b\xc3\xb6"
                   "b",
                   "--display-name", "Bj\xc3\xb6rn"}),
            std::nullopt);
  EXPECT_EQ(parse({"add", "\xff"}), "NAME: not valid UTF-8: \"\\xff\"");
  EXPECT_EQ(parse({"add", "bob", "--display-name", "a\xc3"}),
            "--display-name: not valid UTF-8: \"a\\xc3\"");
}

// A duration that is not one, and one that is not more than zero, are
// told apart (`--ttl 0s` was a "bad duration").
TEST(CliAppTest, DurationFlagsAreMoreThanZero) {
  EXPECT_EQ(ParseDurationFlag("1h30m").value(), absl::Minutes(90));
  EXPECT_EQ(ParseDurationFlag("8").status().message(),
            "bad duration \"8\": write e.g. 90s, 30m, 8h or 1h30m");
  EXPECT_EQ(ParseDurationFlag("0s").status().message(),
            "duration \"0s\" must be more than zero");
  EXPECT_EQ(ParseDurationFlag("-5m").status().message(),
            "duration \"-5m\" must be more than zero");
  EXPECT_EQ(ParseDurationFlag("1\x1b[2J").status().message(),
            "bad duration \"1\\x1b[2J\": write e.g. 90s, 30m, 8h or 1h30m");
}

TEST(TlsPinTest, ParseHostPort) {
  auto a = ParseHostPort("127.0.0.1:7443");
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(a->host, "127.0.0.1");
  EXPECT_EQ(a->port, 7443);
  auto b = ParseHostPort("[::1]:9");
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(b->host, "::1");
  for (const char* bad : {"", "host", "host:", ":80", "host:0", "host:65536",
                          "::1:80", "[::1]80", "host:8x"}) {
    EXPECT_FALSE(ParseHostPort(bad).ok()) << bad;
  }
}

TEST(TlsPinTest, FingerprintFormatsCompareByDigest) {
  // SHA-256 of nothing, in the formats people paste.
  const char* b64 = "SHA256:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU";
  const char* hex =
      "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
  const char* colons =
      "E3:B0:C4:42:98:FC:1C:14:9A:FB:F4:C8:99:6F:B9:24:27:AE:41:E4:64:9B:93:"
      "4C:A4:95:99:1B:78:52:B8:55";
  EXPECT_TRUE(SameFingerprint(b64, hex));
  EXPECT_TRUE(SameFingerprint(hex, colons));
  EXPECT_TRUE(
      SameFingerprint(b64, "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU"));
  EXPECT_FALSE(SameFingerprint(
      b64, "SHA256:57DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU"));
  EXPECT_FALSE(SameFingerprint(b64, "SHA256:short"));
  EXPECT_FALSE(SameFingerprint("", ""));
}

TEST(TlsPinTest, ChangedCertificateWarningIsLoud) {
  const std::string w =
      ChangedCertificateWarning("ca:7443", "SHA256:old", "SHA256:new", "/p");
  EXPECT_TRUE(
      absl::StrContains(w, "WARNING: SALLYPORT CA CERTIFICATE HAS CHANGED!"));
  EXPECT_TRUE(absl::StrContains(w, "SOMETHING NASTY"));
  EXPECT_TRUE(absl::StrContains(w, "SHA256:old"));
  EXPECT_TRUE(absl::StrContains(w, "SHA256:new"));
}

TEST(TlsPinTest, UnreachableServerIsUnavailable) {
  // Port 1 on loopback: nothing listens there.
  auto r = FetchServerCertificate({"127.0.0.1", 1}, "x", absl::Seconds(5));
  EXPECT_EQ(r.status().code(), absl::StatusCode::kUnavailable);
}

TEST(SpHomeTest, StateRoundTripAndModes) {
  char tmpl[] = "/tmp/sphomeXXXXXX";
  ASSERT_NE(mkdtemp(tmpl), nullptr);
  SpHome home(std::string(tmpl) + "/home");
  ASSERT_TRUE(home.Ensure().ok());
  struct stat st;
  ASSERT_EQ(stat(home.dir().c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0700u);
  auto empty = home.ReadState();
  ASSERT_TRUE(empty.ok());
  EXPECT_TRUE(empty->user.empty());
  ASSERT_TRUE(home.WriteState({"127.0.0.1:7443", "alice"}).ok());
  auto state = home.ReadState();
  ASSERT_TRUE(state.ok());
  EXPECT_EQ(state->ca, "127.0.0.1:7443");
  EXPECT_EQ(state->user, "alice");
  ASSERT_TRUE(WriteFileAtomic(home.tls_key(), "secret", 0600).ok());
  ASSERT_EQ(stat(home.tls_key().c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  EXPECT_TRUE(RemoveFile(home.tls_key()).ok());
  EXPECT_TRUE(RemoveFile(home.tls_key()).ok());
  EXPECT_EQ(ReadTextFile(home.tls_key()).status().code(),
            absl::StatusCode::kNotFound);
  std::system(("rm -rf " + std::string(tmpl)).c_str());
}

TEST(SpHomeTest, UserNamesMustBeSafeFileNames) {
  EXPECT_TRUE(CheckUserNameForFiles("alice.smith@corp").ok());
  for (const char* bad :
       {"", "../x", ".hidden", "-rf", "a/b", "a b", "ca.pem\n"}) {
    EXPECT_FALSE(CheckUserNameForFiles(bad).ok()) << bad;
  }
}

// Found in review: $SALLYPORT_HOME went into ssh_config as it was, where
// a space, a quote, '%', '*' or '$' is a separator, a token, a glob or a
// variable to ssh. sp refuses such a home, naming it.
TEST(SpHomeTest, AHomeSshCannotNameAsItIsIsRefused) {
  for (const std::string good :
       {"/home/alice/.sallyport", "/h/a_b-c.d@e+f,g/SP", "/"}) {
    EXPECT_TRUE(CheckHomeForSsh(SpHome(good)).ok()) << good;
  }
  for (const auto& [bad, shown] :
       std::vector<std::pair<std::string, std::string>>{
           {"/home/a b/.sallyport", "\" \""},
           {"/home/a\"b", "\"\"\""},
           {"/home/100%", "\"%\""},
           {"/home/*", "\"*\""},
           {"/home/${HOME}", "\"$\""},
           {"/home/a\nHost *", "\"\\x0a\""},
           {"/home/jos\xc3\xa9", "\"\\xc3\""},
           {"/home/a\\b", "\"\\x5c\""}}) {
    absl::Status st = CheckHomeForSsh(SpHome(bad));
    EXPECT_EQ(st.code(), absl::StatusCode::kInvalidArgument) << bad;
    EXPECT_TRUE(absl::StrContains(
        st.message(),
        absl::StrCat("\" for sp's files: ssh_config would need to quote its ",
                     shown,
                     "; set SALLYPORT_HOME to a directory whose path has "
                     "only A-Z a-z 0-9 / . _ @ + , -")))
        << st;
    EXPECT_TRUE(absl::StartsWith(st.message(), "cannot use \"/home/")) << st;
  }
  EXPECT_EQ(CheckHomeForSsh(SpHome("rel/home")).message(),
            "cannot use \"rel/home\" for sp's files: not an absolute path; "
            "set SALLYPORT_HOME to a directory whose path has only A-Z a-z "
            "0-9 / . _ @ + , -");
}

// Found in review: ssh reads ~/.ssh/config from the user database's home
// directory, not from $HOME, so `sp config --install` with another HOME
// (sudo -E, a test shell) changed a file ssh never reads, without a word.
TEST(SpHomeTest, InstallSaysWhenHomeIsNotThePasswdHome) {
  char tmpl[] = "/tmp/sphomeXXXXXX";
  ASSERT_NE(mkdtemp(tmpl), nullptr);
  const std::string dir = tmpl;
  ASSERT_EQ(mkdir((dir + "/real").c_str(), 0700), 0);
  ASSERT_EQ(mkdir((dir + "/other").c_str(), 0700), 0);
  ASSERT_EQ(symlink((dir + "/real").c_str(), (dir + "/link").c_str()), 0);
  EXPECT_EQ(HomeMismatchWarning(dir + "/real", dir + "/real"), "");
  EXPECT_EQ(HomeMismatchWarning(dir + "/real/", dir + "/real"), "");
  EXPECT_EQ(HomeMismatchWarning(dir + "/link", dir + "/real"), "");
  EXPECT_EQ(HomeMismatchWarning(dir + "/other", dir + "/real"),
            absl::StrCat("sp: warning: HOME is ", dir,
                         "/other but your home directory in the user "
                         "database is ",
                         dir, "/real: ssh reads ", dir,
                         "/real/.ssh/config, not the file changed here (add "
                         "the line there, or run `sp config --install` with "
                         "HOME=",
                         dir, "/real)\n"));
  // A HOME that does not exist is not the same directory either.
  EXPECT_NE(HomeMismatchWarning(dir + "/gone", dir + "/real"), "");
  EXPECT_TRUE(absl::StrContains(HomeMismatchWarning("/x\x1b[2J", dir + "/real"),
                                "HOME is /x\\x1b[2J "));
  std::system(("rm -rf " + dir).c_str());
}

TEST(SpFixesTest, CaAddressDefaultsToPort7443) {
  auto a = ParseCaAddress("ca.example.com");
  ASSERT_TRUE(a.ok()) << a.status();
  EXPECT_EQ(a->host, "ca.example.com");
  EXPECT_EQ(a->port, 7443);
  auto b = ParseCaAddress("ca.example.com:9443");
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(b->port, 9443);
  auto c = ParseCaAddress("[::1]");
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->host, "::1");
  EXPECT_EQ(c->port, 7443);
  EXPECT_FALSE(ParseCaAddress("::1").ok());
  EXPECT_FALSE(ParseCaAddress("host:0").ok());
}

TEST(SpFixesTest, TrustPromptTakesYNAndAsksAgain) {
  EXPECT_EQ(ParseYesNo("y"), true);
  EXPECT_EQ(ParseYesNo(" YES "), true);
  EXPECT_EQ(ParseYesNo("n"), false);
  EXPECT_EQ(ParseYesNo("No"), false);
  EXPECT_EQ(ParseYesNo("yep"), std::nullopt);
  EXPECT_EQ(ParseYesNo(""), std::nullopt);
  std::vector<std::string> answers = {"maybe", "", "y"};
  size_t asked = 0;
  std::ostringstream out;
  auto yes = AskYesNo(
      [&]() -> absl::StatusOr<std::string> { return answers[asked++]; }, out);
  ASSERT_TRUE(yes.ok());
  EXPECT_TRUE(*yes);
  EXPECT_EQ(asked, 3u);
  answers = {"no"};
  asked = 0;
  EXPECT_EQ(
      *AskYesNo(
          [&]() -> absl::StatusOr<std::string> { return answers[asked++]; },
          out),
      false);
}

TEST(SpFixesTest, CertAuthorityPatternIsNeverAStar) {
  EXPECT_EQ(CertAuthorityPattern("ca.corp.example.com"), "*.corp.example.com");
  EXPECT_EQ(CertAuthorityPattern("ca.example.com"), "*.example.com");
  EXPECT_EQ(CertAuthorityPattern("ca.local"), std::nullopt);
  EXPECT_EQ(CertAuthorityPattern("ca"), std::nullopt);
  EXPECT_EQ(CertAuthorityPattern("127.0.0.1"), std::nullopt);
  EXPECT_EQ(CertAuthorityPattern("::1"), std::nullopt);
}

// Found in review: what the CA says when it refuses was printed as it
// came, so a CA (or what answers on its address) could clear the user's
// screen, retitle the terminal or print lines that look like sp's own.
TEST(SpErrorsTest, TheCasMessageIsEscaped) {
  const std::string hostile = "bad\x1b]0;owned\x07\nsp: Logged in as root\x7f";
  const std::vector<HostPort> cas = {{"127.0.0.1", 7443}};
  for (const grpc::StatusCode code :
       {grpc::StatusCode::RESOURCE_EXHAUSTED,
        grpc::StatusCode::PERMISSION_DENIED, grpc::StatusCode::UNAVAILABLE,
        grpc::StatusCode::DEADLINE_EXCEEDED, grpc::StatusCode::UNAUTHENTICATED,
        grpc::StatusCode::INTERNAL, grpc::StatusCode::NOT_FOUND}) {
    const grpc::Status st(code, hostile);
    for (const std::string& text :
         {LoginErrorMessage(st, cas), RpcError(st, cas)}) {
      EXPECT_EQ(text.find_first_of("\n\x1b\x07\x7f"), std::string::npos)
          << code << ": " << base::EscapeControls(text);
      EXPECT_TRUE(base::IsPrintableUtf8(text)) << base::EscapeControls(text);
    }
  }
  // What the CA said is still there to read.
  EXPECT_TRUE(absl::StrContains(
      RpcError(grpc::Status(grpc::StatusCode::INTERNAL, hostile), cas),
      "bad\\x1b]0;owned\\x07\\x0asp: Logged in as root\\x7f"));
}

}  // namespace
}  // namespace sallyport::cli
