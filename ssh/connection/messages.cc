#include "ssh/connection/messages.h"

#include <signal.h>

#include <utility>

#include "absl/strings/str_cat.h"
#include "base/status_macros.h"
#include "ssh/wire/writer.h"

namespace sallyport::ssh::connection {

absl::StatusOr<PtyRequest> PtyRequest::Parse(Bytes data) {
  wire::Reader r(data);
  PtyRequest p;
  ASSIGN_OR_RETURN(std::string_view term, r.ReadCString(256));
  p.term = std::string(term);
  ASSIGN_OR_RETURN(p.columns, r.ReadUint32());
  ASSIGN_OR_RETURN(p.rows, r.ReadUint32());
  ASSIGN_OR_RETURN(p.width_px, r.ReadUint32());
  ASSIGN_OR_RETURN(p.height_px, r.ReadUint32());
  ASSIGN_OR_RETURN(std::string_view modes, r.ReadStringView(4096));
  // §8: opcode bytes 1..159 each with a uint32 argument, up to TTY_OP_END
  // (0) or an opcode of 160..255 (which stops parsing). One cut short is
  // refused here: sshd ends the connection on it.
  for (size_t i = 0; i < modes.size();) {
    const auto op = static_cast<unsigned char>(modes[i]);
    if (op == 0 || op >= 160) break;
    if (modes.size() - i < 5) {
      return absl::InvalidArgumentError(
          absl::StrCat("terminal mode ", op, " without its 4-byte argument"));
    }
    i += 5;
  }
  p.modes = std::string(modes);
  RETURN_IF_ERROR(r.ExpectEnd());
  return p;
}

std::vector<uint8_t> PtyRequest::Serialize() const {
  wire::Writer w;
  w.String(term)
      .Uint32(columns)
      .Uint32(rows)
      .Uint32(width_px)
      .Uint32(height_px)
      .String(modes);
  return w.Take();
}

absl::StatusOr<WindowChange> WindowChange::Parse(Bytes data) {
  wire::Reader r(data);
  WindowChange c;
  ASSIGN_OR_RETURN(c.columns, r.ReadUint32());
  ASSIGN_OR_RETURN(c.rows, r.ReadUint32());
  ASSIGN_OR_RETURN(c.width_px, r.ReadUint32());
  ASSIGN_OR_RETURN(c.height_px, r.ReadUint32());
  RETURN_IF_ERROR(r.ExpectEnd());
  return c;
}

std::vector<uint8_t> WindowChange::Serialize() const {
  wire::Writer w;
  w.Uint32(columns).Uint32(rows).Uint32(width_px).Uint32(height_px);
  return w.Take();
}

absl::StatusOr<EnvRequest> EnvRequest::Parse(Bytes data) {
  wire::Reader r(data);
  EnvRequest e;
  ASSIGN_OR_RETURN(std::string_view name, r.ReadCString(256));
  ASSIGN_OR_RETURN(std::string_view value, r.ReadCString(16 * 1024));
  RETURN_IF_ERROR(r.ExpectEnd());
  e.name = std::string(name);
  e.value = std::string(value);
  return e;
}

std::vector<uint8_t> EnvRequest::Serialize() const {
  wire::Writer w;
  w.String(name).String(value);
  return w.Take();
}

absl::StatusOr<ExitSignal> ExitSignal::Parse(Bytes data) {
  wire::Reader r(data);
  ExitSignal s;
  ASSIGN_OR_RETURN(std::string_view sig, r.ReadCString(64));
  ASSIGN_OR_RETURN(s.core_dumped, r.ReadBool());
  ASSIGN_OR_RETURN(std::string_view msg, r.ReadStringView(4096));
  ASSIGN_OR_RETURN(std::string_view lang, r.ReadStringView(256));
  RETURN_IF_ERROR(r.ExpectEnd());
  s.signal = std::string(sig);
  s.message = std::string(msg);
  s.language = std::string(lang);
  return s;
}

std::vector<uint8_t> ExitSignal::Serialize() const {
  wire::Writer w;
  w.String(signal).Bool(core_dumped).String(message).String(language);
  return w.Take();
}

absl::StatusOr<DirectTcpip> DirectTcpip::Parse(Bytes data) {
  wire::Reader r(data);
  DirectTcpip d;
  ASSIGN_OR_RETURN(std::string_view host, r.ReadCString(1024));
  ASSIGN_OR_RETURN(d.port, r.ReadUint32());
  ASSIGN_OR_RETURN(std::string_view orig, r.ReadCString(1024));
  ASSIGN_OR_RETURN(d.originator_port, r.ReadUint32());
  RETURN_IF_ERROR(r.ExpectEnd());
  if (d.port > 65535 || d.originator_port > 65535) {
    return absl::InvalidArgumentError("port out of range");
  }
  d.host = std::string(host);
  d.originator_address = std::string(orig);
  return d;
}

std::vector<uint8_t> DirectTcpip::Serialize() const {
  wire::Writer w;
  w.String(host)
      .Uint32(port)
      .String(originator_address)
      .Uint32(originator_port);
  return w.Take();
}

absl::StatusOr<std::string> ParseStringRequest(Bytes data,
                                               uint32_t max_length) {
  wire::Reader r(data);
  ASSIGN_OR_RETURN(std::string_view s, r.ReadCString(max_length));
  RETURN_IF_ERROR(r.ExpectEnd());
  return std::string(s);
}

std::vector<uint8_t> SerializeStringRequest(std::string_view s) {
  wire::Writer w;
  w.String(s);
  return w.Take();
}

absl::StatusOr<uint32_t> ParseExitStatus(Bytes data) {
  wire::Reader r(data);
  ASSIGN_OR_RETURN(uint32_t status, r.ReadUint32());
  RETURN_IF_ERROR(r.ExpectEnd());
  return status;
}

std::vector<uint8_t> SerializeExitStatus(uint32_t status) {
  wire::Writer w;
  w.Uint32(status);
  return w.Take();
}

namespace {

constexpr std::pair<std::string_view, int> kSignals[] = {
    {"ABRT", SIGABRT}, {"ALRM", SIGALRM}, {"FPE", SIGFPE},   {"HUP", SIGHUP},
    {"ILL", SIGILL},   {"INT", SIGINT},   {"KILL", SIGKILL}, {"PIPE", SIGPIPE},
    {"QUIT", SIGQUIT}, {"SEGV", SIGSEGV}, {"TERM", SIGTERM}, {"USR1", SIGUSR1},
    {"USR2", SIGUSR2},
};

}  // namespace

int SignalNumber(std::string_view name) {
  for (const auto& [n, sig] : kSignals) {
    if (name == n) return sig;
  }
  return 0;
}

std::string SignalName(int signal_number) {
  for (const auto& [n, sig] : kSignals) {
    if (sig == signal_number) return std::string(n);
  }
  return "SIG@openssh.com";
}

}  // namespace sallyport::ssh::connection
