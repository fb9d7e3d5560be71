// Unit tests of spctl's command lines: exit codes and messages of the CA's
// refusals, the arguments of users, roles, hosts, sessions, audit and
// certs as spctl parses them, and commands run without a login.
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstdlib>
#include <fstream>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "cli/spctl.h"
#include "cli/spctl_audit.h"
#include "gtest/gtest.h"

namespace sallyport::cli {
namespace {

// The exit code of a refusal from the CA. INVALID_ARGUMENT (a name or value
// the CA's rules refuse) was 1; it is a usage error like one spctl finds.
TEST(SpctlFailTest, ExitCodesFollowTheCasAnswer) {
  std::ostringstream out, err;
  Spctl ctl(out, err);
  EXPECT_EQ(ctl.Fail(grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                                  "user name: must start with a letter"),
                     "users add -x"),
            kExitUsage);
  EXPECT_TRUE(absl::StrContains(err.str(), "spctl: users add -x: user name: "))
      << err.str();
  EXPECT_EQ(ctl.Fail(grpc::Status(grpc::StatusCode::NOT_FOUND, "no"), "x"),
            kExitNotFound);
  EXPECT_EQ(
      ctl.Fail(grpc::Status(grpc::StatusCode::PERMISSION_DENIED, "no"), "x"),
      kExitDenied);
  EXPECT_EQ(
      ctl.Fail(grpc::Status(grpc::StatusCode::FAILED_PRECONDITION, "no"), "x"),
      kExitError);
}

// Found in review: the CA's message was printed as it came, so a CA (or
// what answers on its address) could drive the admin's terminal or print
// lines that look like spctl's own.
TEST(SpctlFailTest, TheCasMessageIsEscaped) {
  for (const grpc::StatusCode code :
       {grpc::StatusCode::INVALID_ARGUMENT, grpc::StatusCode::UNAVAILABLE,
        grpc::StatusCode::INTERNAL}) {
    std::ostringstream out, err;
    Spctl ctl(out, err);
    ctl.Fail(grpc::Status(code, "no\x1b[2J\nspctl: all clear\x7f"), "x");
    EXPECT_TRUE(
        absl::StrContains(err.str(), "no\\x1b[2J\\x0aspctl: all clear\\x7f"))
        << err.str();
    EXPECT_EQ(err.str().find_first_of("\x1b\x7f"), std::string::npos);
    EXPECT_FALSE(absl::StrContains(err.str(), "\nspctl: all clear"))
        << err.str();
  }
  // What the CA escaped itself is shown once, not escaped again (a label
  // key with a space read "env\x5cx20prod").
  std::ostringstream out, err;
  Spctl ctl(out, err);
  ctl.Fail(grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                        "label key \"env\\x20prod\" must be ..."),
           "roles create");
  EXPECT_EQ(err.str(),
            "spctl: roles create: label key \"env\\x20prod\" must be ...\n");
}

// spctl's users, roles, hosts, sessions, audit and certs (access, krl, ca)
// commands, parsed as
// spctl parses (nothing runs until Run).
struct SpctlArgs {
  SpctlArgs() {
    app.require_subcommand(1);
    AddUserCommands(app, ctl, &action);
    AddRoleCommands(app, ctl, &action);
    AddHostCommands(app, ctl, &action);
    AddSessionCommands(app, ctl, &action);
    AddAuditCommands(app, ctl, &action);
    AddCertCommands(app, ctl, &action);
  }
  // The exit code, or nullopt when parsed; stderr goes to `err`.
  std::optional<int> Parse(std::vector<std::string> args, std::string* err) {
    args.insert(args.begin(), "spctl");
    std::vector<char*> argv;
    for (std::string& a : args) argv.push_back(a.data());
    testing::internal::CaptureStderr();
    std::optional<int> rc =
        ParseCommandLine(app, static_cast<int>(argv.size()), argv.data());
    *err = testing::internal::GetCapturedStderr();
    return rc;
  }
  // Parses `args` and runs the command as `spctl` does, with
  // $SALLYPORT_HOME a directory without a login (so a command that calls
  // the CA stops at "not logged in"); its stdout is `out`, its stderr
  // `errors`, and a usage error while parsing is in `errors` too.
  int Run(std::vector<std::string> args) {
    const std::string home = ::testing::TempDir() + "/spctl-no-login";
    setenv("SALLYPORT_HOME", home.c_str(), 1);
    std::string err;
    if (std::optional<int> rc = Parse(std::move(args), &err)) {
      errors << err;
      return *rc;
    }
    return action();
  }
  std::ostringstream out, errors;
  Spctl ctl{out, errors};
  Action action;
  CLI::App app{"spctl", "spctl"};
};

