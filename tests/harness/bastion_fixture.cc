// BastionFixture: the CA, users, policy, sshd targets and client files; the
// gateways are in bastion_fixture_gateway.cc.
#include "tests/harness/bastion_fixture.h"

#include <grpcpp/grpcpp.h>
#include <sys/stat.h>

#include <fstream>
#include <iostream>
#include <regex>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "base/address_list.h"
#include "ca/tls_material.h"
#include "gtest/gtest.h"
#include "tests/harness/net_util.h"

namespace sallyport::testing {
namespace {

constexpr char kAdmin[] = "admin";

absl::Status FromGrpc(const std::string& what, const grpc::Status& st) {
  if (st.ok()) return absl::OkStatus();
  return absl::Status(static_cast<absl::StatusCode>(st.error_code()),
                      absl::StrCat(what, ": ", st.error_message()));
}

std::unique_ptr<grpc::ClientContext> Context() {
  auto ctx = std::make_unique<grpc::ClientContext>();
  ctx->set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(30)));
  return ctx;
}

// Not secret material of any real system: unique per fixture so that a
// test cannot pass with some other fixture's password.
absl::StatusOr<std::string> RandomPassword(const std::string& user) {
  std::ifstream in("/dev/urandom", std::ios::binary);
  unsigned char bytes[12];
  if (!in.read(reinterpret_cast<char*>(bytes), sizeof(bytes))) {
    return absl::InternalError("cannot read /dev/urandom");
  }
  std::string out = user + "-pw-";
  static const char kHex[] = "0123456789abcdef";
  for (unsigned char b : bytes) {
    out.push_back(kHex[b >> 4]);
    out.push_back(kHex[b & 15]);
  }
  return out;
}

admin::v1::HostSelector Selector(const std::string& key,
                                 const std::string& value) {
  admin::v1::HostSelector s;
  (*s.mutable_labels())[key] = value;
  return s;
}

admin::v1::Role MakeRole(const std::string& name,
                         const std::vector<std::string>& logins,
                         const std::vector<admin::v1::HostSelector>& hosts,
                         const std::vector<std::string>& channels) {
  admin::v1::Role role;
  role.set_name(name);
  role.set_description("bastion fixture role " + name);
  for (const auto& l : logins) role.add_logins(l);
  for (const auto& h : hosts) *role.add_hosts() = h;
  for (const auto& c : channels) role.add_channels(c);
  return role;
}

std::string Trimmed(const std::string& s) {
  return std::string(absl::StripAsciiWhitespace(s));
}

}  // namespace

BastionFixture::Options BastionFixture::DefaultOptions() {
  const std::string login = CurrentUserName();
  Options o;
  o.roles.push_back(MakeRole("dev", {login}, {Selector("env", "dev")},
                             {"shell", "exec", "sftp"}));
  o.roles.push_back(MakeRole("ops", {login},
                             {Selector("env", "dev"), Selector("env", "prod")},
                             {"shell", "exec", "sftp", "port-forward",
                              "agent-forward", "proxyjump-passthrough"}));
  admin::v1::Role readonly = MakeRole(
      "prod-readonly", {login}, {Selector("env", "prod")}, {"shell", "exec"});
  admin::v1::DenyRule* deny = readonly.add_deny();
  *deny->add_hosts() = Selector("env", "prod");
  for (const char* kind : {"sftp", "port-forward", "proxyjump-passthrough"}) {
    deny->add_channels(kind);
  }
  o.roles.push_back(readonly);
  o.roles.push_back(MakeRole("guest", {"guest"}, {Selector("env", "dev")},
                             {"shell", "exec"}));
  for (const auto& [name, roles] :
       std::vector<std::pair<std::string, std::vector<std::string>>>{
           {"alice", {"dev"}},
           {"olivia", {"ops"}},
           {"rita", {"ops", "prod-readonly"}},
           {"bob", {"guest"}}}) {
    BastionUserSpec u;
    u.name = name;
    u.roles = roles;
    o.users.push_back(u);
  }
  o.targets = {{"web01", {{"env", "dev"}}, "host-ca"},
               {"web02", {{"env", "prod"}}, "pinned-key"}};
  return o;
}

