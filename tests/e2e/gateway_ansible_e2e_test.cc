// Ansible through the gateway, set up as docs/clients.md tells users
// (issue 13: "point ... Ansible at web01 and have it go through the bastion
// and be recorded"): Debian's ansible-core with its stock ssh connection
// plugin, ControlMaster on as Ansible sets it, an inventory that names the
// inventory host and the plain login (the `sp config` form, not
// LOGIN+HOST), and the user's ssh config holding only `sp`'s Include line.
// A playbook gathers facts, runs a command, copies a file and sets a
// file's owner to `{{ ansible_user }}` (which the LOGIN+HOST form broke);
// each step is in the recording of alice's web01 sessions. With pipelining
// and a role with `record_input: true`, the module Ansible sends (its
// AnsiballZ wrapper, on stdin) is recorded too.
#include <sys/stat.h>

#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "tests/e2e/gateway_e2e_env.h"
#include "tests/e2e/gateway_ship_util.h"
#include "tests/e2e/sp_home_e2e_fixture.h"
#include "tests/harness/subprocess.h"

namespace sallyport::testing {
namespace {

class GatewayAnsibleE2eTest : public SpHomeE2eTest {
 protected:
  // Alice's role records what a command reads (record_input), as
  // docs/clients.md advises for automation.
  BastionFixture::Options Options() override {
    BastionFixture::Options o = SpHomeE2eTest::Options();
    for (admin::v1::Role& role : o.roles) {
      if (role.name() == "dev") role.set_record_input(true);
    }
    return o;
  }

  void SetUp() override {
    SpHomeE2eTest::SetUp();
    if (HasFatalFailure()) return;
    dir_ = env_->File("ansible");
    ASSERT_EQ(mkdir(dir_.c_str(), 0700), 0);
    ASSERT_EQ(mkdir((dir_ + "/remote-tmp").c_str(), 0700), 0);
    // The inventory host by its name and the login as ansible_user.
    ASSERT_TRUE(WriteFile(dir_ + "/hosts",
                          absl::StrCat("[web]\nweb01 ansible_user=",
                                       env_->fixture().target_login(),
                                       " ansible_python_interpreter=/usr/bin/"
                                       "python3\n"))
                    .ok());
    // Ansible's ssh_args default, plus the user's config (stock ssh reads
    // ~/.ssh/config from the passwd home, not $HOME) and no prompt. The
    // temporary directories are the test's own, not ~root's.
    ASSERT_TRUE(
        WriteFile(dir_ + "/ansible.cfg",
                  absl::StrCat(
                      "[defaults]\ninventory = ", dir_, "/hosts\n",
                      "remote_tmp = ", dir_, "/remote-tmp\n", "local_tmp = ",
                      dir_, "/local-tmp\n", "host_key_checking = True\n",
                      "[ssh_connection]\nssh_args = -C -o ControlMaster=auto "
                      "-o ControlPersist=60s -F ",
                      user_config_,
                      " -o StrictHostKeyChecking=yes -o BatchMode=yes\n",
                      "control_path_dir = ", dir_, "/cp\n"))
            .ok());
  }

  RunResult Ansible(const std::vector<std::string>& argv,
                    bool pipelining = false) const {
    RunOptions o;
    o.env["ANSIBLE_CONFIG"] = dir_ + "/ansible.cfg";
    o.env["ANSIBLE_PIPELINING"] = pipelining ? "True" : "False";
    o.env["ANSIBLE_NOCOLOR"] = "1";
    o.env["ANSIBLE_FORCE_COLOR"] = "0";
    o.cwd = dir_;
    o.timeout = absl::Seconds(180);
    return Run(argv, o);
  }