// `access check ... port-forward` without --destination names the flag
// before asking the CA (whose "destination must be HOST:PORT" did not).
TEST(SpctlArgsTest, AccessCheckOfAPortForwardNeedsADestination) {
  SpctlArgs spctl;
  EXPECT_EQ(
      spctl.Run({"access", "check", "erin", "ubuntu", "web01", "port-forward"}),
      kExitUsage);
  EXPECT_EQ(spctl.errors.str(),
            "spctl: access check: a port-forward needs --destination "
            "HOST:PORT (where the forward goes, as the host sees it)\n");
  EXPECT_EQ(spctl.out.str(), "");
}

// Found by hand: CLI11 reads integers with strtoull/strtoll in base 0, so
// `spctl hosts add web01 --address a --port 010` stored port 8, `--port
// 0x16` port 22, and `hosts edit --port 0` set 22. Ports, session counts
// and channel numbers are decimal, as certificate serials are.
TEST(SpctlArgsTest, PortsCountsAndChannelsAreDecimal) {
  struct Case {
    std::vector<std::string> args;
    std::string value;   // the option's value
    std::string want;    // the error's text ("" when it parses)
    int64_t parsed = 0;  // the value parsed
  };
  const std::string port = "--port: want a decimal number from 1 to 65535";
  const std::string limit =
      "--limit: want a decimal number from 1 to 2147483647";
  const std::string channel =
      "--channel: want a decimal number from 0 to 2147483647";
  const std::vector<std::string> add = {"hosts",     "add",      "web01",
                                        "--address", "10.0.0.5", "--port"};
  const std::vector<std::string> edit = {"hosts", "edit", "web01", "--port"};
  const std::vector<std::string> ls = {"sessions", "ls", "--limit"};
  const std::vector<std::string> play = {"sessions", "play", "last",
                                         "--channel"};
  const std::vector<std::string> exp = {"sessions", "export", "last",
                                        "--channel"};
  const std::vector<Case> cases = {
      {add, "010", "", 10},   {add, "0x16", port},
      {add, "0", port},       {add, "65536", port},
      {add, "-1", port},      {add, "+22", port},
      {add, "22", "", 22},    {add, "65535", "", 65535},
      {edit, "0x16", port},   {edit, "0", port},
      {edit, "0022", "", 22}, {ls, "010", "", 10},
      {ls, "0x10", limit},    {ls, "0", limit},
      {ls, "-5", limit},      {ls, "2147483648", limit},
      {play, "010", "", 10},  {play, "0x1", channel},
      {play, "-1", channel},  {play, "0", "", 0},
      {exp, "07", "", 7},     {exp, "0x1", channel},
  };
  for (const Case& c : cases) {
    std::vector<std::string> args = c.args;
    args.push_back(c.value);
    const std::string line = absl::StrJoin(args, " ");
    SpctlArgs spctl;
    std::string err;
    const std::optional<int> rc = spctl.Parse(args, &err);
    if (!c.want.empty()) {
      EXPECT_EQ(rc, kExitUsage) << line;
      EXPECT_TRUE(absl::StrContains(
          err, absl::StrCat(c.want, ", not \"", c.value, "\"")))
          << line << ": " << err;
      continue;
    }
    ASSERT_EQ(rc, std::nullopt) << line << ": " << err;
    const CLI::App* verb =
        spctl.app.get_subcommand(c.args[0])->get_subcommand(c.args[1]);
    EXPECT_EQ(verb->get_option(c.args.back())->as<int64_t>(), c.parsed) << line;
  }
}

