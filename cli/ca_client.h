// One way for `sp` and `spctl` to reach the CA (DESIGN.md §5 "gRPC
// security"): TLS pinned to the certificate `sp login` saved in
// $SALLYPORT_HOME/ca.pem and, after login, mutual TLS with the login's
// client certificate (tls.key, tls.crt).
#ifndef SALLYPORT_CLI_CA_CLIENT_H_
#define SALLYPORT_CLI_CA_CLIENT_H_

#include <grpcpp/grpcpp.h>

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "base/rpc_limits.h"
#include "cli/sp_home.h"
#include "cli/tls_pin.h"

namespace sallyport::cli {

// The DNS name in the CA's certificate (ca/tls_material.h kServerTlsName):
// the certificate itself is pinned, so the name is only a formality.
inline constexpr char kCaTlsName[] = "sallyport-ca";
// The CA's default gRPC port (DESIGN.md §2).
inline constexpr uint16_t kDefaultCaPort = 7443;

// "HOST:PORT" or "[V6]:PORT" for gRPC.
std::string GrpcTarget(const HostPort& ca);

// "HOST", "HOST:PORT", "[V6]" or "[V6]:PORT"; the port defaults to 7443.
absl::StatusOr<HostPort> ParseCaAddress(std::string_view text);
// The CA instances of an HA setup: "ADDR,ADDR,..." (base/address_list.h),
// each as ParseCaAddress; one address is a list of one.
absl::StatusOr<std::vector<HostPort>> ParseCaAddresses(std::string_view text);

// A channel that trusts only `ca_pem` and, when `client_key_pem` is not
// empty, presents the client certificate. With several addresses it fails
// over between them (base::FailoverChannel): the first that answers, in
// order. kUnavailable when none of the names resolves.
absl::StatusOr<std::shared_ptr<grpc::Channel>> CaChannel(
    const std::vector<HostPort>& cas, const std::string& ca_pem,
    const std::string& client_key_pem = "",
    const std::string& client_cert_pem = "");

// OK while fewer than `max_pages` pages of a listing were read (`pages`,
// 1 for the first); kFailedPrecondition "the CA's answer runs past
// MAX_PAGES pages" otherwise, followed by ", LIMIT" when `limit` (what the
// limit is) is not empty.
absl::Status CheckPageLimit(size_t pages, size_t max_pages,
                            absl::string_view limit = "");

// Whether sp or spctl asks for the page after page number `pages` (1 for
// the first) of a listing the CA answers in pages: the request for that
// page named `token` (empty or 0 for the first), the page held `entries`
// entries and names `next` as the next one. OK when the next page starts
// after this one (next > token), this one was not empty (the CA never
// sends an empty page with a next one), and fewer than `max_pages` pages
// were read; kFailedPrecondition otherwise, whose message says which
// ("the CA's next page does not start after this one", "the CA sent an
// empty page that names a next one", CheckPageLimit's "the CA's answer
// runs past 1000 pages" with `limit`). A CA, or what answers as one, that
// did otherwise would keep the client asking for good.
template <typename Token>
absl::Status CheckNextPage(size_t pages, size_t entries, const Token& token,
                           const Token& next,
                           size_t max_pages = base::kMaxListPages,
                           absl::string_view limit = "") {
  if (entries == 0) {
    return absl::FailedPreconditionError(
        "the CA sent an empty page that names a next one");
  }
  if (!(token < next)) {
    return absl::FailedPreconditionError(
        "the CA's next page does not start after this one");
  }
  return CheckPageLimit(pages, max_pages, limit);
}

// The logged-in state of $SALLYPORT_HOME and an mTLS channel with it.
struct LoggedIn {
  std::string ca_text;  // as remembered ("HOST:PORT" or a list)
  std::vector<HostPort> cas;
  std::string user;
  std::shared_ptr<grpc::Channel> channel;
};
// What sp and spctl say when there is no login, or it has expired.
inline constexpr char kNotLoggedIn[] = "not logged in: run `sp login` first";
inline constexpr char kLoginExpired[] =
    "your login has expired: run `sp login` again";

// kFailedPrecondition kNotLoggedIn when there is no login (no user, no
// client certificate, or no pin), kLoginExpired when its client
// certificate has expired; kInvalidArgument for a bad remembered address.
// `ca_override` (spctl --ca), when not empty, replaces the remembered CA
// addresses.
absl::StatusOr<LoggedIn> OpenLoggedIn(const SpHome& home,
                                      std::string_view ca_override = "");

}  // namespace sallyport::cli

#endif  // SALLYPORT_CLI_CA_CLIENT_H_
