// spctl roles' role files against the real CA: `-f -` reads a role from
// stdin; the edit diff shows only what changed; what `roles show` prints,
// in every --output, is a role file `roles edit -f` and `roles create -f`
// take back. Users, bindings, logins and errors: spctl_users_e2e_test.cc.
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "gtest/gtest.h"
#include "tests/e2e/spctl_users_e2e_fixture.h"

namespace sallyport::e2e {
namespace {

// Found by a tester: `roles create -f -` looked for a file named "-".
// `-f -` reads the role from stdin, for create, edit and their --dry-run.
TEST_F(SpctlUsersTest, RoleFilesAreReadFromStdinWithDashF) {
  auto dry = env_->Spctl({"roles", "create", "-f", "-", "--dry-run"}, "admin",
                         {}, kDevRole);
  EXPECT_TRUE(dry.ok()) << dry.Describe();
  EXPECT_TRUE(absl::StrContains(dry.out, "+name: \"dev\"")) << dry.out;
  auto created =
      env_->Spctl({"roles", "create", "-f", "-"}, "admin", {}, kDevRole);
  ASSERT_TRUE(created.ok()) << created.Describe();
  EXPECT_EQ(created.out, "Created role dev\n");
  std::string edited = kDevRole;
  edited.replace(edited.find("deploy"), 6, "ops");
  auto edit_dry = env_->Spctl({"roles", "edit", "dev", "-f", "-", "--dry-run"},
                              "admin", {}, edited);
  EXPECT_TRUE(edit_dry.ok()) << edit_dry.Describe();
  EXPECT_TRUE(absl::StrContains(edit_dry.out, "+  - \"ops\"")) << edit_dry.out;
  auto edit =
      env_->Spctl({"roles", "edit", "dev", "-f", "-"}, "admin", {}, edited);
  ASSERT_TRUE(edit.ok()) << edit.Describe();
  EXPECT_TRUE(absl::StrContains(env_->Spctl({"roles", "show", "dev"}).out,
                                "- \"ops\""));
  // The inventory is empty: created and edited, dev selects no host, and
  // spctl says so (roles ls did not); with a host it selects, it does not.
  const std::string none =
      "spctl: warning: role dev selects none of the 0 hosts in the "
      "inventory";
  EXPECT_TRUE(absl::StrContains(created.err, none)) << created.Describe();
  EXPECT_TRUE(absl::StrContains(edit.err, none)) << edit.Describe();
  ASSERT_TRUE(env_->Spctl({"hosts", "add", "db01", "--address", "127.0.0.1",
                           "--label", "env=prod"})
                  .ok());
  edited.replace(edited.find("ops"), 3, "dba");
  auto unselected =
      env_->Spctl({"roles", "edit", "dev", "-f", "-"}, "admin", {}, edited);
  EXPECT_TRUE(unselected.ok()) << unselected.Describe();
  EXPECT_TRUE(absl::StrContains(
      unselected.err, "role dev selects none of the 1 host in the inventory"))
      << unselected.Describe();
  ASSERT_TRUE(
      env_->Spctl({"hosts", "add", "web07", "--address", "127.0.0.1"}).ok());
  edited.replace(edited.find("dba"), 3, "ops");
  auto selected =
      env_->Spctl({"roles", "edit", "dev", "-f", "-"}, "admin", {}, edited);
  EXPECT_TRUE(selected.ok()) << selected.Describe();
  EXPECT_EQ(selected.err, "");
  // A role without selectors (an auditor's) is meant to select no host.
  auto no_hosts = env_->Spctl({"roles", "create", "-f", "-"}, "admin", {},
                              "name: audit-only\nlogins: [x]\n");
  EXPECT_TRUE(no_hosts.ok()) << no_hosts.Describe();
  EXPECT_EQ(no_hosts.err, "");
  // No editor set and no terminal: refused, saying what to do (it ran vi,
  // which flooded the output with escapes and failed).
  auto no_editor = env_->Spctl({"roles", "edit", "dev"}, "admin",
                               {{"EDITOR", ""}, {"VISUAL", ""}});
  EXPECT_EQ(no_editor.exit_code, 1) << no_editor.Describe();
  EXPECT_EQ(no_editor.out, "");
  EXPECT_TRUE(absl::StrContains(no_editor.err, "set EDITOR, or pass -f FILE"))
      << no_editor.Describe();
  // Bad YAML on stdin is named as stdin, with its line.
  auto bad = env_->Spctl({"roles", "create", "-f", "-"}, "admin", {},
                         "name: x\nlogins: [a]\nlogns: [b]\n");
  EXPECT_EQ(bad.exit_code, 2) << bad.Describe();
  EXPECT_TRUE(absl::StrContains(bad.err, "stdin:3: unknown key 'logns'"))
      << bad.err;
  auto empty = env_->Spctl({"roles", "create", "-f", "-"});
  EXPECT_EQ(empty.exit_code, 2) << empty.Describe();
  EXPECT_TRUE(absl::StrContains(empty.err, "stdin: the role needs a name"))
      << empty.err;
}

// Found by a tester: `users add bob --role login --role login` bound login,
// was refused the second binding and removed bob again. A role given twice
// is bound once.
TEST_F(SpctlUsersTest, ARoleGivenTwiceIsBoundOnce) {
  auto add = env_->Spctl({"users", "add", "bob", "--password-file", pwfile_,
                          "--role", "login", "--role", "login"});
  ASSERT_TRUE(add.ok()) << add.Describe();
  EXPECT_EQ(add.out, "Created user bob with roles login\n");
  auto bindings =
      env_->Spctl({"bindings", "ls", "--user", "bob", "--output", "json"});
  ASSERT_TRUE(bindings.ok()) << bindings.Describe();
  const std::vector<std::string> lines = absl::StrSplit(bindings.out, '\n');
  EXPECT_EQ(std::count_if(lines.begin(), lines.end(),
                          [](const std::string& line) {
                            return absl::StrContains(line, "\"role\":");
                          }),
            1)
      << bindings.out;
  EXPECT_TRUE(env_->Login("bob", kPassword).ok());
}

// Found by a tester: a role file without max_ttl, record and record_mode
// (the defaults) showed them as removed lines in `roles edit -f --dry-run`
// beside the one line the admin changed, and an unchanged file was an
// update. The diff shows only what changed.
TEST_F(SpctlUsersTest, TheEditDiffShowsOnlyWhatChanged) {
  const std::string lean =
      "name: lean\nlogins: [a]\nhosts: [{}]\nchannels: [shell, shell]\n";
  const std::string file = env_->WriteFile("lean.yaml", lean);
  ASSERT_TRUE(env_->Spctl({"roles", "create", "-f", file}).ok());
  auto same = env_->Spctl({"roles", "edit", "lean", "-f", file, "--dry-run"});
  EXPECT_TRUE(same.ok()) << same.Describe();
  EXPECT_EQ(same.out, "");
  same = env_->Spctl({"roles", "create", "-f", file, "--dry-run"});
  EXPECT_TRUE(same.ok()) << same.Describe();
  EXPECT_EQ(same.out, "");
  auto unchanged = env_->Spctl({"roles", "edit", "lean", "-f", file});
  EXPECT_TRUE(unchanged.ok()) << unchanged.Describe();
  EXPECT_EQ(unchanged.out, "No changes to role lean\n");

  const std::string changed = env_->WriteFile(
      "lean2.yaml", absl::StrReplaceAll(lean, {{"[a]", "[b]"}}));
  auto dry = env_->Spctl({"roles", "edit", "lean", "-f", changed, "--dry-run"});
  EXPECT_TRUE(dry.ok()) << dry.Describe();
  std::vector<std::string> changes;
  for (absl::string_view line : absl::StrSplit(dry.out, '\n')) {
    if (absl::StartsWith(line, "-") || absl::StartsWith(line, "+")) {
      changes.emplace_back(line);
    }
  }
  EXPECT_EQ(changes, (std::vector<std::string>{"-  - \"a\"", "+  - \"b\""}))
      << dry.out;
  ASSERT_TRUE(env_->Spctl({"roles", "edit", "lean", "-f", changed}).ok());
  EXPECT_TRUE(absl::StrContains(env_->Spctl({"roles", "show", "lean"}).out,
                                "max_ttl: 8h"));
}

// Found by a probe: `roles show dev > dev.yaml; roles edit dev -f dev.yaml`
// failed with "dev.yaml:14: 'created_at': expected a mapping for
// google.protobuf.Timestamp": show prints the output-only created_at and
// updated_at, and the file reader refused them. What `roles show` prints,
// in every --output, is taken back by `roles edit -f` and `roles create
// -f`; the two times are ignored (the CA sets them).
TEST_F(SpctlUsersTest, WhatRolesShowPrintsIsARoleFile) {
  ASSERT_TRUE(env_->Spctl({"roles", "create", "-f",
                           env_->WriteFile("dev.yaml", kDevRole)})
                  .ok());
  for (const std::string format : {"table", "yaml", "json"}) {
    auto show = env_->Spctl({"roles", "show", "dev", "--output", format});
    ASSERT_TRUE(show.ok()) << show.Describe();
    ASSERT_TRUE(absl::StrContains(show.out, "created_at")) << show.out;
    ASSERT_TRUE(absl::StrContains(show.out, "updated_at")) << show.out;
    const std::string file = env_->WriteFile("shown-" + format, show.out);
    auto same = env_->Spctl({"roles", "edit", "dev", "-f", file});
    EXPECT_TRUE(same.ok()) << format << ": " << same.Describe();
    EXPECT_EQ(same.out, "No changes to role dev\n") << format;
  }
  auto show = env_->Spctl({"roles", "show", "dev"});
  ASSERT_TRUE(show.ok()) << show.Describe();
  const std::string changed = env_->WriteFile(
      "changed.yaml",
      absl::StrReplaceAll(show.out, {{"\"developers\"", "\"developers!\""}}));
  auto edit = env_->Spctl({"roles", "edit", "dev", "-f", changed});
  ASSERT_TRUE(edit.ok()) << edit.Describe();
  EXPECT_EQ(edit.out, "Updated role dev\n");
  EXPECT_TRUE(absl::StrContains(env_->Spctl({"roles", "show", "dev"}).out,
                                "description: \"developers!\""));
  const std::string copy = env_->WriteFile(
      "copy.yaml",
      absl::StrReplaceAll(show.out, {{"name: \"dev\"", "name: \"dev2\""}}));
  auto create = env_->Spctl({"roles", "create", "-f", copy});
  ASSERT_TRUE(create.ok()) << create.Describe();
  EXPECT_EQ(create.out, "Created role dev2\n");
  // Read, not skipped: a time that is not one is refused with its line.
  const std::string bad = env_->WriteFile(
      "bad-time.yaml", "name: dev3\nlogins: [a]\ncreated_at: yesterday\n");
  auto refused = env_->Spctl({"roles", "create", "-f", bad});
  EXPECT_EQ(refused.exit_code, 2) << refused.Describe();
  EXPECT_TRUE(absl::StrContains(
      refused.err, bad + ":3: 'created_at': expected an RFC 3339 time"))
      << refused.err;
}

}  // namespace
}  // namespace sallyport::e2e
