// spctl roles create|edit|ls|show|rm (YAML files with the field names of
// Role in proto/admin.proto) and spctl bindings add|rm|ls.
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <iostream>
#include <optional>
#include <variant>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "base/files.h"
#include "base/safe_text.h"
#include "base/yaml_proto.h"
#include "ca/rbac/selector_match.h"
#include "cli/sp_home.h"
#include "cli/spctl.h"

extern char** environ;

namespace sallyport::cli {
namespace {

namespace pb = admin::v1;
using Stub = pb::Admin::Stub;
using google::protobuf::Empty;

struct RoleArgs {
  std::string name;
  std::string file;
  bool dry_run = false;
  std::string user;
  std::string role;
};

// The role as the admin writes it: no output-only fields.
std::string EditableYaml(pb::Role role) {
  role.clear_created_at();
  role.clear_updated_at();
  return ProtoToYaml(role);
}

void KeepFirstOfEach(google::protobuf::RepeatedPtrField<std::string>* list) {
  std::vector<std::string> seen;
  for (const std::string& s : *list) {
    if (std::find(seen.begin(), seen.end(), s) == seen.end()) {
      seen.push_back(s);
    }
  }
  list->Assign(seen.begin(), seen.end());
}

// A role file as the CA will keep it, to compare and diff with the stored
// role: the fields a file may leave out hold the defaults proto/admin.proto
// gives (max_ttl 0 = 8h, record "always", record_mode "strict"), and a
// channel kind named twice is one. The CA answers with these filled in, so
// a file without them showed `max_ttl: 8h`, `record: "always"` and
// `record_mode: "strict"` as removed lines. Only for showing: the file is
// sent as written, and the CA decides.
pb::Role WithCaDefaults(pb::Role role) {
  if (role.max_ttl().seconds() == 0 && role.max_ttl().nanos() == 0) {
    role.mutable_max_ttl()->set_seconds(8 * 3600);
  }
  if (role.record().empty()) role.set_record("always");
  if (role.record_mode().empty()) role.set_record_mode("strict");
  KeepFirstOfEach(role.mutable_channels());
  for (pb::DenyRule& d : *role.mutable_deny()) {
    KeepFirstOfEach(d.mutable_channels());
  }
  return role;
}

std::string Selectors(
    const google::protobuf::RepeatedPtrField<pb::HostSelector>& hosts) {
  std::vector<std::string> parts;
  for (const pb::HostSelector& h : hosts) {
    std::vector<std::string> terms;
    std::vector<std::pair<std::string, std::string>> labels(h.labels().begin(),
                                                            h.labels().end());
    std::sort(labels.begin(), labels.end());
    // Values stored before bidi and invisible characters were refused
    // are shown escaped, as `hosts ls` shows labels.
    for (const auto& [k, v] : labels) {
      terms.push_back(LabelText(k, v));
    }
    // The globs are alternatives (a host matches one of them): one glob
    // as is, several in braces as a shell writes alternatives,
    // "env=prod+{web*,db*}". Joined with '+' they read as "all of".
    std::vector<std::string> globs;
    for (const std::string& g : h.name_globs()) {
      globs.push_back(base::EscapeControls(g));
    }
    if (globs.size() == 1) terms.push_back(globs[0]);
    if (globs.size() > 1) {
      terms.push_back(absl::StrCat("{", absl::StrJoin(globs, ","), "}"));
    }
    // A selector without terms selects every host.
    parts.push_back(terms.empty() ? "(all)" : absl::StrJoin(terms, "+"));
  }
  return parts.empty() ? "(none)" : absl::StrJoin(parts, " ");
}

// Reads a role file, or stdin for "-" (`... | spctl roles create -f -`);
// kInvalidArgument messages carry "FILE:LINE: ..." ("stdin:LINE: ...").
// The output-only created_at and updated_at are read (as RFC 3339 times)
// and dropped, so what `roles show` printed can be fed back to `roles edit
// -f` and `roles create -f`; they are not the admin's to set.
// A file that cannot be read is kFailedPrecondition (ReadTextFileOrPipe's
// message); what it holds, kInvalidArgument (FileMistakeExit).
absl::StatusOr<pb::Role> LoadRole(const std::string& path) {
  pb::Role role;
  const bool from_stdin = path == "-";
  absl::Status st;
  if (from_stdin) {
    st = base::YamlStreamToProto(std::cin, "stdin", &role);
  } else {
    // Role files are small; the YAML reader's own limit is 1 MiB too.
    absl::StatusOr<std::string> text = base::ReadTextFileOrPipe(path, 1 << 20);
    if (!text.ok()) {
      return absl::FailedPreconditionError(text.status().message());
    }
    st = base::YamlToProto(*text, path, &role);
  }
  if (!st.ok()) return st;
  role.clear_created_at();
  role.clear_updated_at();
  if (role.name().empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat(from_stdin ? "stdin" : path, ": the role needs a name"));
  }
  return role;
}

// A role file's mistakes (YAML, unknown keys, no name) are invalid input,
// as the values the CA refuses are: exit 2 for both (they were 1 and 2).
// A file that cannot be read is an error (1).
int FileMistakeExit(const absl::Status& st) {
  return st.code() == absl::StatusCode::kInvalidArgument ? kExitUsage
                                                         : kExitError;
}

// nullopt when the role does not exist, an exit code on other errors.
std::variant<std::optional<pb::Role>, int> Current(Spctl& ctl,
                                                   const std::string& name) {
  pb::GetRoleRequest req;
  req.set_name(name);
  pb::Role role;
  std::optional<grpc::Status> st =
      TryCall(ctl.Admin(), &Stub::GetRole, req, &role);
  if (!st.has_value()) return kExitError;
  if (st->error_code() == grpc::StatusCode::NOT_FOUND) {
    return std::optional<pb::Role>();
  }
  if (!st->ok()) return ctl.Fail(*st, absl::StrCat("role ", name));
  return std::optional<pb::Role>(role);
}

// After a role was created or changed: a role with host selectors that
// select no host of the inventory lets its users reach nothing, which
// `roles ls` does not show (a label typo, a glob for another naming
// scheme). Says so on stderr; the role stays as applied (hosts may be
// added later). A role without selectors (auditor, login) is meant so.
void WarnIfSelectsNoHost(Spctl& ctl, const pb::Role& role) {
  if (role.hosts().empty()) return;
  size_t hosts = 0;
  bool selected = false;
  if (CallEveryPage(
          ctl, ctl.Admin(), &Stub::ListHosts, pb::ListHostsRequest(),
          absl::StrCat("checking the hosts role ", role.name(), " selects"),
          [&](const pb::ListHostsResponse& page) {
            hosts += page.hosts_size();
            for (const pb::Host& h : page.hosts()) {
              for (const pb::HostSelector& s : role.hosts()) {
                selected = selected || ca::rbac::SelectorMatchesParts(
                                           s.labels(), s.name_globs(), h.name(),
                                           h.labels());
              }
            }
          })) {
    return;
  }
  if (selected) return;
  ctl.err() << "spctl: warning: role " << base::EscapeControls(role.name())
            << " selects none of the " << hosts
            << (hosts == 1 ? " host" : " hosts")
            << " in the inventory: its users reach no host until one "
               "matches its labels and name_globs (`spctl hosts ls`)\n";
}

int Create(Spctl& ctl, const RoleArgs& a) {
  absl::StatusOr<pb::Role> role = LoadRole(a.file);
  if (!role.ok()) {
    return ctl.Error(role.status().message(), FileMistakeExit(role.status()));
  }
  if (a.dry_run) {
    auto cur = Current(ctl, role->name());
    if (auto* rc = std::get_if<int>(&cur)) return *rc;
    const auto& old = std::get<std::optional<pb::Role>>(cur);
    ctl.out() << LineDiff(old ? EditableYaml(*old) : "",
                          EditableYaml(WithCaDefaults(*role)));
    return kExitOk;
  }
  pb::Role out;
  if (auto rc = Call(ctl, ctl.Admin(), &Stub::CreateRole, *role, &out,
                     absl::StrCat("roles create ", role->name()))) {
    return *rc;
  }
  if (!ctl.Structured(out)) ctl.out() << "Created role " << out.name() << "\n";
  WarnIfSelectsNoHost(ctl, out);
  return kExitOk;
}

// Runs $EDITOR (or vi) on `path` through the shell, so EDITOR may hold
// arguments ("code -w").
absl::Status RunEditor(const std::string& path) {
  const char* editor = std::getenv("VISUAL");
  if (editor == nullptr || editor[0] == '\0') editor = std::getenv("EDITOR");
  if (editor == nullptr || editor[0] == '\0') {
    // vi without a terminal (a script, a pipe) floods its output with
    // escape sequences and fails; say what to do instead.
    if (isatty(STDIN_FILENO) != 1) {
      return absl::FailedPreconditionError(
          "no editor: VISUAL and EDITOR are not set and stdin is not a "
          "terminal for vi; set EDITOR, or pass -f FILE (- for stdin); "
          "nothing changed");
    }
    editor = "vi";
  }
  const std::string script = absl::StrCat(editor, " \"$1\"");
  std::vector<std::string> argv = {"/bin/sh", "-c", script, "sh", path};
  std::vector<char*> args;
  for (std::string& s : argv) args.push_back(s.data());
  args.push_back(nullptr);
  pid_t pid;
  if (int rc =
          posix_spawn(&pid, "/bin/sh", nullptr, nullptr, args.data(), environ);
      rc != 0) {
    return absl::FailedPreconditionError("cannot start the editor");
  }
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    return absl::FailedPreconditionError(
        absl::StrCat("the editor (", editor, ") failed; nothing changed"));
  }
  return absl::OkStatus();
}