  std::string dir_;
};

TEST_F(GatewayAnsibleE2eTest, APlaybookRunsThroughTheGatewayAndIsRecorded) {
  const std::string src = env_->File("payload");
  ASSERT_TRUE(GatewayE2eEnv::RandomFile(src, 64 << 10).ok());
  const std::string dest = env_->File("copied");
  const std::string owned = env_->File("owned");
  ASSERT_TRUE(
      WriteFile(dir_ + "/site.yml",
                absl::StrCat("- hosts: web\n"
                             "  gather_facts: true\n"
                             "  tasks:\n"
                             "    - name: marker\n"
                             "      shell: echo ansible-marker-$((6*7))\n"
                             "      register: out\n"
                             "    - name: show\n"
                             "      debug: var=out.stdout\n"
                             "    - name: copy\n"
                             "      copy: src=",
                             src, " dest=", dest,
                             "\n"
                             "    - name: owner is the login\n"
                             "      file: path=",
                             owned,
                             " state=touch owner={{ ansible_user }}\n"
                             "    - name: facts say who\n"
                             "      debug: var=ansible_facts.user_id\n"))
          .ok());
  RunResult play = Ansible({"ansible-playbook", dir_ + "/site.yml"});
  ASSERT_TRUE(play.ok()) << play.Describe() << env_->fixture().GatewayLog();
  EXPECT_TRUE(
      absl::StrContains(play.out, "\"out.stdout\": \"ansible-marker-42\""))
      << play.out;
  EXPECT_TRUE(absl::StrContains(
      play.out, absl::StrCat("\"ansible_facts.user_id\": \"",
                             env_->fixture().target_login(), "\"")))
      << play.out;
  EXPECT_TRUE(absl::StrContains(play.out, "failed=0")) << play.out;
  EXPECT_TRUE(absl::StrContains(play.out, "unreachable=0")) << play.out;
  EXPECT_EQ(GatewayE2eEnv::Sha256(dest), GatewayE2eEnv::Sha256(src));
  struct stat st;
  ASSERT_EQ(stat(owned.c_str(), &st), 0);

  // Recorded: the shell module's run (its JSON result holds the output),
  // and the module files Ansible put by SFTP (counted: SFTP content is not
  // kept) and the copied file's bytes.
  EXPECT_TRUE(WaitForChannel([](const RecordedChannel& c) {
    return c.HasRequest("exec", "AnsiballZ_command.py") &&
           absl::StrContains(c.output, "ansible-marker-42");
  }));
  EXPECT_TRUE(WaitForChannel([](const RecordedChannel& c) {
    return c.HasRequest("exec", "AnsiballZ_setup.py") &&
           absl::StrContains(c.output, "ansible_facts");
  }));
  EXPECT_TRUE(WaitForChannel([](const RecordedChannel& c) {
    return c.HasRequest("subsystem", "sftp") && c.bytes_input >= (64u << 10);
  }));
  // Every jump was recorded; none denied.
  EXPECT_FALSE(Events(env_->fixture(), "authz.jump").empty());
  EXPECT_TRUE(Events(env_->fixture(), "authz.denied").empty());
}

// With pipelining Ansible writes the module to the interpreter's stdin;
// record_input: true keeps it in the recording beside the result.
TEST_F(GatewayAnsibleE2eTest, WithPipeliningTheModuleSentIsRecorded) {
  RunResult adhoc =
      Ansible({"ansible", "web01", "-m", "shell", "-a", "echo piped-$((6*7))"},
              /*pipelining=*/true);
  ASSERT_TRUE(adhoc.ok()) << adhoc.Describe() << env_->fixture().GatewayLog();
  EXPECT_TRUE(absl::StrContains(adhoc.out, "piped-42")) << adhoc.out;
  EXPECT_TRUE(WaitForChannel([](const RecordedChannel& c) {
    return c.HasRequest("exec", "/usr/bin/python3") &&
           absl::StrContains(c.input, "_ansiballz_main") &&
           absl::StrContains(c.output, "piped-42");
  }));
}

}  // namespace
}  // namespace sallyport::testing
