// The ProxyJump side of a GatewayConnection (gateway/gateway_connection.h):
// what an inner connection (recorded ProxyJump, gateway/jump_inner.cc)
// takes from its jump connection, and the jump connection's own jump
// channels, carrying an inner connection or waiting for the CA
// (gateway/forward_connection.cc). Internal to //gateway:proxy.
#ifndef SALLYPORT_GATEWAY_JUMP_STATE_H_
#define SALLYPORT_GATEWAY_JUMP_STATE_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "proto/gateway.pb.h"
#include "ssh/connection/connection.h"
#include "ssh/net/channel_stream.h"
#include "ssh/transport/host_key.h"

namespace sallyport::gateway {

class GatewayConnection;

// What an inner connection (recorded ProxyJump) takes from the jump-only
// connection whose direct-tcpip channel carries it.
struct JumpOrigin {
  std::string host;  // the inventory name the jump went to
  // The jump connection's user certificate: key id and signing CA key.
  std::string user;
  std::vector<uint8_t> ca_key_blob;
  std::string peer;           // the user's address
  std::string outer_session;  // the jump connection's session id (logs)
  // The gateway's host key with the host certificate for `host`.
  ssh::transport::ServerHostKey host_key;
  // The host's inventory record from the jump's decision: the inner
  // connection connects to it (key exchange only) while its user is still
  // authenticating, and authenticates there once the session certificate
  // names the same host.
  gateway::v1::HostRecord host_record;
  // Whether one of the jump connection's inner sessions holds the jump
  // connection's own max_sessions_per_user count (shared by the jump
  // connection and its inner connections): the first inner session to log
  // in uses it, each other one counts one more.
  std::shared_ptr<bool> jump_count_used;
  // The jump connection's window budget: the inner connection's channels
  // (both sides) count against it too.
  std::shared_ptr<ssh::connection::WindowBudget> window_budget;
};

// A jump channel carrying an inner connection.
struct JumpChannel {
  std::shared_ptr<ssh::net::ChannelPort> port;
  std::string host;           // the inventory name jumped to
  std::string inner_session;  // the inner connection's session id
  absl::Duration started;     // on the clock's Monotonic(): duration_ms
  std::weak_ptr<GatewayConnection> inner;
  // Extended data the user sent on the jump's channel: dropped (the inner
  // connection reads stream 0 only), its bytes for proxyjump.close, and
  // whether that was logged.
  uint64_t ext_dropped_in = 0;
  bool dropped_ext_logged = false;
};

// A direct-tcpip open of a jump-only connection waiting for the CA (its
// decision, or a recorded jump's host certificate): the serial (so a
// reused id is never mistaken for the old one), HOST:PORT, and what it
// waits for (a timed-out open's reason).
struct PendingJump {
  uint64_t serial = 0;
  std::string destination;
  std::string waiting_for;
};

}  // namespace sallyport::gateway

#endif  // SALLYPORT_GATEWAY_JUMP_STATE_H_