absl::StatusOr<std::unique_ptr<BastionFixture>> BastionFixture::Start(
    Options options) {
  absl::StatusOr<TempDir> dir = TempDir::Create("bastion");
  if (!dir.ok()) return dir.status();
  chmod(dir->path().c_str(), 0755);
  std::unique_ptr<BastionFixture> f(new BastionFixture(std::move(*dir)));
  f->gateway_log_level_ = options.gateway_log_level;
  if (options.advertise_gateway) {  // pjump
    absl::StatusOr<uint16_t> port = FreeLoopbackPort();
    if (!port.ok()) return port.status();
    f->advertised_gateway_port_ = *port;
  }
  if (absl::Status st = f->StartCa(options); !st.ok()) return st;
  if (absl::Status st = f->ConnectAdmin(); !st.ok()) return st;
  if (absl::Status st = f->CreatePolicy(options); !st.ok()) return st;
  for (const BastionTargetSpec& spec : options.targets) {
    if (absl::Status st = f->StartTarget(spec, options); !st.ok()) return st;
  }
  for (const BastionUserSpec& spec : options.users) {
    if (!spec.log_in) continue;
    if (absl::Status st = f->Login(spec.name); !st.ok()) return st;
  }
  if (absl::Status st = f->WriteClientFiles(); !st.ok()) return st;
  return f;
}

BastionFixture::~BastionFixture() {
  StopGateway();
  for (size_t i = 0; i < extra_gateways_.size(); ++i) {  // ha16
    if (extra_gateways_[i].process) extra_gateways_[i].process->Stop();
    if (::testing::Test::HasFailure()) {
      std::cerr << "--- " << extra_gateways_[i].name << " log ---\n"
                << ExtraGatewayLog(static_cast<int>(i)) << "--- end ---\n";
    }
  }
  if (::testing::Test::HasFailure() && !GatewayLog().empty()) {
    std::cerr << "--- gateway log ---\n" << GatewayLog() << "--- end ---\n";
  }
}

absl::Status BastionFixture::StartCa(const Options& options) {
  ca_state_dir_ = dir_.File("ca");
  const std::string bin = RunfilePath("ca/sallyport-ca");
  absl::StatusOr<std::string> password = RandomPassword(kAdmin);
  if (!password.ok()) return password.status();
  const std::string pw_file = dir_.File("admin.pw");
  if (absl::Status st = WriteFile(pw_file, *password + "\n", 0600); !st.ok()) {
    return st;
  }
  // scrypt 2^10: logins in tests take milliseconds, not 100 ms each.
  std::vector<std::string> init_argv = {bin,
                                        "init",
                                        "--state-dir",
                                        ca_state_dir_,
                                        "--admin",
                                        kAdmin,
                                        "--admin-password-file",
                                        pw_file,
                                        "--scrypt-log-n",
                                        "10"};
  if (!options.store_url.empty()) {  // ha16
    init_argv.insert(init_argv.end(), {"--store", options.store_url});
  }
  if (options.session_ca) init_argv.push_back("--session-ca");
  absl::StatusOr<RunResult> init = RunCommandOk(init_argv);
  if (!init.ok()) return init.status();
  static const std::regex kFingerprint(R"(TLS fingerprint:\s+(SHA256:\S+))");
  std::smatch m;
  if (!std::regex_search(init->out, m, kFingerprint)) {
    return absl::InternalError("no TLS fingerprint in: " + init->out);
  }
  ca_fingerprint_ = m[1].str();
  {
    std::ofstream yaml(ca_state_dir_ + "/ca.yaml", std::ios::app);
    yaml << "gateway:\n  egress_addresses: ["
         << absl::StrJoin(options.egress_addresses, ", ",
                          [](std::string* out, const std::string& a) {
                            absl::StrAppend(out, "\"", a, "\"");
                          })
         << "]\n";
    if (advertised_gateway_port_ != 0) {  // pjump
      yaml << "  ssh_addresses: [\"127.0.0.1:" << advertised_gateway_port_
           << "\"]\n";
    }
    if (!yaml.good()) return absl::InternalError("cannot append to ca.yaml");
  }
  user_ca_line_ = Trimmed(ReadFileOrEmpty(ca_state_dir_ + "/user_ca.pub"));
  host_ca_line_ = Trimmed(ReadFileOrEmpty(ca_state_dir_ + "/host_ca.pub"));
  if (user_ca_line_.empty() || host_ca_line_.empty()) {
    return absl::InternalError("init wrote no user_ca.pub/host_ca.pub");
  }
  if (options.session_ca) {
    session_ca_line_ =
        Trimmed(ReadFileOrEmpty(ca_state_dir_ + "/session_ca.pub"));
    if (session_ca_line_.empty()) {
      return absl::InternalError("init --session-ca wrote no session_ca.pub");
    }
  }
  // What the targets trust (TrustedUserCAKeys): the key that signs session
  // certificates.
  if (absl::Status st = WriteFile(
          dir_.File("user_ca.pub"),
          (options.session_ca ? session_ca_line_ : user_ca_line_) + "\n", 0644);
      !st.ok()) {
    return st;
  }
  absl::StatusOr<std::unique_ptr<ListeningProcess>> server =
      ListeningProcess::Start(
          {bin, "serve", "--config", ca_state_dir_ + "/ca.yaml", "--listen",
           "127.0.0.1:0"},
          dir_.File("ca.log"));
  if (!server.ok()) return server.status();
  ca_ = std::move(*server);
  ca_port_ = ca_->port();
  if (absl::Status st = StartMoreCas(options, bin); !st.ok()) return st;
  users_[kAdmin].name = kAdmin;
  users_[kAdmin].password = *password;
  return Login(kAdmin);
}