// Found by hand: CLI11 reads a double with strtold, so `sessions play
// --speed` took "0x2" as 2, "1e3" as 1000, and "inf" or "1e308" as no
// pauses at all; 0, -1 and "nan" parsed and were refused only when the
// command ran. The speed is a plain decimal number greater than 0 and at
// most 1000, checked as the command line is parsed.
TEST(SpctlArgsTest, SpeedIsAPlainDecimal) {
  const std::vector<std::pair<std::string, double>> accepted = {
      {"1", 1},    {"2", 2},         {"0.5", 0.5},     {"1000", 1000},
      {"010", 10}, {"1000.0", 1000}, {"0.001", 0.001}, {"2.50", 2.5},
  };
  for (const auto& [value, speed] : accepted) {
    SpctlArgs spctl;
    std::string err;
    ASSERT_EQ(spctl.Parse({"sessions", "play", "last", "--speed", value}, &err),
              std::nullopt)
        << value << ": " << err;
    const CLI::App* play =
        spctl.app.get_subcommand("sessions")->get_subcommand("play");
    EXPECT_EQ(play->get_option("--speed")->as<double>(), speed) << value;
  }
  for (const std::string value :
       {"0",      "0.0",       "00",  "-1",  "+2",  "0x2",   "0X2",
        "inf",    "INF",       "nan", "1e3", "1E3", "1e308", "1001",
        "1000.5", "1000.0001", "",    ".5",  "5.",  "1.2.3", "1,5",
        " 2",     "2 ",        "two", "0.5x"}) {
    SpctlArgs spctl;
    std::string err;
    EXPECT_EQ(spctl.Parse({"sessions", "play", "last", "--speed", value}, &err),
              kExitUsage)
        << value;
    EXPECT_TRUE(absl::StrContains(
        err, absl::StrCat("--speed: want a decimal number greater than 0 and "
                          "at most 1000, not \"",
                          value, "\"")))
        << value << ": " << err;
  }
}

// Found by a probe: `audit ls` printed its table header before it read
// --since/--until and before asking the CA, so a bad time, `--since 0s`,
// a refusal or no login left a header on stdout beside the error. The
// header comes once the CA answered (as `sessions ls` prints its own).
TEST(SpctlRunTest, AuditLsPrintsNothingOnStdoutUnlessTheCaAnswered) {
  struct Case {
    std::vector<std::string> args;
    int rc;
    std::string err;
  };
  const std::vector<Case> cases = {
      {{"audit", "ls", "--since", "2026-13-45T00:00:00Z"},
       kExitUsage,
       "spctl: --since: want a time"},
      {{"audit", "ls", "--since", "0s"}, kExitUsage, "--since: want a time"},
      {{"audit", "ls", "--until", "tomorrow"},
       kExitUsage,
       "spctl: --until: want a time"},
      {{"audit", "ls"}, kExitError, "run `sp login` first"},
      {{"audit", "ls", "--since", "2h"}, kExitError, "run `sp login` first"},
      {{"audit", "export", "--since", "0s"}, kExitUsage, "--since: want"},
      {{"audit", "export"}, kExitError, "run `sp login` first"},
  };
  for (const Case& c : cases) {
    const std::string line = absl::StrJoin(c.args, " ");
    SpctlArgs spctl;
    EXPECT_EQ(spctl.Run(c.args), c.rc) << line << ": " << spctl.errors.str();
    EXPECT_EQ(spctl.out.str(), "") << line;
    EXPECT_TRUE(absl::StrContains(spctl.errors.str(), c.err))
        << line << ": " << spctl.errors.str();
  }
}