int Edit(Spctl& ctl, const RoleArgs& a) {
  auto cur = Current(ctl, a.name);
  if (auto* rc = std::get_if<int>(&cur)) return *rc;
  const auto& old = std::get<std::optional<pb::Role>>(cur);
  if (!old)
    return ctl.Error(absl::StrCat("there is no role ", a.name), kExitNotFound);
  const std::string before = EditableYaml(*old);
  std::string path = a.file;
  std::string temp;
  if (path.empty()) {
    char dir[] = "/tmp/spctl-role-XXXXXX";
    if (mkdtemp(dir) == nullptr)
      return ctl.Error("cannot make a temporary directory");
    temp = dir;
    path = absl::StrCat(temp, "/", a.name, ".yaml");
    if (absl::Status st = WriteFileAtomic(path, before, 0600); !st.ok()) {
      return ctl.Error(st.message());
    }
    if (absl::Status st = RunEditor(path); !st.ok()) {
      (void)RemoveFile(path);
      rmdir(temp.c_str());
      return ctl.Error(st.message());
    }
  }
  // The edit is removed once applied (or a no-op); refused, it is kept for
  // the admin to fix rather than lost with the temporary file.
  auto drop_edit = [&] {
    if (temp.empty()) return;
    (void)RemoveFile(path);
    rmdir(temp.c_str());
  };
  const std::string kept = absl::StrCat("your edit is kept in ", path,
                                        ": fix it, then `spctl roles edit ",
                                        a.name, " -f ", path, "`");
  auto refused = [&](const std::string& why, int exit_code = kExitError) {
    return ctl.Error(temp.empty() ? why : absl::StrCat(why, "\n", kept),
                     exit_code);
  };
  absl::StatusOr<pb::Role> role = LoadRole(path);
  if (!role.ok()) {
    return refused(std::string(role.status().message()),
                   FileMistakeExit(role.status()));
  }
  if (role->name() != a.name) {
    return refused(absl::StrCat("the file names role ", role->name(), ", not ",
                                a.name, " (renaming is not supported)"),
                   kExitUsage);
  }
  const std::string after = EditableYaml(WithCaDefaults(*role));
  if (a.dry_run) {
    drop_edit();
    ctl.out() << LineDiff(before, after);
    return kExitOk;
  }
  if (before == after) {
    drop_edit();
    ctl.out() << "No changes to role " << a.name << "\n";
    return kExitOk;
  }
  // Applied to the version the edit started from only: a change another
  // admin made meanwhile is not silently replaced (ABORTED).
  *role->mutable_updated_at() = old->updated_at();
  pb::Role out;
  std::optional<grpc::Status> st =
      TryCall(ctl.Admin(), &Stub::UpdateRole, *role, &out);
  if (!st.has_value()) return kExitError;
  if (!st->ok()) {
    if (st->error_code() == grpc::StatusCode::ABORTED) {
      ctl.err() << "spctl: roles edit " << a.name << ": "
                << base::SafeText(st->error_message()) << "\nspctl: role "
                << a.name
                << " was changed by someone else while you edited it: see "
                   "`spctl roles show "
                << a.name << "`\n";
      if (temp.empty()) {
        ctl.err() << "spctl: then edit again (`spctl roles edit " << a.name
                  << " -f " << path << "` applies "
                  << (path == "-" ? "the same input" : "your file")
                  << " to the new version)\n";
      } else {
        ctl.err() << "spctl: " << kept << "\n";
      }
      return kExitError;
    }
    const int rc = ctl.Fail(*st, absl::StrCat("roles edit ", a.name));
    if (!temp.empty()) ctl.err() << "spctl: " << kept << "\n";
    return rc;
  }
  drop_edit();
  if (!ctl.Structured(out)) ctl.out() << "Updated role " << a.name << "\n";
  WarnIfSelectsNoHost(ctl, out);
  return kExitOk;
}

