// spctl users / roles / bindings against the real CA (issue 15 "Done
// when"): a user added and bound to a role logs in and gets the role's
// principals; a disabled user cannot log in; unlock ends a lockout; a role
// edit changes the next certificate; bad input gets clear errors; list
// verbs print JSON a JSON parser accepts. Role files (stdin, the edit
// diff, `roles show` output taken back): spctl_roles_e2e_test.cc.
#include <sys/stat.h>

#include <algorithm>
#include <regex>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "ca/totp.h"
#include "gtest/gtest.h"
#include "storage/open.h"
#include "storage/store.h"
#include "tests/e2e/spctl_users_e2e_fixture.h"
#include "tests/harness/listening_process.h"
#include "tests/harness/subprocess.h"

namespace sallyport::e2e {
namespace {

TEST_F(SpctlUsersTest, AddedUserBoundToRoleLogsInWithTheRolesPrincipals) {
  const std::string role = env_->WriteFile("dev.yaml", kDevRole);
  auto dry = env_->Spctl({"roles", "create", "-f", role, "--dry-run"});
  EXPECT_TRUE(dry.ok()) << dry.Describe();
  EXPECT_TRUE(absl::StrContains(dry.out, "+name: \"dev\"")) << dry.out;
  // --dry-run changed nothing.
  EXPECT_EQ(env_->Spctl({"roles", "show", "dev"}).exit_code, 3);

  auto created = env_->Spctl({"roles", "create", "-f", role});
  ASSERT_TRUE(created.ok()) << created.Describe();
  // roles ls: a selector without terms selects every host, shown as (all)
  // (it read "(none)", the opposite); no selector at all selects none.
  ASSERT_TRUE(env_->Spctl({"roles", "create", "-f",
                           env_->WriteFile("any.yaml",
                                           "name: any\nlogins: [x]\n"
                                           "hosts: [{}]\n")})
                  .ok());
  ASSERT_TRUE(env_->Spctl({"roles", "create", "-f",
                           env_->WriteFile("nohost.yaml",
                                           "name: nohost\nlogins: [x]\n")})
                  .ok());
  // Several name globs are alternatives: in braces, not joined with the
  // '+' that joins what must all match.
  ASSERT_TRUE(env_->Spctl({"roles", "create", "-f",
                           env_->WriteFile("globs.yaml",
                                           "name: globs\nlogins: [x]\n"
                                           "hosts: [{labels: {env: prod}, "
                                           "name_globs: [web*, db*]}]\n")})
                  .ok());
  auto roles = env_->Spctl({"roles", "ls"});
  EXPECT_TRUE(absl::StrContains(roles.out, " env=prod+{web*,db*} "))
      << roles.out;
  EXPECT_TRUE(
      std::regex_search(roles.out, std::regex(R"(\nany\s+x\s+\(all\)\s)")))
      << roles.out;
  EXPECT_TRUE(
      std::regex_search(roles.out, std::regex(R"(\nnohost\s+x\s+\(none\)\s)")))
      << roles.out;
  EXPECT_TRUE(absl::StrContains(roles.out, "env=dev web*")) << roles.out;
  auto add = env_->Spctl(
      {"users", "add", "bob", "--password-file", pwfile_, "--role", "dev"});
  ASSERT_TRUE(add.ok()) << add.Describe();

  auto login = env_->Login("bob", kPassword);
  ASSERT_TRUE(login.ok()) << login.Describe();
  EXPECT_EQ(Principals("bob"), "deploy,ubuntu");

  // users ls / show / bindings ls see it; JSON parses.
  auto ls = env_->Spctl({"users", "ls"});
  EXPECT_TRUE(
      std::regex_search(ls.out, std::regex(R"(\nbob\s+active\s+dev\s)")))
      << ls.out;
  for (const auto& verb :
       std::vector<std::vector<std::string>>{{"users", "ls"},
                                             {"roles", "ls"},
                                             {"bindings", "ls"},
                                             {"hosts", "ls"},
                                             {"certs", "ls"},
                                             {"tokens", "ls"},
                                             {"ca", "status"}}) {
    std::vector<std::string> args = verb;
    args.push_back("--output");
    args.push_back("json");
    auto r = env_->Spctl(args);
    EXPECT_TRUE(r.ok()) << r.Describe();
    EXPECT_TRUE(IsJson(r.out)) << absl::StrJoin(verb, " ") << ":\n" << r.out;
    EXPECT_FALSE(IsJson(r.out + "}"));  // the parser does refuse junk
  }
  auto yaml = env_->Spctl({"users", "show", "bob", "--output", "yaml"});
  EXPECT_TRUE(absl::StrContains(yaml.out, "name: \"bob\"")) << yaml.out;
  // The roles are there as in the table (they were left out).
  EXPECT_TRUE(
      std::regex_search(yaml.out, std::regex(R"(\nroles:\s*- "dev"\n)")))
      << yaml.out;
  auto ls_json = env_->Spctl({"users", "ls", "--output", "json"});
  EXPECT_TRUE(std::regex_search(
      ls_json.out,
      std::regex(R"("name": "bob",[^}]*"roles": \[\s*"dev"\s*\])")))
      << ls_json.out;
  auto bindings = env_->Spctl({"bindings", "ls", "--user", "bob"});
  EXPECT_TRUE(std::regex_search(bindings.out, std::regex(R"(\nbob\s+dev\s)")))
      << bindings.out;
  auto edit = env_->Spctl({"users", "edit", "bob", "--display-name", "Bob B"});
  EXPECT_TRUE(edit.ok()) << edit.Describe();
  EXPECT_TRUE(absl::StrContains(env_->Spctl({"users", "show", "bob"}).out,
                                "Display name:    Bob B"));

  // A role edit in $EDITOR changes the next certificate.
  auto dry_edit = env_->Spctl({"roles", "edit", "dev", "--dry-run"}, "admin",
                              {{"EDITOR", "sed -i s/deploy/ops/"}});
  EXPECT_TRUE(dry_edit.ok()) << dry_edit.Describe();
  EXPECT_TRUE(absl::StrContains(dry_edit.out, "-  - \"deploy\""))
      << dry_edit.out;
  EXPECT_TRUE(absl::StrContains(dry_edit.out, "+  - \"ops\"")) << dry_edit.out;
  ASSERT_TRUE(env_->Login("bob", kPassword).ok());
  EXPECT_EQ(Principals("bob"), "deploy,ubuntu");  // dry run: unchanged
  auto edited = env_->Spctl({"roles", "edit", "dev"}, "admin",
                            {{"EDITOR", "sed -i s/deploy/ops/"}});
  ASSERT_TRUE(edited.ok()) << edited.Describe();
  ASSERT_TRUE(env_->Login("bob", kPassword).ok());
  EXPECT_EQ(Principals("bob"), "ops,ubuntu");
  // An edit the file check refuses is kept for the admin to fix (it was
  // deleted with the temporary file), and its path is named.
  auto broken = env_->Spctl({"roles", "edit", "dev"}, "admin",
                            {{"EDITOR", "sed -i s/max_ttl:/max_tt:/"}});
  EXPECT_EQ(broken.exit_code, 2) << broken.Describe();
  std::smatch kept;
  ASSERT_TRUE(std::regex_search(broken.err, kept,
                                std::regex(R"(your edit is kept in (\S+):)")))
      << broken.Describe();
  EXPECT_TRUE(absl::StrContains(
      sallyport::testing::ReadFileOrEmpty(kept[1].str()), "max_tt:"))
      << kept[1].str();
  auto fixed = env_->Spctl({"roles", "edit", "dev", "-f", kept[1].str()});
  EXPECT_EQ(fixed.exit_code, 2) << fixed.Describe();  // still the typo

  // Another admin changes the role while this edit is open in $EDITOR: the
  // edit is refused, not applied over their change (it replaced it), and
  // kept.
  const std::string editor =
      absl::StrCat("EDITOR='sed -i s/ubuntu/debian/' ",
                   sallyport::testing::RunfilePath("cli/spctl"),
                   " roles edit dev >/dev/null && sed -i s/ops/web/");
  auto raced =
      env_->Spctl({"roles", "edit", "dev"}, "admin", {{"EDITOR", editor}});
  EXPECT_EQ(raced.exit_code, 1) << raced.Describe();
  EXPECT_TRUE(absl::StrContains(
      raced.err, "was changed by someone else while you edited it"))
      << raced.Describe();
  ASSERT_TRUE(std::regex_search(raced.err, kept,
                                std::regex(R"(your edit is kept in (\S+):)")))
      << raced.Describe();
  EXPECT_TRUE(absl::StrContains(
      sallyport::testing::ReadFileOrEmpty(kept[1].str()), "\"web\""));
  ASSERT_TRUE(env_->Login("bob", kPassword).ok());
  EXPECT_EQ(Principals("bob"), "debian,ops");

  // Unbinding the role leaves bob with no logins: login refused.
  ASSERT_TRUE(env_->Spctl({"bindings", "rm", "bob", "dev"}).ok());
  EXPECT_FALSE(env_->Login("bob", kPassword).ok());
  ASSERT_TRUE(env_->Spctl({"bindings", "add", "bob", "dev"}).ok());
  EXPECT_TRUE(env_->Login("bob", kPassword).ok());

  // rm: the role, then the user.
  EXPECT_TRUE(env_->Spctl({"roles", "rm", "dev"}).ok());
  EXPECT_EQ(env_->Spctl({"roles", "show", "dev"}).exit_code, 3);
  EXPECT_TRUE(env_->Spctl({"users", "rm", "bob"}).ok());
  auto gone = env_->Spctl({"users", "show", "bob"});
  EXPECT_EQ(gone.exit_code, 3) << gone.Describe();
  EXPECT_TRUE(absl::StrContains(gone.err, "not found")) << gone.err;
}

TEST_F(SpctlUsersTest, DisableEnableUnlockResetPasswordAndTotp) {
  ASSERT_TRUE(env_->Spctl({"users", "add", "carol", "--password-file", pwfile_,
                           "--role", "login"})
                  .ok());
  ASSERT_TRUE(env_->Login("carol", kPassword).ok());

  // Disabled: refused. Enabled: back.
  ASSERT_TRUE(env_->Spctl({"users", "disable", "carol"}).ok());
  auto disabled = env_->Login("carol", kPassword);
  EXPECT_FALSE(disabled.ok()) << disabled.Describe();
  EXPECT_TRUE(absl::StrContains(env_->Spctl({"users", "ls"}).out, "disabled"));
  ASSERT_TRUE(env_->Spctl({"users", "enable", "carol"}).ok());
  EXPECT_TRUE(env_->Login("carol", kPassword).ok());

  // Five wrong passwords lock carol; unlock ends the lockout.
  for (int i = 0; i < 5; ++i) EXPECT_FALSE(env_->Login("carol", "wrong").ok());
  auto locked = env_->Login("carol", kPassword);
  EXPECT_FALSE(locked.ok()) << locked.Describe();
  EXPECT_TRUE(absl::StrContains(locked.err, "locked")) << locked.Describe();
  // users show says where and until when (it showed no lockout at all).
  auto shown = env_->Spctl({"users", "show", "carol"});
  EXPECT_TRUE(std::regex_search(
      shown.out, std::regex(R"(\nState:\s+locked out at (\S+) until \d{4}-)")))
      << shown.out;
  EXPECT_TRUE(std::regex_search(
      shown.out, std::regex(R"(\nLocked out:\s+at \S+ until \d{4}-.* UTC\n)")))
      << shown.out;
  auto shown_yaml = env_->Spctl({"users", "show", "carol", "--output", "yaml"});
  EXPECT_TRUE(std::regex_search(
      shown_yaml.out,
      std::regex(R"(\nlockouts:\s*- source: "\S+"\s+locked_until: \d{4}-)")))
      << shown_yaml.out;
  auto unlock = env_->Spctl({"users", "unlock", "carol"});
  ASSERT_TRUE(unlock.ok()) << unlock.Describe();
  EXPECT_TRUE(
      absl::StartsWith(unlock.out, "Unlocked user carol (locked out at "))
      << unlock.out;
  EXPECT_TRUE(absl::StrContains(env_->Spctl({"users", "show", "carol"}).out,
                                "Locked out:      no\n"));
  // Unlocking a user who is not locked out says so (it said "Unlocked").
  auto again = env_->Spctl({"users", "unlock", "carol"});
  EXPECT_TRUE(again.ok()) << again.Describe();
  EXPECT_EQ(again.out, "User carol was not locked out\n");
  EXPECT_TRUE(env_->Login("carol", kPassword).ok());

  // reset-password without a file prints a random password that works.
  auto reset = env_->Spctl({"users", "reset-password", "carol"});
  ASSERT_TRUE(reset.ok()) << reset.Describe();
  std::smatch m;
  ASSERT_TRUE(std::regex_search(reset.out, m,
                                std::regex(R"(New password for carol: (\S+))")))
      << reset.out;
  std::string fresh = m[1].str();
  EXPECT_FALSE(env_->Login("carol", kPassword).ok());
  EXPECT_TRUE(env_->Login("carol", fresh).ok());
  // --output json|yaml is honoured (it printed the text line).
  auto reset_json =
      env_->Spctl({"users", "reset-password", "carol", "--output", "json"});
  ASSERT_TRUE(reset_json.ok()) << reset_json.Describe();
  EXPECT_TRUE(IsJson(reset_json.out)) << reset_json.out;
  EXPECT_TRUE(absl::StrContains(reset_json.out, "\"generated\": true"))
      << reset_json.out;
  ASSERT_TRUE(std::regex_search(reset_json.out, m,
                                std::regex(R"re("password": "([^"]+)")re")))
      << reset_json.out;
  fresh = m[1].str();
  EXPECT_TRUE(env_->Login("carol", fresh).ok());
  auto set_yaml = env_->Spctl({"users", "reset-password", "carol",
                               "--password-file", pwfile_, "--output", "yaml"});
  ASSERT_TRUE(set_yaml.ok()) << set_yaml.Describe();
  EXPECT_EQ(set_yaml.out,
            "user: \"carol\"\ngenerated: false\npassword: \"\"\n");
  fresh = kPassword;
  EXPECT_TRUE(env_->Login("carol", fresh).ok());

  // TOTP: the URI's secret makes codes the CA accepts; remove drops it.
  auto totp = env_->Spctl({"users", "totp-enroll", "carol"});
  ASSERT_TRUE(totp.ok()) << totp.Describe();
  ASSERT_TRUE(std::regex_search(
      totp.out, m, std::regex(R"(otpauth://totp/\S*secret=([A-Z2-7]+))")))
      << totp.out;
  EXPECT_TRUE(absl::StrContains(totp.out, "\u2588")) << "no QR code";
  auto secret = ca::Base32Decode(m[1].str());
  ASSERT_TRUE(secret.ok()) << secret.status();
  EXPECT_FALSE(env_->Login("carol", fresh).ok());  // code required now
  const std::string code = ca::TotpCode(*secret, absl::Now());
  auto with_code = env_->Login("carol", fresh, {"--otp", code});
  EXPECT_TRUE(with_code.ok()) << with_code.Describe();
  ASSERT_TRUE(env_->Spctl({"users", "totp-remove", "carol"}).ok());
  EXPECT_TRUE(env_->Login("carol", fresh).ok());
}

TEST_F(SpctlUsersTest, BadInputGetsClearErrors) {
  // Unknown user: exit 3 and the name.
  auto unknown = env_->Spctl({"users", "show", "nobody"});
  EXPECT_EQ(unknown.exit_code, 3) << unknown.Describe();
  EXPECT_TRUE(absl::StrContains(unknown.err, "nobody")) << unknown.err;
  auto bind = env_->Spctl({"bindings", "add", "nobody", "login"});
  EXPECT_EQ(bind.exit_code, 3) << bind.Describe();

  // Bad YAML: file name and line number of the bad key; exit 2, as for a
  // value the CA refuses (it was 1).
  const std::string bad = env_->WriteFile(
      "bad.yaml", "name: x\nlogins: [a]\nlogns: [b]\nchannels: [shell]\n");
  auto r = env_->Spctl({"roles", "create", "-f", bad});
  EXPECT_EQ(r.exit_code, 2) << r.Describe();
  EXPECT_TRUE(absl::StrContains(r.err, bad + ":3: unknown key 'logns'"))
      << r.err;
  const std::string broken =
      env_->WriteFile("broken.yaml", "name: x\nlogins: [a\n");
  r = env_->Spctl({"roles", "create", "-f", broken});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_TRUE(std::regex_search(r.err, std::regex(broken + R"(:\d+)")))
      << r.err;
  // A file given by flag that cannot be read: named, with the reason (a
  // directory said "cannot read DIR", or for a password "DIR: empty first
  // line"; a missing password file "cannot read PATH").
  ASSERT_TRUE(env_->Spctl({"roles", "create", "-f",
                           env_->WriteFile("dev.yaml", kDevRole)})
                  .ok());
  const std::string dir = env_->Path("a-directory");
  ASSERT_EQ(mkdir(dir.c_str(), 0755), 0);
  const std::string missing = env_->Path("no-such-file");
  for (const auto& [file, why] :
       std::vector<std::pair<std::string, std::string>>{
           {dir, "Is a directory"}, {missing, "No such file or directory"}}) {
    for (const std::vector<std::string>& args :
         std::vector<std::vector<std::string>>{
             {"roles", "create", "-f", file},
             {"roles", "edit", "dev", "-f", file},
             {"users", "add", "bob", "--password-file", file},
             {"users", "reset-password", "bob", "--password-file", file}}) {
      r = env_->Spctl(args);
      EXPECT_EQ(r.exit_code, 1) << r.Describe();
      EXPECT_EQ(r.err, "spctl: cannot read " + file + ": " + why + "\n")
          << absl::StrJoin(args, " ");
    }
  }
  EXPECT_EQ(env_->Spctl({"users", "show", "bob"}).exit_code, 3);

  // --ca given empty (an unset shell variable) is a usage error, before or
  // after the verb; it went on with the CA of the last login. `--ca=` too
  // (CLI11 took the next word as the CA: "unknown command 'spctl ls'").
  for (const std::vector<std::string>& args :
       std::vector<std::vector<std::string>>{{"--ca", "", "users", "ls"},
                                             {"users", "ls", "--ca", ""},
                                             {"--ca=", "users", "ls"},
                                             {"users", "ls", "--ca="}}) {
    r = env_->Spctl(args);
    EXPECT_EQ(r.exit_code, 2) << r.Describe();
    EXPECT_EQ(r.err, "spctl: --ca must not be empty\n") << r.Describe();
    EXPECT_EQ(r.out, "");
  }
  // Usage errors: exit 2 with the list of commands.
  auto usage = env_->Spctl({"frobnicate"});
  EXPECT_EQ(usage.exit_code, 2) << usage.Describe();
  EXPECT_TRUE(absl::StrContains(usage.err, "users add")) << usage.err;
  EXPECT_EQ(env_->Spctl({"users", "add"}).exit_code, 2);

  auto version = env_->Spctl({"--version"});
  EXPECT_TRUE(version.ok());
  EXPECT_TRUE(absl::StartsWith(version.out, "spctl ")) << version.out;
  auto help = env_->Spctl({"--help"});
  EXPECT_TRUE(absl::StrContains(help.out, "SALLYPORT_HOME")) << help.out;

  // completion bash is valid bash.
  auto completion = env_->Spctl({"completion", "bash"});
  ASSERT_TRUE(completion.ok()) << completion.Describe();
  const std::string script = env_->WriteFile("spctl.bash", completion.out);
  auto syntax = sallyport::testing::RunCommand({"bash", "-n", script});
  ASSERT_TRUE(syntax.ok());
  EXPECT_TRUE(syntax->ok()) << syntax->Describe();
  EXPECT_TRUE(absl::StrContains(completion.out, "\"users\") words=\"add ls"))
      << completion.out;
  auto zsh = env_->Spctl({"completion", "zsh"});
  EXPECT_TRUE(zsh.ok());
  EXPECT_TRUE(absl::StrContains(zsh.out, "bashcompinit"));
}

// Found by trying spctl by hand: `users add bob --role nosuchrole` created
// bob without any role and then failed; and names with a space, a control
// character or a leading '-' were taken.
TEST_F(SpctlUsersTest, AddWithAnUnknownRoleOrABadNameCreatesNothing) {
  auto r = env_->Spctl({"users", "add", "bob", "--role", "nosuchrole"});
  EXPECT_EQ(r.exit_code, 3) << r.Describe();
  EXPECT_TRUE(absl::StrContains(r.err, "nosuchrole")) << r.err;
  EXPECT_TRUE(absl::StrContains(r.err, "bob was not created")) << r.err;
  EXPECT_EQ(env_->Spctl({"users", "show", "bob"}).exit_code, 3);

  for (const std::string& name :
       {std::string("bad user"), std::string("a\x01b"), std::string("-rf"),
        std::string("alice@corp"), std::string(65, 'u')}) {
    r = env_->Spctl({"users", "add", "--", name});
    // The CA's INVALID_ARGUMENT is a usage error (it was exit 1).
    EXPECT_EQ(r.exit_code, 2) << name << ": " << r.Describe();
    EXPECT_TRUE(absl::StrContains(r.err, ": user name: ")) << r.err;
  }
  // Not UTF-8: refused by spctl, naming the argument (protobuf logged an
  // error and the CA got an empty name).
  r = env_->Spctl({"users", "add", "\xff"});
  EXPECT_EQ(r.exit_code, 2) << r.Describe();
  EXPECT_EQ(r.err, "spctl: NAME: not valid UTF-8: \"\\xff\"\n");
  r = env_->Spctl({"users", "add", "bob", "--display-name", "B\xc3"});
  EXPECT_EQ(r.exit_code, 2) << r.Describe();
  EXPECT_TRUE(absl::StrContains(r.err, "--display-name: not valid UTF-8"))
      << r.err;
  const std::string latin1 = env_->WriteFile("latin1", "p\xe4ssw\xf6rd-long\n");
  r = env_->Spctl({"users", "add", "bob", "--password-file", latin1});
  EXPECT_EQ(r.exit_code, 1) << r.Describe();
  EXPECT_TRUE(absl::StrContains(r.err, "first line is not valid UTF-8"))
      << r.err;
  EXPECT_FALSE(absl::StrContains(r.err, "libprotobuf")) << r.err;
  auto ls = env_->Spctl({"users", "ls"});
  EXPECT_TRUE(ls.ok()) << ls.Describe();
  EXPECT_FALSE(absl::StrContains(ls.out, "bad user")) << ls.out;
  EXPECT_TRUE(env_->Spctl({"users", "add", std::string(64, 'u')}).ok());
}

// A display name and a label value stored before the CA refused
// bidirectional and invisible characters in them are shown, escaped, by
// `users ls`, `users show`, `hosts ls`, `hosts show` (and a host key's
// comment there) and `roles ls` (a selector's label): "Mallory" +
// RIGHT-TO-LEFT OVERRIDE + "nimdA" read as "MalloryAdmin", and a value
// with a zero-width space read as "prod". The CA now refuses both on
// input; text in other scripts stays as it is.
TEST_F(SpctlUsersTest, StoredBidiAndInvisibleCharactersAreShownEscaped) {
  {
    absl::StatusOr<std::unique_ptr<storage::Store>> store =
        storage::OpenStore(env_->ca().store_url());
    ASSERT_TRUE(store.ok()) << store.status();
    storage::User user;
    user.name = "mallory";
    user.display_name =
        "\xd0\x9c\xd1\x8d\xd0\xbb\xd0\xbb\xd0\xbe\xd1\x80\xd0\xb8 "
        "Mallory\xe2\x80\xae"
        "nimdA";
    ASSERT_TRUE((*store)->CreateUser(user).ok());
    storage::Host host;
    host.name = "web01";
    host.address = "10.0.0.5";
    host.labels = {{"env", "pr\xe2\x80\x8bod"},
                   {"team", "\xe8\xbf\x90\xe7\xbb\xb4"}};
    host.host_key =
        "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIDeYHbXbqgFiqLDMbgm5O4E3PNVoe1Nm"
        "ZqBgVeEFyBrE web01\xe2\x80\xae"
        "yek";
    ASSERT_TRUE((*store)->CreateHost(host).ok());
    storage::Role role;
    role.name = "prod-ops";
    role.logins = {"root"};
    storage::HostSelector selector;
    selector.labels = {{"env", "pr\xe2\x80\x8bod"}};
    role.hosts = {selector};
    role.channels = {storage::ChannelKind::kShell};
    ASSERT_TRUE((*store)->CreateRole(role).ok());
  }
  const std::string shown_name =
      "\xd0\x9c\xd1\x8d\xd0\xbb\xd0\xbb\xd0\xbe\xd1\x80\xd0\xb8 "
      "Mallory\\xe2\\x80\\xaenimdA";
  const std::string shown_labels =
      "env=pr\\xe2\\x80\\x8bod,team=\xe8\xbf\x90\xe7\xbb\xb4";
  struct Shown {
    std::vector<std::string> args;
    std::string want;    // escaped
    std::string hidden;  // never printed as it is
  };
  for (const Shown& c : {
           Shown{{"users", "ls"}, shown_name, "\xe2\x80\xae"},
           Shown{{"users", "show", "mallory"}, shown_name, "\xe2\x80\xae"},
           Shown{{"hosts", "ls"}, shown_labels, "\xe2\x80\x8b"},
           Shown{{"hosts", "show", "web01"}, shown_labels, "\xe2\x80\x8b"},
           Shown{{"hosts", "show", "web01"},
                 "web01\\xe2\\x80\\xaeyek",
                 "\xe2\x80\xae"},
           Shown{{"roles", "ls"}, "env=pr\\xe2\\x80\\x8bod", "\xe2\x80\x8b"},
       }) {
    RunResult r = env_->Spctl(c.args);
    ASSERT_TRUE(r.ok()) << r.Describe();
    EXPECT_TRUE(absl::StrContains(r.out, c.want)) << r.out;
    EXPECT_FALSE(absl::StrContains(r.out, c.hidden)) << r.out;
  }
  // New ones are refused.
  RunResult add = env_->Spctl({"users", "add", "eve", "--display-name",
                               "Eve\xe2\x80\xae"
                               "nimdA"});
  EXPECT_EQ(add.exit_code, 2) << add.Describe();
  EXPECT_TRUE(absl::StrContains(add.err, "bidirectional controls")) << add.err;
}

TEST_F(SpctlUsersTest, WithoutLoginSpctlSaysRunSpLogin) {
  auto r = env_->Spctl({"users", "ls"}, "nobody-logged-in");
  EXPECT_EQ(r.exit_code, 1) << r.Describe();
  EXPECT_TRUE(absl::StrContains(r.err, "run `sp login` first")) << r.err;
}

}  // namespace
}  // namespace sallyport::e2e
