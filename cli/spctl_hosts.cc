// spctl hosts add|ls|show|edit|label|rm|sign.
#include <algorithm>
#include <functional>
#include <string_view>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "base/files.h"
#include "base/safe_text.h"
#include "cli/sp_home.h"
#include "cli/spctl.h"

namespace sallyport::cli {
namespace {

namespace pb = admin::v1;
using Stub = pb::Admin::Stub;
using google::protobuf::Empty;

struct HostArgs {
  std::string name;
  std::string address;
  uint32_t port = 0;
  std::vector<std::string> labels;
  std::vector<std::string> remove_labels;
  std::string trust;
  std::string host_key_file;
  std::string public_key_file;
  std::string output_file;
};

// Values are escaped (base::EscapeControls): the CA refuses controls,
// bidirectional and invisible characters in them, but a value stored
// before it did is shown, not printed as it is.
std::string Labels(const google::protobuf::Map<std::string, std::string>& m) {
  std::vector<std::string> parts;
  for (const auto& [k, v] : m) {
    parts.push_back(LabelText(k, v));
  }
  std::sort(parts.begin(), parts.end());
  return absl::StrJoin(parts, ",");
}

// KEY=VALUE pairs into `host`, given as `what` ("--label", "label").
// kInvalidArgument naming the bad one, and a key given twice (`k=1 k=2`
// kept the last value without a word).
absl::Status ApplyLabels(const std::vector<std::string>& labels,
                         const std::string& what, pb::Host* host) {
  for (const std::string& l : labels) {
    std::pair<std::string, std::string> kv =
        absl::StrSplit(l, absl::MaxSplits('=', 1));
    if (kv.first.empty() || l.find('=') == std::string::npos) {
      return absl::InvalidArgumentError(absl::StrCat(
          what, " ", base::EscapeControls(l), ": write KEY=VALUE"));
    }
    if (!host->mutable_labels()->insert({kv.first, kv.second}).second) {
      return absl::InvalidArgumentError(
          absl::StrCat(what, " ", base::EscapeControls(l), ": ",
                       base::EscapeControls(kv.first),
                       " is given twice; give each key once"));
    }
  }
  return absl::OkStatus();
}

// --port of hosts add and edit: 1..65535 in decimal. 0, which the CA
// takes as 22 from API callers, is refused here: `hosts edit --port 0`
// would set 22 (leave --port out of `hosts add` for 22).
CLI::Validator PortNumber() { return DecimalInRange(1, 65535, "1..65535"); }

// The key line of the file `path` for --host-key and --public-key (a
// file, or a pipe: `--host-key <(ssh-keyscan ...)`). Read with //base:files:
// cli's own reader took a directory (or a file it could not read) for an
// empty file, and an empty key went to the CA.
absl::StatusOr<std::string> ReadKeyLine(const std::string& path) {
  absl::StatusOr<std::string> text = base::ReadTextFileOrPipe(path);
  if (!text.ok()) return text.status();
  if (absl::StripAsciiWhitespace(*text).empty()) {
    return absl::InvalidArgumentError(absl::StrCat(
        path,
        " is empty: want an OpenSSH public key line (the host's .pub "
        "file)"));
  }
  // A private key is never sent anywhere, not even to our CA to be refused
  // there: the usual slip is the key file instead of its .pub.
  if (absl::StrContains(*text, "-----BEGIN")) {
    return absl::InvalidArgumentError(absl::StrCat(
        path,
        " holds a private key (or PEM), not an OpenSSH public key line: "
        "pass its .pub file"));
  }
  return std::string(absl::StripAsciiWhitespace(*text));
}

int Add(Spctl& ctl, const HostArgs& a) {
  pb::Host host;
  host.set_name(a.name);
  host.set_address(a.address);
  host.set_port(a.port);
  host.set_trust(a.trust);
  if (absl::Status st = ApplyLabels(a.labels, "--label", &host); !st.ok()) {
    return ctl.Error(st.message(), kExitUsage);
  }
  if (!a.host_key_file.empty()) {
    absl::StatusOr<std::string> key = ReadKeyLine(a.host_key_file);
    if (!key.ok()) return ctl.Error(key.status().message());
    host.set_host_key(*key);
  }
  pb::Host out;
  if (auto rc = Call(ctl, ctl.Admin(), &Stub::CreateHost, host, &out,
                     absl::StrCat("hosts add ", a.name))) {
    return *rc;
  }
  if (!ctl.Structured(out)) ctl.out() << "Added host " << out.name() << "\n";
  return kExitOk;
}

int List(Spctl& ctl) {
  // Every page, as one answer (the table's columns fit every row).
  pb::ListHostsResponse resp;
  if (auto rc = CallEveryPage(ctl, ctl.Admin(), &Stub::ListHosts,
                              pb::ListHostsRequest(), "hosts ls",
                              [&](pb::ListHostsResponse& page) {
                                for (pb::Host& h : *page.mutable_hosts()) {
                                  *resp.add_hosts() = std::move(h);
                                }
                              })) {
    return *rc;
  }
  if (ctl.Structured(resp)) return kExitOk;
  std::vector<std::vector<std::string>> rows;
  for (const pb::Host& h : resp.hosts()) {
    rows.push_back(
        {h.name(), h.address(), std::to_string(h.port() == 0 ? 22 : h.port()),
         h.trust().empty() ? "host-ca" : h.trust(), Labels(h.labels())});
  }
  PrintTable(ctl.out(), {"NAME", "ADDRESS", "PORT", "TRUST", "LABELS"}, rows);
  return kExitOk;
}

int GetHost(Spctl& ctl, const std::string& name, pb::Host* host) {
  pb::GetHostRequest req;
  req.set_name(name);
  if (auto rc = Call(ctl, ctl.Admin(), &Stub::GetHost, req, host,
                     absl::StrCat("host ", name))) {
    return *rc;
  }
  return kExitOk;
}

int Show(Spctl& ctl, const std::string& name) {
  pb::Host h;
  if (int rc = GetHost(ctl, name, &h); rc != kExitOk) return rc;
  if (ctl.Structured(h)) return kExitOk;
  ctl.out() << "Name:     " << h.name() << "\n"
            << "Address:  " << h.address() << "\n"
            << "Port:     " << (h.port() == 0 ? 22 : h.port()) << "\n"
            << "Trust:    " << (h.trust().empty() ? "host-ca" : h.trust())
            << "\n"
            << "Labels:   " << Labels(h.labels()) << "\n"
            << "Host key: "
            << (h.host_key().empty() ? "-" : base::EscapeControls(h.host_key()))
            << "\n"
            << "Created:  " << FormatTime(h.created_at()) << " UTC\n";
  return kExitOk;
}

// Reads host `name`, applies `change` and updates the host on the condition
// that it is still the version read (ChangeRecord: re-read and reapplied
// when another admin changed it in between); `verb` names the command in
// errors.
int ChangeHost(Spctl& ctl, const std::string& name, std::string_view verb,
               const std::function<void(pb::Host*)>& change, pb::Host* out) {
  return ChangeRecord(
      ctl, absl::StrCat(std::string(verb), " ", name),
      [&](pb::Host* h) { return GetHost(ctl, name, h); }, change,
      &Stub::UpdateHost, out);
}

// Which of `hosts edit`'s options were given: only those change.
struct HostEdits {
  bool address = false;
  bool port = false;
  bool trust = false;
  bool host_key = false;
};

int Edit(Spctl& ctl, const HostArgs& a, const HostEdits& given) {
  if (!given.address && !given.port && !given.trust && !given.host_key) {
    return ctl.Error(
        "nothing to change: pass --address, --port, --trust or --host-key "
        "(labels: spctl hosts label)",
        kExitUsage);
  }
  std::string key;
  if (given.host_key) {
    absl::StatusOr<std::string> line = ReadKeyLine(a.host_key_file);
    if (!line.ok()) return ctl.Error(line.status().message());
    key = *std::move(line);
  }
  pb::Host out;
  if (int rc = ChangeHost(
          ctl, a.name, "hosts edit",
          [&](pb::Host* h) {
            if (given.address) h->set_address(a.address);
            if (given.port) h->set_port(a.port);
            if (given.trust) h->set_trust(a.trust);
            if (given.host_key) h->set_host_key(key);
          },
          &out);
      rc != kExitOk) {
    return rc;
  }
  if (!ctl.Structured(out)) ctl.out() << "Updated host " << out.name() << "\n";
  return kExitOk;
}

int Label(Spctl& ctl, const HostArgs& a) {
  pb::Host given;
  if (absl::Status st = ApplyLabels(a.labels, "label", &given); !st.ok()) {
    return ctl.Error(st.message(), kExitUsage);
  }
  // Set and removed at once: which one was meant?
  for (const std::string& k : a.remove_labels) {
    if (given.labels().contains(k)) {
      return ctl.Error(absl::StrCat("label ", base::EscapeControls(k),
                                    " is both set and removed (--remove)"),
                       kExitUsage);
    }
  }
  pb::Host out;
  std::vector<std::string> not_there;  // keys to remove the host lacks
  if (int rc = ChangeHost(
          ctl, a.name, "hosts label",
          [&](pb::Host* h) {
            not_there.clear();
            for (const auto& [k, v] : given.labels()) {
              (*h->mutable_labels())[k] = v;
            }
            for (const std::string& k : a.remove_labels) {
              if (h->mutable_labels()->erase(k) == 0) not_there.push_back(k);
            }
          },
          &out);
      rc != kExitOk) {
    return rc;
  }
  // Removing what is not there leaves the host as wanted, but a mistyped
  // key is worth a word (it said nothing).
  for (const std::string& k : not_there) {
    ctl.err() << "spctl: " << a.name << " had no label "
              << base::EscapeControls(k) << " to remove\n";
  }
  if (!ctl.Structured(out)) {
    ctl.out() << "Labels of " << a.name << ": " << Labels(out.labels()) << "\n";
  }
  return kExitOk;
}

int Sign(Spctl& ctl, const HostArgs& a) {
  absl::StatusOr<std::string> key = ReadKeyLine(a.public_key_file);
  if (!key.ok()) return ctl.Error(key.status().message());
  ca::v1::IssueHostCertificateRequest req;
  req.set_host(a.name);
  req.set_ssh_public_key(*key);
  req.set_address(a.address);
  req.set_port(a.port);
  ca::v1::IssueHostCertificateResponse resp;
  if (auto rc = Call(ctl, ctl.Ca(),
                     &ca::v1::CertificateAuthority::Stub::IssueHostCertificate,
                     req, &resp, absl::StrCat("hosts sign ", a.name))) {
    return *rc;
  }
  if (a.output_file.empty()) {
    if (!ctl.Structured(resp)) ctl.out() << resp.ssh_certificate() << "\n";
    return kExitOk;
  }
  if (absl::Status st =
          WriteFileAtomic(a.output_file, resp.ssh_certificate() + "\n", 0644);
      !st.ok()) {
    return ctl.Error(st.message());
  }
  if (!ctl.Structured(resp)) {
    ctl.err() << "Wrote the host certificate (serial " << resp.serial()
              << ") to " << a.output_file << "\n";
  }
  return kExitOk;
}

}  // namespace

void AddHostCommands(CLI::App& app, Spctl& ctl, Action* action) {
  auto a = std::make_shared<HostArgs>();
  Spctl* c = &ctl;
  CLI::App* hosts = app.add_subcommand("hosts", "the host inventory");
  hosts->require_subcommand(1);

  CLI::App* add = hosts->add_subcommand("add", "add a host");
  add->add_option("NAME", a->name,
                  "the host's inventory name (a DNS name, kept in lowercase)")
      ->required();
  add->add_option("--address", a->address, "DNS name or IP address")
      ->required();
  add->add_option("--port", a->port, "SSH port (default 22)")
      ->transform(PortNumber());
  add->add_option("--label", a->labels, "KEY=VALUE (repeatable)");
  add->add_option("--trust", a->trust, "host-ca (default) or pinned-key")
      ->check(CLI::IsMember({"host-ca", "pinned-key"}));
  add->add_option("--host-key", a->host_key_file,
                  "FILE with the host's public key (for pinned-key)");
  OnRun(add, action, [c, a] { return Add(*c, *a); });

  OnRun(hosts->add_subcommand("ls", "list hosts"), action,
        [c] { return List(*c); });
  CLI::App* show = hosts->add_subcommand("show", "show a host");
  show->add_option("NAME", a->name, "the host")->required();
  OnRun(show, action, [c, a] { return Show(*c, a->name); });

  CLI::App* edit = hosts->add_subcommand(
      "edit",
      "change a host's address, port, trust or pinned key (only the options "
      "given; labels: hosts label)");
  edit->add_option("NAME", a->name, "the host")->required();
  CLI::Option* address =
      edit->add_option("--address", a->address, "DNS name or IP address");
  CLI::Option* port =
      edit->add_option("--port", a->port, "SSH port")->transform(PortNumber());
  CLI::Option* trust =
      edit->add_option("--trust", a->trust,
                       "host-ca or pinned-key (which needs a key: --host-key, "
                       "or the one the host has)")
          ->check(CLI::IsMember({"host-ca", "pinned-key"}));
  CLI::Option* host_key =
      edit->add_option("--host-key", a->host_key_file,
                       "FILE with the host's public key, pinned in place of "
                       "the one the host has");
  OnRun(edit, action, [c, a, address, port, trust, host_key] {
    return Edit(*c, *a,
                HostEdits{address->count() > 0, port->count() > 0,
                          trust->count() > 0, host_key->count() > 0});
  });

  CLI::App* label = hosts->add_subcommand("label", "set or remove labels");
  label->add_option("NAME", a->name, "the host")->required();
  label->add_option("LABELS", a->labels, "KEY=VALUE ...");
  label->add_option("--remove", a->remove_labels, "remove this label key");
  OnRun(label, action, [c, a] { return Label(*c, *a); });

  CLI::App* rm = hosts->add_subcommand("rm", "remove a host");
  rm->add_option("NAME", a->name, "the host")->required();
  OnRun(rm, action, [c, a] {
    pb::DeleteHostRequest req;
    req.set_name(a->name);
    Empty resp;
    if (auto rc = Call(*c, c->Admin(), &Stub::DeleteHost, req, &resp,
                       absl::StrCat("hosts rm ", a->name))) {
      return *rc;
    }
    c->out() << "Removed host " << a->name << "\n";
    return kExitOk;
  });

  CLI::App* sign = hosts->add_subcommand(
      "sign", "sign a host certificate for the host's key (to stdout or -o)");
  sign->add_option("NAME", a->name, "the host")->required();
  sign->add_option("--public-key", a->public_key_file,
                   "FILE with the host's public key")
      ->required();
  sign->add_option("-o,--out", a->output_file, "write the certificate here");
  sign->add_option(
      "--address", a->address,
      "the host's address (needed when it is not in the inventory)");
  OnRun(sign, action, [c, a] { return Sign(*c, *a); });
}

}  // namespace sallyport::cli