std::string BastionFixture::ca_address() const {
  return absl::StrCat("127.0.0.1:", ca_port_);
}

// ship
int BastionFixture::StopCa() {
  if (!ca_ || !ca_->Running()) return 0;
  return ca_->process().Stop();
}

// ship
absl::Status BastionFixture::RestartCa() {
  if (ca_ && ca_->Running()) {
    return absl::FailedPreconditionError("the CA still runs");
  }
  const std::string bin = RunfilePath("ca/sallyport-ca");
  absl::StatusOr<std::unique_ptr<ListeningProcess>> server =
      ListeningProcess::Start(
          {bin, "serve", "--config", ca_state_dir_ + "/ca.yaml", "--listen",
           absl::StrCat("127.0.0.1:", ca_port_)},
          dir_.File(absl::StrCat("ca-", ++ca_restarts_, ".log")));
  if (!server.ok()) return server.status();
  ca_ = std::move(*server);
  return absl::OkStatus();
}

std::string BastionFixture::target_login() const { return CurrentUserName(); }

absl::Status BastionFixture::Login(const std::string& name) {
  auto it = users_.find(name);
  if (it == users_.end()) {
    return absl::NotFoundError("no fixture user " + name);
  }
  User& u = it->second;
  u.home = dir_.File("home-" + name);
  RunOptions ro;
  ro.stdin_data = u.password + "\n";
  ro.env["SALLYPORT_HOME"] = u.home;
  ro.env["SSH_AUTH_SOCK"] = "";
  // setsid: no controlling terminal, so a prompt fails instead of waiting.
  absl::StatusOr<RunResult> r = RunCommandOk(
      {"setsid", "-w", RunfilePath("cli/sp"), "login", "--ca", ca_addresses(),
       "--user", name, "--password-stdin", "--ca-fingerprint", ca_fingerprint_},
      ro);
  if (!r.ok()) return r.status();
  u.key = u.home + "/" + name;
  u.certificate = u.key + "-cert.pub";
  if (ReadFileOrEmpty(u.certificate).empty()) {
    return absl::InternalError("sp login wrote no certificate for " + name);
  }
  u.ssh_config = dir_.File("ssh_config-" + name);
  return WriteUserSshConfig(u);
}

absl::Status BastionFixture::ConnectAdmin() {
  const User& a = users_[kAdmin];
  grpc::SslCredentialsOptions tls;
  tls.pem_root_certs = ReadFileOrEmpty(a.home + "/ca.pem");
  tls.pem_private_key = ReadFileOrEmpty(a.home + "/tls.key");
  tls.pem_cert_chain = ReadFileOrEmpty(a.home + "/tls.crt");
  if (tls.pem_root_certs.empty() || tls.pem_private_key.empty() ||
      tls.pem_cert_chain.empty()) {
    return absl::InternalError("sp login left no TLS material in " + a.home);
  }
  grpc::ChannelArguments args;
  args.SetSslTargetNameOverride(std::string(ca::kServerTlsName));
  args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
  // ha16: every CA instance, failing over (base/address_list.h).
  absl::StatusOr<std::vector<base::HostPort>> cas =
      base::ParseAddressList(ca_addresses(), 0);
  if (!cas.ok()) return cas.status();
  absl::StatusOr<std::shared_ptr<grpc::Channel>> failover =
      base::FailoverChannel(*cas, grpc::SslCredentials(tls), args);
  if (!failover.ok()) return failover.status();
  std::shared_ptr<grpc::Channel> channel = *failover;
  admin_stub_ = admin::v1::Admin::NewStub(channel);
  ca_stub_ = ca::v1::CertificateAuthority::NewStub(channel);
  admin_channel_ = channel;
  return absl::OkStatus();
}