int List(Spctl& ctl) {
  // Every page, as one answer.
  pb::ListRolesResponse resp;
  if (auto rc = CallEveryPage(ctl, ctl.Admin(), &Stub::ListRoles,
                              pb::ListRolesRequest(), "roles ls",
                              [&](pb::ListRolesResponse& page) {
                                resp.mutable_roles()->MergeFrom(page.roles());
                              })) {
    return *rc;
  }
  if (ctl.Structured(resp)) return kExitOk;
  std::vector<std::vector<std::string>> rows;
  for (const pb::Role& r : resp.roles()) {
    const absl::Duration ttl = absl::Seconds(r.max_ttl().seconds());
    rows.push_back({r.name(), absl::StrJoin(r.logins(), ","),
                    Selectors(r.hosts()), absl::StrJoin(r.channels(), ","),
                    ttl == absl::ZeroDuration() ? "8h (default)"
                                                : absl::FormatDuration(ttl),
                    r.record().empty() ? "always" : r.record(),
                    std::to_string(r.deny_size())});
  }
  PrintTable(ctl.out(),
             {"NAME", "LOGINS", "HOSTS", "CHANNELS", "MAX TTL", "RECORD",
              "DENY RULES"},
             rows);
  return kExitOk;
}

int Show(Spctl& ctl, const std::string& name) {
  pb::GetRoleRequest req;
  req.set_name(name);
  pb::Role role;
  if (auto rc = Call(ctl, ctl.Admin(), &Stub::GetRole, req, &role,
                     absl::StrCat("role ", name))) {
    return *rc;
  }
  if (!ctl.Structured(role)) ctl.out() << ProtoToYaml(role);
  return kExitOk;
}