// --since and --until of `audit ls|export` and `sessions ls`, read against
// one `now`. Found by a probe: `sessions ls --since 2h --until 3h` and
// `audit ls --until 1m --since 1m` asked the CA for a range nothing can be
// in and printed nothing, as if nothing had happened; such a range is a
// usage error.
TEST(TimeRangeTest, AnEmptyOrInvertedRangeIsRefused) {
  const absl::Time now = absl::FromUnixSeconds(1796130000);  // 2026-12-01 13:00
  const absl::Time day = absl::FromUnixSeconds(1796083200);  // 2026-12-01
  struct Good {
    std::string since, until;
    std::optional<absl::Time> from, to;
  };
  for (const Good& g : std::vector<Good>{
           {"", "", std::nullopt, std::nullopt},
           {"2h", "", now - absl::Hours(2), std::nullopt},
           {"", "2h", std::nullopt, now - absl::Hours(2)},
           {"3h", "2h", now - absl::Hours(3), now - absl::Hours(2)},
           {"1m", "1s", now - absl::Minutes(1), now - absl::Seconds(1)},
           {"2026-12-01", "2026-12-01 13:00:00", day, now},
           {"2026-12-01T12:59:59Z", "2026-12-01T14:00:00+01:00",
            now - absl::Seconds(1), now},
           // In the future: nothing there yet, but not a usage error.
           {"2026-12-02", "2026-12-03", day + absl::Hours(24),
            day + absl::Hours(48)},
       }) {
    absl::StatusOr<TimeRange> r = ParseTimeRange(g.since, g.until, now);
    ASSERT_TRUE(r.ok()) << g.since << " " << g.until << ": " << r.status();
    EXPECT_EQ(r->since, g.from) << g.since;
    EXPECT_EQ(r->until, g.to) << g.until;
  }
  struct Bad {
    std::string since, until, want;
  };
  for (const Bad& b : std::vector<Bad>{
           {"2h", "3h",
            "--until 3h (2026-12-01T10:00:00Z) is not later than --since 2h "
            "(2026-12-01T11:00:00Z): no time is in that range"},
           {"1m", "1m",
            "--until 1m (2026-12-01T12:59:00Z) is not later than --since 1m "
            "(2026-12-01T12:59:00Z)"},
           {"2026-12-01T13:00:00Z", "2026-12-01T13:00:00Z",
            "--until 2026-12-01T13:00:00Z is not later than --since "
            "2026-12-01T13:00:00Z:"},
           {"2026-12-01 13:00:00", "2026-12-01",
            "--until 2026-12-01 (2026-12-01T00:00:00Z) is not later than "
            "--since 2026-12-01 13:00:00 (2026-12-01T13:00:00Z)"},
           {"2026-13-45T00:00:00Z", "", "--since: want a time"},
           {"0s", "", "--since: want a time"},
           {"", "-1h", "--until: want a time"},
       }) {
    absl::StatusOr<TimeRange> r = ParseTimeRange(b.since, b.until, now);
    EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument)
        << b.since << " " << b.until;
    EXPECT_TRUE(absl::StrContains(r.status().message(), b.want))
        << b.since << " " << b.until << ": " << r.status();
  }
}

// The commands refuse such a range before they ask the CA: a usage error,
// not "not logged in".
TEST(SpctlRunTest, AnEmptyOrInvertedRangeIsAUsageError) {
  for (const std::vector<std::string>& args :
       std::vector<std::vector<std::string>>{
           {"sessions", "ls", "--since", "2h", "--until", "3h"},
           {"sessions", "ls", "--until", "1m", "--since", "1m"},
           {"audit", "ls", "--until", "1m", "--since", "1m"},
           {"audit", "ls", "--since", "2h", "--until", "3h"},
           {"audit", "export", "--since", "2h", "--until", "2h"}}) {
    const std::string line = absl::StrJoin(args, " ");
    SpctlArgs spctl;
    EXPECT_EQ(spctl.Run(args), kExitUsage)
        << line << ": " << spctl.errors.str();
    EXPECT_EQ(spctl.out.str(), "") << line;
    EXPECT_TRUE(absl::StrContains(spctl.errors.str(), "is not later than"))
        << line << ": " << spctl.errors.str();
  }
}

