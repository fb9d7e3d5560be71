#include "ssh/examples/session.h"

#include <fcntl.h>
#include <pty.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>

#include "absl/strings/str_cat.h"
#include "base/safe_text.h"
#include "ssh/connection/messages.h"
#include "ssh/examples/common.h"

namespace sallyport::ssh::examples {
namespace {

constexpr size_t kReadBuffer = 256 << 10;
// Larger pipes mean fewer wake-ups per megabyte (Linux default: 64 KiB).
constexpr int kPipeSize = 256 << 10;
constexpr char kSftpServer[] = "/usr/lib/openssh/sftp-server";

bool AcceptedEnvName(std::string_view name) {
  return name == "LANG" || name.starts_with("LC_");
}

void SetNonBlockingCloexec(int fd) {
  fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
  fcntl(fd, F_SETFD, FD_CLOEXEC);
}

// Runs in the forked child: only async-signal-safe calls until execve.
[[noreturn]] void ExecChild(const char* path, char* const* argv,
                            char* const* envp, const char* home) {
  sigset_t none;
  sigemptyset(&none);
  sigprocmask(SIG_SETMASK, &none, nullptr);
  signal(SIGPIPE, SIG_DFL);  // the server ignores it; exec keeps SIG_IGN
  closefrom(3);
  if (chdir(home) != 0 && chdir("/") != 0) _exit(126);
  execve(path, argv, envp);
  static const char kMsg[] = "example_server: cannot execute the command\n";
  ssize_t ignored = write(2, kMsg, sizeof(kMsg) - 1);
  (void)ignored;
  _exit(127);
}

}  // namespace

void Channel::OnRequest(std::string_view, bool want_reply, wire::Bytes) {
  Reply(want_reply, false);
}

void Channel::Reply(bool want_reply, bool ok) {
  if (!want_reply) return;
  if (connection::Connection* c = connection()) {
    (void)c->ReplyRequest(id_, ok);
    Flush();
  }
}

Session::Session(asio::any_io_executor executor, ChannelHost* host, uint32_t id,
                 ChildReaper& reaper, std::shared_ptr<const LoginInfo> login)
    : Channel(host, id),
      reaper_(reaper),
      login_(std::move(login)),
      stdin_(executor),
      stdout_(executor),
      stderr_(executor),
      in_(&stdin_),
      out_(&stdout_, 0, kReadBuffer),
      err_(&stderr_, connection::kExtendedDataStderr, kReadBuffer) {}

Session::~Session() { CloseStreams(); }

void Session::CloseStreams() {
  asio::error_code ignored;
  stdin_.close(ignored);
  stdout_.close(ignored);
  stderr_.close(ignored);
  pty_master_ = -1;
}

void Session::OnData(uint32_t stream, wire::Bytes data) {
  if (stream != 0 || !started_) {
    // Extended data towards the server, or data before exec: dropped.
    if (connection::Connection* c = connection()) c->Consume(id_, data.size());
    return;
  }
  in_.Write(*this, data);
}

void Session::OnEof() {
  // A pty cannot be half-closed; the shell ends by itself.
  if (pty_master_ < 0) in_.Finish(*this);
}

void Session::OnRequest(std::string_view type, bool want_reply,
                        wire::Bytes data) {
  const auto& permissions = login_->permissions;
  if (type == "pty-req") {
    auto pty = connection::PtyRequest::Parse(data);
    const bool allowed = !permissions.has_value() || permissions->permit_pty;
    if (!pty.ok() || started_ || pty_.has_value() || !allowed) {
      Reply(want_reply, false);
      return;
    }
    pty_ = *pty;
    Reply(want_reply, true);
  } else if (type == "env") {
    auto env = connection::EnvRequest::Parse(data);
    const bool ok = env.ok() && !started_ && AcceptedEnvName(env->name);
    if (ok) env_.emplace_back(env->name, env->value);
    Reply(want_reply, ok);
  } else if (type == "window-change") {
    auto change = connection::WindowChange::Parse(data);
    if (!change.ok() || pty_master_ < 0) {
      Reply(want_reply, false);
      return;
    }
    struct winsize ws = {};
    ws.ws_row = static_cast<unsigned short>(change->rows);
    ws.ws_col = static_cast<unsigned short>(change->columns);
    ws.ws_xpixel = static_cast<unsigned short>(change->width_px);
    ws.ws_ypixel = static_cast<unsigned short>(change->height_px);
    // The kernel sends SIGWINCH to the terminal's foreground group.
    Reply(want_reply, ioctl(pty_master_, TIOCSWINSZ, &ws) == 0);
  } else if (type == "exec" || type == "subsystem") {
    auto command = connection::ParseStringRequest(data);
    absl::Status s = command.ok() ? Start(type, *command) : command.status();
    if (!s.ok()) Log(absl::StrCat("session ", id_, ": ", s.ToString()));
    Reply(want_reply, s.ok());
  } else if (type == "shell") {
    absl::Status s = Start(type, "");
    if (!s.ok()) Log(absl::StrCat("session ", id_, ": ", s.ToString()));
    Reply(want_reply, s.ok());
  } else if (type == "signal") {
    auto name = connection::ParseStringRequest(data, 64);
    const int sig = name.ok() ? connection::SignalNumber(*name) : 0;
    const bool ok = sig != 0 && pid_ > 0 && !child_exited_;
    if (ok) kill(pid_, sig);
    Reply(want_reply, ok);
  } else {
    Reply(want_reply, false);
  }
}

absl::Status Session::Start(std::string_view kind, const std::string& command) {
  if (started_)
    return absl::FailedPreconditionError("a command is already running");
  std::string path = "/bin/sh";
  std::vector<std::string> argv;
  if (login_->permissions.has_value() &&
      login_->permissions->force_command.has_value()) {
    // The certificate's force-command replaces exec, shell and subsystem.
    argv = {"sh", "-c", *login_->permissions->force_command};
  } else if (kind == "exec") {
    argv = {"sh", "-c", command};
  } else if (kind == "subsystem") {
    if (command != "sftp") {
      return absl::NotFoundError(
          absl::StrCat("unknown subsystem ", base::SafeText(command)));
    }
    path = kSftpServer;
    argv = {"sftp-server"};
  } else {
    if (!login_->shell.empty()) path = login_->shell;
    // argv[0] "-bash": the shell runs as a login shell.
    argv = {absl::StrCat("-", path.substr(path.rfind('/') + 1))};
  }
  absl::Status s =
      Spawn(path, argv, Environment(kind == "shell" ? "" : command));
  if (s.ok()) {
    Log(absl::StrCat("session ", id_, ": started ", std::string(kind),
                     " as pid ", pid_, pty_.has_value() ? " with a pty" : ""));
  }
  return s;
}

std::vector<std::string> Session::Environment(
    const std::string& original_command) const {
  std::vector<std::string> env = {
      "USER=" + login_->user,
      "LOGNAME=" + login_->user,
      "HOME=" + login_->home,
      "SHELL=" + (login_->shell.empty() ? "/bin/sh" : login_->shell),
      "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
      "MAIL=/var/mail/" + login_->user,
      "SSH_CONNECTION=" + login_->ssh_connection,
  };
  if (pty_.has_value()) {
    env.push_back("TERM=" + (pty_->term.empty() ? "dumb" : pty_->term));
  }
  if (login_->permissions.has_value() &&
      login_->permissions->force_command.has_value() &&
      !original_command.empty()) {
    env.push_back("SSH_ORIGINAL_COMMAND=" + original_command);
  }
  for (const auto& [name, value] : env_) env.push_back(name + "=" + value);
  return env;
}

absl::Status Session::Spawn(const std::string& path,
                            const std::vector<std::string>& args,
                            const std::vector<std::string>& env) {
  // Everything the child needs is prepared before fork.
  std::vector<std::string> argv_storage = args;
  std::vector<char*> argv;
  for (auto& a : argv_storage) argv.push_back(a.data());
  argv.push_back(nullptr);
  std::vector<std::string> env_storage = env;
  std::vector<char*> envp;
  for (auto& e : env_storage) envp.push_back(e.data());
  envp.push_back(nullptr);
  const std::string home = login_->home.empty() ? "/" : login_->home;

  asio::error_code ec;
  if (pty_.has_value()) {
    struct winsize ws = {};
    ws.ws_row = static_cast<unsigned short>(pty_->rows);
    ws.ws_col = static_cast<unsigned short>(pty_->columns);
    ws.ws_xpixel = static_cast<unsigned short>(pty_->width_px);
    ws.ws_ypixel = static_cast<unsigned short>(pty_->height_px);
    int master = -1;
    pid_t pid = forkpty(&master, nullptr, nullptr, &ws);
    if (pid < 0)
      return absl::InternalError(absl::StrCat("forkpty: ", strerror(errno)));
    if (pid == 0)
      ExecChild(path.c_str(), argv.data(), envp.data(), home.c_str());
    pid_ = pid;
    SetNonBlockingCloexec(master);
    int writer = fcntl(master, F_DUPFD_CLOEXEC, 0);
    stdout_.assign(master, ec);
    if (!ec && writer >= 0) stdin_.assign(writer, ec);
    pty_master_ = master;
    err_.Abandon();  // a pty has no separate stderr
  } else {
    int in[2], out[2], err[2];
    if (pipe2(in, O_CLOEXEC) != 0) {
      return absl::InternalError(absl::StrCat("pipe: ", strerror(errno)));
    }
    if (pipe2(out, O_CLOEXEC) != 0) {
      close(in[0]);
      close(in[1]);
      return absl::InternalError(absl::StrCat("pipe: ", strerror(errno)));
    }
    if (pipe2(err, O_CLOEXEC) != 0) {
      for (int fd : {in[0], in[1], out[0], out[1]}) close(fd);
      return absl::InternalError(absl::StrCat("pipe: ", strerror(errno)));
    }
    fcntl(out[1], F_SETPIPE_SZ, kPipeSize);
    fcntl(in[1], F_SETPIPE_SZ, kPipeSize);
    pid_t pid = fork();
    if (pid < 0) {
      for (int fd : {in[0], in[1], out[0], out[1], err[0], err[1]}) close(fd);
      return absl::InternalError(absl::StrCat("fork: ", strerror(errno)));
    }
    if (pid == 0) {
      setsid();
      dup2(in[0], 0);
      dup2(out[1], 1);
      dup2(err[1], 2);
      ExecChild(path.c_str(), argv.data(), envp.data(), home.c_str());
    }
    pid_ = pid;
    close(in[0]);
    close(out[1]);
    close(err[1]);
    for (int fd : {in[1], out[0], err[0]}) SetNonBlockingCloexec(fd);
    stdin_.assign(in[1], ec);
    if (!ec) stdout_.assign(out[0], ec);
    if (!ec) stderr_.assign(err[0], ec);
  }
  started_ = true;
  std::weak_ptr<Channel> weak = shared_from_this();
  reaper_.Watch(pid_, [weak](int status) {
    if (auto self = weak.lock())
      static_cast<Session*>(self.get())->OnChildExit(status);
  });
  if (ec) {
    CloseStreams();
    kill(pid_, SIGKILL);
    return absl::InternalError(absl::StrCat("descriptor: ", ec.message()));
  }
  Pump();
  return absl::OkStatus();
}

void Session::OnChildExit(int wait_status) {
  child_exited_ = true;
  wait_status_ = wait_status;
  if (WIFSIGNALED(wait_status)) {
    Log(absl::StrCat("session ", id_, ": pid ", pid_, " killed by signal ",
                     WTERMSIG(wait_status)));
  } else {
    Log(absl::StrCat("session ", id_, ": pid ", pid_, " exited with status ",
                     WEXITSTATUS(wait_status)));
  }
  MaybeFinish();
}

void Session::Pump() {
  if (host_ == nullptr) return;
  out_.Pump(*this);
  err_.Pump(*this);
  MaybeFinish();
}

void Session::MaybeFinish() {
  if (finished_ || !child_exited_ || !out_.done() || !err_.done()) return;
  connection::Connection* conn = connection();
  if (conn == nullptr) return;
  finished_ = true;
  if (WIFSIGNALED(wait_status_)) {
    connection::ExitSignal signal;
    signal.signal = connection::SignalName(WTERMSIG(wait_status_));
    signal.core_dumped = WCOREDUMP(wait_status_);
    (void)conn->SendRequest(id_, "exit-signal", false, signal.Serialize());
  } else {
    (void)conn->SendRequest(
        id_, "exit-status", false,
        connection::SerializeExitStatus(
            static_cast<uint32_t>(WEXITSTATUS(wait_status_))));
  }
  (void)conn->SendEof(id_);
  (void)conn->Close(id_);
  Flush();
  CloseStreams();
}

void Session::Shutdown() {
  Channel::Shutdown();
  CloseStreams();
  out_.Abandon();
  err_.Abandon();
  if (pid_ > 0 && !child_exited_) {
    // As sshd does when the channel goes away: hang up.
    kill(-pid_, SIGHUP);
    kill(pid_, SIGHUP);
  }
}

}  // namespace sallyport::ssh::examples