int Remove(Spctl& ctl, const std::string& name) {
  pb::DeleteRoleRequest req;
  req.set_name(name);
  Empty resp;
  if (auto rc = Call(ctl, ctl.Admin(), &Stub::DeleteRole, req, &resp,
                     absl::StrCat("roles rm ", name))) {
    return *rc;
  }
  ctl.out() << "Deleted role " << name << " and its bindings\n";
  return kExitOk;
}

int Bind(Spctl& ctl, const RoleArgs& a, bool add) {
  pb::RoleBinding b;
  b.set_user(a.user);
  b.set_role(a.role);
  if (add) {
    pb::RoleBinding out;
    if (auto rc = Call(ctl, ctl.Admin(), &Stub::BindRole, b, &out,
                       absl::StrCat("bindings add ", a.user, " ", a.role))) {
      return *rc;
    }
    if (!ctl.Structured(out)) {
      ctl.out() << "Bound role " << a.role << " to " << a.user << "\n";
    }
    return kExitOk;
  }
  Empty out;
  if (auto rc = Call(ctl, ctl.Admin(), &Stub::UnbindRole, b, &out,
                     absl::StrCat("bindings rm ", a.user, " ", a.role))) {
    return *rc;
  }
  ctl.out() << "Removed role " << a.role << " from " << a.user << "\n";
  return kExitOk;
}