// Found by a probe: a file given by flag that could not be read gave no
// reason: `users add bob --password-file DIR` said "DIR: empty first
// line", a missing one "cannot read PATH", and `roles create -f DIR`
// "cannot read DIR". Each names the file and says why, before the CA is
// asked (no "not logged in").
TEST(SpctlRunTest, AFileGivenByFlagThatCannotBeReadSaysWhy) {
  const std::string dir = ::testing::TempDir() + "/spctl-a-directory";
  ASSERT_TRUE(mkdir(dir.c_str(), 0755) == 0 || errno == EEXIST);
  const std::string missing = ::testing::TempDir() + "/spctl-no-such-file";
  const std::string plain = ::testing::TempDir() + "/spctl-a-plain-file";
  std::ofstream(plain) << "name: x\n";
  const std::string no_dir = plain + "/role.yaml";
  struct Case {
    std::vector<std::string> args;
    std::string err;
  };
  const std::string is_dir = "spctl: cannot read " + dir + ": Is a directory\n";
  const std::string no_file =
      "spctl: cannot read " + missing + ": No such file or directory\n";
  for (const Case& c : std::vector<Case>{
           {{"users", "add", "bob", "--password-file", dir}, is_dir},
           {{"users", "add", "bob", "--password-file", missing}, no_file},
           {{"users", "reset-password", "bob", "--password-file", dir}, is_dir},
           {{"users", "reset-password", "bob", "--password-file", missing},
            no_file},
           {{"roles", "create", "-f", dir}, is_dir},
           {{"roles", "create", "-f", missing}, no_file},
           {{"roles", "create", "-f", no_dir},
            "spctl: cannot read " + no_dir + ": Not a directory\n"},
       }) {
    const std::string line = absl::StrJoin(c.args, " ");
    SpctlArgs spctl;
    EXPECT_EQ(spctl.Run(c.args), kExitError) << line;
    EXPECT_EQ(spctl.errors.str(), c.err) << line;
    EXPECT_EQ(spctl.out.str(), "") << line;
  }
}

// Found by a probe: `hosts add web01 --host-key DIR` sent the CA an empty
// key, as did an empty file: cli's own ReadFile read a directory as "".
// A key file that is a directory, empty or missing is refused, naming it,
// before the CA is asked (no "not logged in"), for hosts add, hosts edit
// and hosts sign.
TEST(SpctlRunTest, AKeyFileThatHoldsNoKeyIsRefusedBeforeTheCa) {
  const std::string dir = ::testing::TempDir() + "/spctl-key-directory";
  ASSERT_TRUE(mkdir(dir.c_str(), 0755) == 0 || errno == EEXIST);
  const std::string empty = ::testing::TempDir() + "/spctl-empty-key.pub";
  std::ofstream(empty) << " \n";
  const std::string missing = ::testing::TempDir() + "/spctl-no-key.pub";
  const std::vector<std::pair<std::string, std::string>> files = {
      {dir, "cannot read " + dir + ": Is a directory"},
      {empty, empty + " is empty: want an OpenSSH public key line (the "
                      "host's .pub file)"},
      {missing, "cannot read " + missing + ": No such file or directory"}};
  for (const auto& [file, why] : files) {
    for (const std::vector<std::string>& args :
         std::vector<std::vector<std::string>>{
             {"hosts", "add", "web01", "--address", "10.0.0.5", "--host-key",
              file},
             {"hosts", "edit", "web01", "--host-key", file},
             {"hosts", "sign", "web01", "--public-key", file}}) {
      const std::string line = absl::StrJoin(args, " ");
      SpctlArgs spctl;
      EXPECT_EQ(spctl.Run(args), kExitError) << line;
      EXPECT_EQ(spctl.errors.str(), "spctl: " + why + "\n") << line;
      EXPECT_EQ(spctl.out.str(), "") << line;
    }
  }
  // A key from a pipe (`--host-key <(...)`) is read, and goes on to the CA.
  const std::string fifo = ::testing::TempDir() + "/spctl-key-fifo";
  unlink(fifo.c_str());
  ASSERT_EQ(mkfifo(fifo.c_str(), 0600), 0);
  std::thread writer([&] {
    std::ofstream(fifo) << "ssh-ed25519 "
                           "AAAAC3NzaC1lZDI1NTE5AAAAIE5rH3TCFRB0yvHOjd2p6OJ/"
                           "YhH3aTnRkO3yUiUHyRbV web01\n";
  });
  SpctlArgs spctl;
  EXPECT_EQ(spctl.Run({"hosts", "sign", "web01", "--public-key", fifo}),
            kExitError);
  writer.join();
  EXPECT_TRUE(absl::StrContains(spctl.errors.str(), "run `sp login` first"))
      << spctl.errors.str();
}

}  // namespace
}  // namespace sallyport::cli
