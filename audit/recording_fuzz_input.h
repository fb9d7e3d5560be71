// Shared by the audit fuzz targets that build recordings: records built
// from the fuzzer's bytes (every kind, valid by construction, so that the
// targets get past ValidateRecord and exercise the chain, the spool frames
// and the Store rows rather than the first refusal). The entry point and
// the byte reader are in audit/fuzz_input.h.
#ifndef SALLYPORT_AUDIT_RECORDING_FUZZ_INPUT_H_
#define SALLYPORT_AUDIT_RECORDING_FUZZ_INPUT_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>

#include "audit/fuzz_input.h"
#include "audit/recording_record.h"
#include "proto/audit.pb.h"

namespace sallyport::audit::fuzz {

// A session's metadata with a spoolable id ([a-z0-9-]).
inline v1::RecordingSession MakeSession(ByteReader& in) {
  auto name = [&](std::string_view prefix) {
    std::string out(prefix);
    for (char c : in.Bytes(12)) {
      out.push_back("abcdefghijklmnopqrstuvwxyz0123456789-"[(c & 0xff) % 37]);
    }
    return out;
  };
  v1::RecordingSession s;
  s.set_session_id(name("s-"));
  s.set_user(name("u"));
  s.set_login(name("l"));
  s.set_host(name("h"));
  s.set_gateway_id("gw-fuzz");
  s.set_started_at_us(1700000000000000 + (in.U32() & 0xffffff));
  return s;
}

// The session_start record of `session` (a recording's first record since
// schema version 14).
inline v1::RecordingRecord MakeStart(const v1::RecordingSession& session) {
  v1::RecordingRecord r;
  v1::SessionStartRecord* s = r.mutable_session_start();
  s->set_user(session.user());
  s->set_login(session.login());
  s->set_host(session.host());
  s->set_started_at_us(session.started_at_us());
  return r;
}

// One record of any kind but session_start, which only comes first
// (MakeStart); session id, seq and hash left for the chainer.
inline v1::RecordingRecord MakeRecord(ByteReader& in) {
  v1::RecordingRecord r;
  r.set_channel_id(in.U8() % 4);
  r.set_offset_us(in.U32());
  auto direction = [&]() {
    return static_cast<v1::RecordDirection>(in.U8() % 3);
  };
  switch (in.U8() % 7) {
    case 0: {
      auto* d = r.mutable_data();
      d->set_direction(direction());
      d->set_ssh_stream(in.U8() % 2);
      d->set_bytes(in.Bytes(200));
      break;
    }
    case 1: {
      auto* q = r.mutable_request();
      q->set_direction(direction());
      static constexpr const char* kTypes[] = {
          "exec", "subsystem", "pty-req", "exit-status", "shell", "env"};
      q->set_type(kTypes[in.U8() % 6]);
      q->set_summary(in.Text(40));
      // Any bytes as sent: beside their summary when it is not them.
      if (in.U8() % 2 == 1) {
        std::string raw = in.Bytes(60);
        std::string text = RecordText(raw);
        if (text != raw) {
          q->set_summary(std::move(text));
          q->set_raw(std::move(raw));
        }
      }
      break;
    }
    case 2:
      r.mutable_window_change()->set_columns(in.U32());
      r.mutable_window_change()->set_rows(in.U32());
      break;
    case 3:
      r.mutable_channel_open()->set_type(in.U8() % 2 ? "session"
                                                     : "direct-tcpip");
      r.mutable_channel_open()->set_destination(in.Text(24));
      break;
    case 4:
      r.mutable_channel_close()->set_bytes_input(in.U64() >> 1);
      r.mutable_channel_close()->set_bytes_output(in.U64() >> 1);
      break;
    case 5: {
      auto* s = r.mutable_stream_summary();
      s->set_direction(direction());
      s->set_ssh_stream(in.U8() % 2);
      s->set_total_bytes(in.U64() >> 1);
      s->set_recorded_bytes(in.U64() >> 1);
      std::string sha = in.Bytes(32);
      sha.resize(32, '\x5a');
      s->set_sha256(sha);
      break;
    }
    default:
      r.mutable_session_end()->set_status(
          static_cast<v1::SessionStatus>(in.U8() % 5));
      r.mutable_session_end()->set_message(in.Text(40));
      break;
  }
  return r;
}

}  // namespace sallyport::audit::fuzz

#endif  // SALLYPORT_AUDIT_RECORDING_FUZZ_INPUT_H_