int ListBindings(Spctl& ctl, const std::string& user) {
  pb::ListRoleBindingsRequest req;
  req.set_user(user);
  pb::ListRoleBindingsResponse resp;
  if (auto rc = Call(ctl, ctl.Admin(), &Stub::ListRoleBindings, req, &resp,
                     "bindings ls")) {
    return *rc;
  }
  if (ctl.Structured(resp)) return kExitOk;
  std::vector<std::vector<std::string>> rows;
  for (const auto& b : resp.bindings()) {
    rows.push_back({b.user(), b.role(), FormatTime(b.created_at())});
  }
  PrintTable(ctl.out(), {"USER", "ROLE", "SINCE (UTC)"}, rows);
  return kExitOk;
}

}  // namespace

void AddRoleCommands(CLI::App& app, Spctl& ctl, Action* action) {
  auto a = std::make_shared<RoleArgs>();
  Spctl* c = &ctl;
  CLI::App* roles = app.add_subcommand("roles", "manage roles (YAML files)");
  roles->require_subcommand(1);

  CLI::App* create =
      roles->add_subcommand("create", "create a role from a YAML file");
  create
      ->add_option("-f,--file", a->file,
                   "the role (YAML, - for stdin; every field: docs/roles.md)")
      ->required();
  create->add_flag("--dry-run", a->dry_run, "print the diff, change nothing");
  OnRun(create, action, [c, a] { return Create(*c, *a); });

  CLI::App* edit = roles->add_subcommand(
      "edit", "edit a role in $EDITOR (or replace it with -f FILE)");
  edit->add_option("NAME", a->name, "the role")->required();
  edit->add_option("-f,--file", a->file,
                   "the new role (YAML, - for stdin) instead of $EDITOR");
  edit->add_flag("--dry-run", a->dry_run, "print the diff, change nothing");
  OnRun(edit, action, [c, a] { return Edit(*c, *a); });

  OnRun(roles->add_subcommand("ls", "list roles"), action,
        [c] { return List(*c); });
  CLI::App* show = roles->add_subcommand("show", "print a role as YAML");
  show->add_option("NAME", a->name, "the role")->required();
  OnRun(show, action, [c, a] { return Show(*c, a->name); });
  CLI::App* rm = roles->add_subcommand("rm", "delete a role and its bindings");
  rm->add_option("NAME", a->name, "the role")->required();
  OnRun(rm, action, [c, a] { return Remove(*c, a->name); });

  CLI::App* bindings =
      app.add_subcommand("bindings", "which users hold which roles");
  bindings->require_subcommand(1);
  CLI::App* badd = bindings->add_subcommand("add", "give USER the role ROLE");
  badd->add_option("USER", a->user, "the user")->required();
  badd->add_option("ROLE", a->role, "the role")->required();
  OnRun(badd, action, [c, a] { return Bind(*c, *a, true); });
  CLI::App* brm =
      bindings->add_subcommand("rm", "take the role ROLE from USER");
  brm->add_option("USER", a->user, "the user")->required();
  brm->add_option("ROLE", a->role, "the role")->required();
  OnRun(brm, action, [c, a] { return Bind(*c, *a, false); });
  CLI::App* bls = bindings->add_subcommand("ls", "list bindings");
  bls->add_option("--user", a->user, "only this user's");
  OnRun(bls, action, [c, a] { return ListBindings(*c, a->user); });
}

}  // namespace sallyport::cli
