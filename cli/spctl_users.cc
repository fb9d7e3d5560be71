// spctl users ...: add, ls, show, edit, disable, enable, rm,
// reset-password, unlock, totp-enroll, totp-remove.
#include <openssl/rand.h>

#include <algorithm>
#include <functional>
#include <optional>
#include <ostream>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "base/files.h"
#include "base/safe_text.h"
#include "cli/qr_terminal.h"
#include "cli/spctl.h"
#include "cli/spctl_output.pb.h"

namespace sallyport::cli {
namespace {

namespace pb = admin::v1;
using Stub = pb::Admin::Stub;
using google::protobuf::Empty;

struct UserArgs {
  std::string name;
  std::string display_name;
  std::string password_file;
  std::vector<std::string> roles;
  bool disabled = false;
};

std::string UserState(const pb::User& u) {
  if (u.disabled()) return "disabled";
  if (u.lockouts_size() == 1) {
    return absl::StrCat("locked out at ", u.lockouts(0).source(), " until ",
                        FormatTime(u.locked_until()), " UTC");
  }
  if (u.lockouts_size() > 1) {
    return absl::StrCat("locked out at ", u.lockouts_size(), " sources until ",
                        FormatTime(u.locked_until()), " UTC");
  }
  if (u.has_locked_until() && u.locked_until().seconds() > time(nullptr)) {
    return absl::StrCat("locked until ", FormatTime(u.locked_until()), " UTC");
  }
  return "active";
}

int GetUser(Spctl& ctl, const std::string& name, pb::User* user) {
  pb::GetUserRequest req;
  req.set_name(name);
  if (auto rc = Call(ctl, ctl.Admin(), &Stub::GetUser, req, user,
                     absl::StrCat("user ", name))) {
    return *rc;
  }
  return kExitOk;
}

// Reads user `name`, applies `change` and updates the user on the condition
// that it is still the version read (ChangeRecord: re-read and reapplied
// when another admin changed it in between).
int ChangeUser(Spctl& ctl, const std::string& name,
               const std::function<void(pb::User*)>& change,
               std::string_view done) {
  pb::User resp;
  if (int rc = ChangeRecord(
          ctl, absl::StrCat("user ", name),
          [&](pb::User* u) { return GetUser(ctl, name, u); }, change,
          &Stub::UpdateUser, &resp);
      rc != kExitOk) {
    return rc;
  }
  if (!ctl.Structured(resp)) ctl.out() << done << "\n";
  return kExitOk;
}

// 18 random bytes as URL-safe base64: 24 characters.
std::string RandomPassword() {
  std::string raw(18, '\0');
  if (RAND_bytes(reinterpret_cast<unsigned char*>(raw.data()),
                 static_cast<int>(raw.size())) != 1) {
    return "";
  }
  std::string out = absl::WebSafeBase64Escape(raw);
  OPENSSL_cleanse(raw.data(), raw.size());
  return out;
}

int Add(Spctl& ctl, const UserArgs& a) {
  // A role given twice (`--role dev --role dev`) is bound once: its second
  // binding was refused (ALREADY_EXISTS) and the new user removed again.
  std::vector<std::string> roles;
  for (const std::string& role : a.roles) {
    if (std::find(roles.begin(), roles.end(), role) == roles.end()) {
      roles.push_back(role);
    }
  }
  // Every role first: a user created without the role asked for (a typo)
  // would be left half-made.
  for (const std::string& role : roles) {
    pb::GetRoleRequest get;
    get.set_name(role);
    pb::Role found;
    if (auto rc = Call(ctl, ctl.Admin(), &Stub::GetRole, get, &found,
                       absl::StrCat("users add ", a.name, ": role ", role))) {
      ctl.err() << "spctl: user " << a.name << " was not created\n";
      return *rc;
    }
  }
  pb::CreateUserRequest req;
  req.mutable_user()->set_name(a.name);
  req.mutable_user()->set_display_name(a.display_name);
  req.mutable_user()->set_disabled(a.disabled);
  if (!a.password_file.empty()) {
    absl::StatusOr<std::string> pw = base::ReadFirstLine(a.password_file);
    if (!pw.ok()) return ctl.Error(pw.status().message());
    req.set_password(*pw);
    OPENSSL_cleanse(pw->data(), pw->size());
  }
  pb::User user;
  std::optional<int> rc = Call(ctl, ctl.Admin(), &Stub::CreateUser, req, &user,
                               absl::StrCat("users add ", a.name));
  OPENSSL_cleanse(req.mutable_password()->data(), req.password().size());
  if (rc) return *rc;
  for (const std::string& role : roles) {
    pb::RoleBinding b;
    b.set_user(a.name);
    b.set_role(role);
    pb::RoleBinding out;
    if (auto rc2 = Call(ctl, ctl.Admin(), &Stub::BindRole, b, &out,
                        absl::StrCat("users add ", a.name, ": role ", role))) {
      // (The role went away since the check above.) Not half-made: the
      // new user goes again.
      pb::DeleteUserRequest undo;
      undo.set_name(a.name);
      Empty none;
      const bool undone =
          !Call(ctl, ctl.Admin(), &Stub::DeleteUser, undo, &none,
                absl::StrCat("users add ", a.name, ": removing it again"));
      ctl.err() << "spctl: user " << a.name
                << (undone ? " was removed again\n"
                           : " is left without roles\n");
      return *rc2;
    }
  }
  std::vector<std::string> sorted = roles;
  std::sort(sorted.begin(), sorted.end());
  for (const std::string& role : sorted) user.add_roles(role);
  if (!ctl.Structured(user)) {
    ctl.out() << "Created user " << a.name;
    if (!roles.empty())
      ctl.out() << " with roles " << absl::StrJoin(roles, ", ");
    ctl.out() << "\n";
    if (a.password_file.empty()) {
      ctl.out() << "No password yet: set one with `spctl users reset-password "
                << a.name << "`\n";
    }
  }
  return kExitOk;
}

int List(Spctl& ctl) {
  // Every page, as one answer.
  pb::ListUsersResponse resp;
  if (auto rc = CallEveryPage(ctl, ctl.Admin(), &Stub::ListUsers,
                              pb::ListUsersRequest(), "users ls",
                              [&](pb::ListUsersResponse& page) {
                                resp.mutable_users()->MergeFrom(page.users());
                              })) {
    return *rc;
  }
  if (ctl.Structured(resp)) return kExitOk;
  // Display names are escaped (base::EscapeControls): the CA refuses
  // controls, bidirectional and invisible characters in them, but a name
  // stored before it did is shown, not printed as it is.
  std::vector<std::vector<std::string>> rows;
  for (const pb::User& u : resp.users()) {
    rows.push_back({u.name(), UserState(u), absl::StrJoin(u.roles(), ","),
                    u.has_password() ? "yes" : "no",
                    u.has_totp() ? "yes" : "no",
                    base::EscapeControls(u.display_name())});
  }
  PrintTable(ctl.out(),
             {"NAME", "STATE", "ROLES", "PASSWORD", "TOTP", "DISPLAY NAME"},
             rows);
  return kExitOk;
}

int Show(Spctl& ctl, const std::string& name) {
  pb::User u;
  if (int rc = GetUser(ctl, name, &u); rc != kExitOk) return rc;
  if (ctl.Structured(u)) return kExitOk;
  ctl.out() << "Name:            " << u.name() << "\n"
            << "Display name:    " << base::EscapeControls(u.display_name())
            << "\n"
            << "State:           " << UserState(u) << "\n"
            << "Roles:           " << absl::StrJoin(u.roles(), ", ") << "\n"
            << "Password:        " << (u.has_password() ? "set" : "not set")
            << "\n"
            << "TOTP:            "
            << (u.has_totp() ? "enrolled" : "not enrolled") << "\n"
            << "Failed attempts: " << u.failed_attempts() << "\n";
  // A lock holds at its source only: the user may log in from elsewhere.
  if (u.lockouts().empty()) ctl.out() << "Locked out:      no\n";
  for (int i = 0; i < u.lockouts_size(); ++i) {
    ctl.out() << (i == 0 ? "Locked out:      " : "                 ") << "at "
              << u.lockouts(i).source() << " until "
              << FormatTime(u.lockouts(i).locked_until()) << " UTC\n";
  }
  if (!u.lockouts().empty()) {
    ctl.out() << "                 (after failed logins; `spctl users unlock "
              << u.name() << "` ends it)\n";
  }
  ctl.out() << "Created:         " << FormatTime(u.created_at()) << " UTC\n";
  return kExitOk;
}

int Unlock(Spctl& ctl, const std::string& name) {
  // Read first, to say whether there was a lockout to end: the call ends
  // locks and clears the failure count either way (also the locks other
  // CA instances hold, which this one does not list).
  pb::User before;
  if (int rc = GetUser(ctl, name, &before); rc != kExitOk) return rc;
  pb::UnlockUserRequest req;
  req.set_user(name);
  Empty resp;
  if (auto rc = Call(ctl, ctl.Admin(), &Stub::UnlockUser, req, &resp,
                     absl::StrCat("users unlock ", name))) {
    return *rc;
  }
  if (before.lockouts().empty()) {
    ctl.out() << "User " << name << " was not locked out";
    if (before.failed_attempts() > 0) {
      ctl.out() << "; their count of failed logins ("
                << before.failed_attempts() << ") is reset";
    }
    ctl.out() << "\n";
    return kExitOk;
  }
  std::vector<std::string> sources;
  for (const pb::Lockout& l : before.lockouts()) sources.push_back(l.source());
  ctl.out() << "Unlocked user " << name << " (locked out at "
            << absl::StrJoin(sources, ", ") << ")\n";
  return kExitOk;
}

int SetDisabled(Spctl& ctl, const std::string& name, bool disabled) {
  return ChangeUser(
      ctl, name, [disabled](pb::User* u) { u->set_disabled(disabled); },
      disabled ? absl::StrCat("Disabled user ", name,
                              "; their certificates are revoked and their "
                              "sessions end")
               : absl::StrCat("Enabled user ", name,
                              "; they log in again with `sp login`"));
}

int Edit(Spctl& ctl, const UserArgs& a, bool display_name_given) {
  if (!display_name_given) {
    return ctl.Error("nothing to change: pass --display-name TEXT", kExitUsage);
  }
  return ChangeUser(
      ctl, a.name, [&a](pb::User* u) { u->set_display_name(a.display_name); },
      absl::StrCat("Updated user ", a.name));
}

int ResetPassword(Spctl& ctl, const UserArgs& a) {
  pb::SetPasswordRequest req;
  req.set_user(a.name);
  const bool generated = a.password_file.empty();
  if (generated) {
    req.set_password(RandomPassword());
    if (req.password().empty())
      return ctl.Error("cannot make a random password");
  } else {
    absl::StatusOr<std::string> pw = base::ReadFirstLine(a.password_file);
    if (!pw.ok()) return ctl.Error(pw.status().message());
    req.set_password(*pw);
    OPENSSL_cleanse(pw->data(), pw->size());
  }
  Empty resp;
  std::optional<int> rc = Call(ctl, ctl.Admin(), &Stub::SetPassword, req, &resp,
                               absl::StrCat("users reset-password ", a.name));
  if (!rc) {
    spctl::PasswordReset done;
    done.set_user(a.name);
    done.set_generated(generated);
    if (generated) done.set_password(req.password());
    if (!ctl.Structured(done)) {
      if (generated) {
        ctl.out() << "New password for " << a.name << ": " << req.password()
                  << "\n";
      } else {
        ctl.out() << "Set a new password for " << a.name << "\n";
      }
    }
    OPENSSL_cleanse(done.mutable_password()->data(), done.password().size());
  }
  OPENSSL_cleanse(req.mutable_password()->data(), req.password().size());
  return rc.value_or(kExitOk);
}

template <typename Req>
int Simple(Spctl& ctl,
           grpc::Status (Stub::*method)(grpc::ClientContext*, const Req&,
                                        Empty*),
           const Req& req, const std::string& what, const std::string& done) {
  Empty resp;
  if (auto rc = Call(ctl, ctl.Admin(), method, req, &resp, what)) return *rc;
  ctl.out() << done << "\n";
  return kExitOk;
}

int TotpEnroll(Spctl& ctl, const std::string& name) {
  pb::EnrollTotpRequest req;
  req.set_user(name);
  pb::EnrollTotpResponse resp;
  if (auto rc = Call(ctl, ctl.Admin(), &Stub::EnrollTotp, req, &resp,
                     absl::StrCat("users totp-enroll ", name))) {
    return *rc;
  }
  if (ctl.Structured(resp)) return kExitOk;
  ctl.out() << "TOTP enrolled for " << name
            << ". Give the user this URI (or the QR code) for an "
               "authenticator app:\n"
            << resp.otpauth_uri() << "\n";
  absl::StatusOr<std::string> qr = TerminalQrCode(resp.otpauth_uri());
  if (qr.ok()) {
    ctl.out() << *qr;
  } else {
    ctl.err() << "spctl: note: no QR code: " << qr.status().message() << "\n";
  }
  return kExitOk;
}

}  // namespace

void AddUserCommands(CLI::App& app, Spctl& ctl, Action* action) {
  CLI::App* users = app.add_subcommand("users", "manage users");
  users->require_subcommand(1);
  auto a = std::make_shared<UserArgs>();
  Spctl* c = &ctl;

  CLI::App* add = users->add_subcommand("add", "create a user");
  add->add_option("NAME", a->name, "the user name")->required();
  add->add_option("--password-file", a->password_file,
                  "read the initial password from the first line of FILE "
                  "(- for stdin; 8..1024 bytes, no control characters)");
  add->add_option("--role", a->roles, "bind this role (repeatable)");
  add->add_option("--display-name", a->display_name, "free text");
  add->add_flag("--disabled", a->disabled, "create the user disabled");
  OnRun(add, action, [c, a] { return Add(*c, *a); });

  OnRun(users->add_subcommand("ls", "list users"), action,
        [c] { return List(*c); });

  auto one = [&](const char* verb, const char* help,
                 std::function<int(Spctl&, const std::string&)> run) {
    CLI::App* sub = users->add_subcommand(verb, help);
    sub->add_option("NAME", a->name, "the user name")->required();
    OnRun(sub, action, [c, a, run] { return run(*c, a->name); });
    return sub;
  };
  one("show", "show a user", Show);
  one("disable",
      "forbid logins; revokes their certificates, which ends their sessions",
      [](Spctl& ctl, const std::string& n) {
        return SetDisabled(ctl, n, true);
      });
  one("enable", "allow logins again", [](Spctl& ctl, const std::string& n) {
    return SetDisabled(ctl, n, false);
  });
  one("rm",
      "delete a user, their bindings and credentials; revoke their "
      "certificates",
      [](Spctl& ctl, const std::string& n) {
        pb::DeleteUserRequest req;
        req.set_name(n);
        return Simple(ctl, &Stub::DeleteUser, req, absl::StrCat("users rm ", n),
                      absl::StrCat("Deleted user ", n));
      });
  one("unlock",
      "end a lockout after failed logins (says so when there was none)",
      Unlock);
  one("totp-enroll",
      "make a new TOTP secret; prints the otpauth:// URI and "
      "a QR code",
      TotpEnroll);
  one("totp-remove", "remove the user's TOTP secret",
      [](Spctl& ctl, const std::string& n) {
        pb::RemoveTotpRequest req;
        req.set_user(n);
        return Simple(ctl, &Stub::RemoveTotp, req,
                      absl::StrCat("users totp-remove ", n),
                      absl::StrCat("Removed the TOTP secret of ", n));
      });

  CLI::App* edit =
      users->add_subcommand("edit", "change a user's display name");
  edit->add_option("NAME", a->name, "the user name")->required();
  CLI::Option* dn =
      edit->add_option("--display-name", a->display_name, "free text");
  OnRun(edit, action, [c, a, dn] { return Edit(*c, *a, dn->count() > 0); });

  CLI::App* reset = users->add_subcommand(
      "reset-password",
      "set a new password (random and printed unless --password-file; with "
      "--output json|yaml: user, generated, password)");
  reset->add_option("NAME", a->name, "the user name")->required();
  reset->add_option("--password-file", a->password_file,
                    "read the password from the first line of FILE (- for "
                    "stdin; 8..1024 bytes, no control characters)");
  OnRun(reset, action, [c, a] { return ResetPassword(*c, *a); });
}

}  // namespace sallyport::cli