absl::Status BastionFixture::CreatePolicy(const Options& options) {
  for (const admin::v1::Role& role : options.roles) {
    admin::v1::Role out;
    if (absl::Status st =
            FromGrpc("CreateRole " + role.name(),
                     admin().CreateRole(Context().get(), role, &out));
        !st.ok()) {
      return st;
    }
  }
  for (const BastionUserSpec& spec : options.users) {
    absl::StatusOr<std::string> password = RandomPassword(spec.name);
    if (!password.ok()) return password.status();
    admin::v1::CreateUserRequest req;
    req.mutable_user()->set_name(spec.name);
    req.mutable_user()->set_display_name("fixture user " + spec.name);
    req.set_password(*password);
    admin::v1::User created;
    if (absl::Status st =
            FromGrpc("CreateUser " + spec.name,
                     admin().CreateUser(Context().get(), req, &created));
        !st.ok()) {
      return st;
    }
    for (const std::string& role : spec.roles) {
      admin::v1::RoleBinding binding, bound;
      binding.set_user(spec.name);
      binding.set_role(role);
      if (absl::Status st =
              FromGrpc("BindRole " + spec.name + " " + role,
                       admin().BindRole(Context().get(), binding, &bound));
          !st.ok()) {
        return st;
      }
    }
    users_[spec.name].name = spec.name;
    users_[spec.name].password = *password;
  }
  return absl::OkStatus();
}

absl::Status BastionFixture::StartTarget(const BastionTargetSpec& spec,
                                         const Options& options) {
  auto t = std::make_unique<Target>();
  t->spec = spec;
  const std::string tdir = dir_.File("target-" + spec.name);
  if (mkdir(tdir.c_str(), 0755) != 0) {
    return absl::InternalError("cannot create " + tdir);
  }
  absl::StatusOr<KeyPair> key = GenerateKey(tdir, "host_key");
  if (!key.ok()) return key.status();
  t->host_key = *key;
  SshdFixture::Options so;
  so.config = options.sshd_config;
  so.config["HostKey"] = t->host_key.private_path;
  so.config["TrustedUserCAKeys"] = dir_.File("user_ca.pub");
  if (spec.trust == "host-ca") {
    // Creates the inventory record (port 22 for now, fixed below).
    ca::v1::IssueHostCertificateRequest req;
    req.set_host(spec.name);
    req.set_ssh_public_key(t->host_key.public_line);
    req.set_address("127.0.0.1");
    ca::v1::IssueHostCertificateResponse resp;
    if (absl::Status st = FromGrpc(
            "IssueHostCertificate " + spec.name,
            ca_as_admin().IssueHostCertificate(Context().get(), req, &resp));
        !st.ok()) {
      return st;
    }
    t->host_certificate = t->host_key.private_path + "-cert.pub";
    if (absl::Status st =
            WriteFile(t->host_certificate, resp.ssh_certificate() + "\n");
        !st.ok()) {
      return st;
    }
    so.config["HostCertificate"] = t->host_certificate;
  }
  absl::StatusOr<std::unique_ptr<SshdFixture>> sshd = SshdFixture::Start(so);
  if (!sshd.ok()) return sshd.status();
  t->sshd = std::move(*sshd);

  admin::v1::Host host;
  host.set_name(spec.name);
  host.set_address("127.0.0.1");
  host.set_port(t->sshd->port());
  for (const auto& [k, v] : spec.labels) (*host.mutable_labels())[k] = v;
  host.set_trust(spec.trust);
  host.set_host_key(t->host_key.public_line);
  admin::v1::Host stored;
  grpc::Status st = spec.trust == "host-ca"
                        ? admin().UpdateHost(Context().get(), host, &stored)
                        : admin().CreateHost(Context().get(), host, &stored);
  if (absl::Status s = FromGrpc("inventory host " + spec.name, st); !s.ok()) {
    return s;
  }
  targets_.push_back(std::move(t));
  return absl::OkStatus();
}

BastionFixture::Target* BastionFixture::target(const std::string& name) {
  for (auto& t : targets_) {
    if (t->spec.name == name) return t.get();
  }
  return nullptr;
}

absl::StatusOr<const BastionFixture::User*> BastionFixture::user(
    const std::string& name) const {
  auto it = users_.find(name);
  if (it == users_.end()) {
    return absl::NotFoundError("no fixture user " + name);
  }
  return &it->second;
}

absl::Status BastionFixture::WriteClientFiles() {
  std::string known_hosts =
      absl::StrCat("@cert-authority * ", host_ca_line_, "\n");
  for (const auto& t : targets_) {
    if (t->spec.trust != "pinned-key") continue;
    absl::StrAppend(&known_hosts, t->spec.name,
                    ",[127.0.0.1]:", t->sshd->port(), " ",
                    t->host_key.public_line, "\n");
  }
  if (absl::Status st = WriteFile(client_known_hosts(), known_hosts);
      !st.ok()) {
    return st;
  }
  for (const auto& [name, u] : users_) {
    if (u.ssh_config.empty()) continue;
    if (absl::Status st = WriteUserSshConfig(u); !st.ok()) return st;
  }
  return absl::OkStatus();
}

absl::Status BastionFixture::WriteUserSshConfig(const User& u) {
  std::string text =
      absl::StrCat("# Written by BastionFixture for ", u.name, ".\n");
  for (const auto& t : targets_) {
    absl::StrAppend(&text, "Host ", t->spec.name, "\n  HostName 127.0.0.1\n",
                    "  Port ", t->sshd->port(), "\n  HostKeyAlias ",
                    t->spec.name, "\n");
  }
  if (gateway_port_ != 0) {
    absl::StrAppend(&text, "Host gateway\n  HostName 127.0.0.1\n  Port ",
                    gateway_port_, "\n");
  }
  absl::StrAppend(
      &text, "Host *\n  User ", target_login(), "\n  IdentityFile ", u.key,
      "\n  CertificateFile ", u.certificate,
      "\n  IdentitiesOnly yes\n  IdentityAgent none\n", "  UserKnownHostsFile ",
      client_known_hosts(),
      "\n  GlobalKnownHostsFile /dev/null\n  StrictHostKeyChecking yes\n",
      "  BatchMode yes\n  ConnectTimeout 20\n  LogLevel ERROR\n");
  return WriteFile(u.ssh_config, text);
}

absl::StatusOr<std::vector<std::string>> BastionFixture::SshArgs(
    const std::string& name) const {
  absl::StatusOr<const User*> u = user(name);
  if (!u.ok()) return u.status();
  if ((*u)->ssh_config.empty()) {
    return absl::FailedPreconditionError(name + " is not logged in");
  }
  return std::vector<std::string>{"ssh", "-F", (*u)->ssh_config};
}

absl::StatusOr<std::string> BastionFixture::CreateJoinToken(
    const std::string& purpose, const std::string& gateway_name) {
  admin::v1::CreateJoinTokenRequest req;
  req.set_purpose(purpose);
  req.set_gateway_name(gateway_name);
  admin::v1::CreateJoinTokenResponse resp;
  if (absl::Status st =
          FromGrpc("CreateJoinToken",
                   admin().CreateJoinToken(Context().get(), req, &resp));
      !st.ok()) {
    return st;
  }
  return resp.token();
}

// --- ha16 (#16 HA): several CA instances (more gateways:
// bastion_fixture_gateway.cc) ---

std::string BastionFixture::ca_addresses() const {
  std::vector<std::string> all = {ca_address()};
  for (const auto& ca : more_cas_) {
    all.push_back(absl::StrCat("127.0.0.1:", ca->port()));
  }
  return absl::StrJoin(all, ",");
}

absl::Status BastionFixture::StartMoreCas(const Options& options,
                                          const std::string& bin) {
  if (options.ca_instances > 1 && options.store_url.empty()) {
    return absl::InvalidArgumentError("several CA instances need store_url");
  }
  for (int i = 1; i < options.ca_instances; ++i) {
    // An identical copy of the first instance's state dir: the same keys,
    // TLS material and ca.yaml (whose paths are relative to it).
    const std::string dir = dir_.File(absl::StrCat("ca-", i));
    absl::StatusOr<RunResult> copy =
        RunCommandOk({"cp", "-a", ca_state_dir_, dir});
    if (!copy.ok()) return copy.status();
    // ca.yaml names its own state dir: point the copy at the copy.
    const std::string yaml = ReadFileOrEmpty(dir + "/ca.yaml");
    if (yaml.empty()) return absl::InternalError("no ca.yaml in " + dir);
    if (absl::Status st =
            WriteFile(dir + "/ca.yaml",
                      absl::StrReplaceAll(yaml, {{ca_state_dir_, dir}}), 0600);
        !st.ok()) {
      return st;
    }
    absl::StatusOr<std::unique_ptr<ListeningProcess>> server =
        ListeningProcess::Start({bin, "serve", "--config", dir + "/ca.yaml",
                                 "--listen", "127.0.0.1:0"},
                                dir_.File(absl::StrCat("ca-", i, ".log")));
    if (!server.ok()) return server.status();
    more_cas_.push_back(std::move(*server));
  }
  return absl::OkStatus();
}

// --- end ha16 ---

}  // namespace sallyport::testing
