// The paged readings of spctl, each against a CA that keeps naming a next
// page: a recording (`sessions show|play|export|verify`), the audit log
// (`audit ls|export|verify`) and the listings (`hosts|users|roles ls`).
// Each reads up to its page limit and stops with an error after it.
#include <cstdint>
#include <functional>
#include <optional>
#include <sstream>
#include <string>
#include <tuple>
#include <vector>

#include "absl/strings/str_cat.h"
#include "base/rpc_limits.h"
#include "cli/spctl.h"
#include "cli/spctl_audit.h"
#include "cli/spctl_recording_reader.h"
#include "gtest/gtest.h"
#include "proto/admin.pb.h"
#include "proto/audit.pb.h"

namespace sallyport::cli {
namespace {

// Found in review: a CA whose ReadSession answer named the page just read
// as the next one (next_after_seq not after the one asked for) kept
// `sessions show|play|export|verify` asking for it forever; they stop
// with an error, as `audit ls` and the listings do.
TEST(SpctlReadRecordsTest, APageThatDoesNotAdvanceEndsTheReading) {
  for (const uint64_t next : {uint64_t{1}, uint64_t{2}}) {
    std::ostringstream out, err;
    Spctl ctl(out, err);
    int calls = 0;
    std::vector<uint64_t> asked;
    RecordingHead head;
    int records = 0;
    std::optional<int> rc = ReadRecordPages(
        ctl, "s1", "verify", "",
        [&](const admin::v1::ReadSessionRequest& req,
            admin::v1::ReadSessionResponse* resp) -> std::optional<int> {
          asked.push_back(req.after_seq());
          if (++calls > 5) {
            ADD_FAILURE() << "still reading after " << calls << " pages";
            return kExitError;
          }
          // First page: records 1 and 2, then one that starts at `next`
          // again (or goes back before it).
          resp->mutable_session()->set_session_id("s1");
          resp->add_records()->set_seq(req.after_seq() + 1);
          resp->set_next_after_seq(calls == 1 ? 2 : next);
          return std::nullopt;
        },
        &head,
        [&](const audit::v1::RecordingRecord&) -> std::optional<int> {
          ++records;
          return std::nullopt;
        });
    EXPECT_EQ(rc, kExitError) << next;
    EXPECT_EQ(err.str(),
              "spctl: sessions verify: the CA's next page does not start "
              "after this one\n");
    EXPECT_EQ(asked, (std::vector<uint64_t>{0, 2})) << next;
    EXPECT_EQ(records, 2);
    EXPECT_EQ(head.session.session_id(), "s1");
  }
}

// What a paged reading returned, printed and asked for.
struct PagesRead {
  std::optional<int> rc;
  std::string err;
  size_t pages = 0;
};

// ReadRecordPages of "s1" for `verify` over a CA whose page N (from 1)
// `page(N, request, response)` fills.
PagesRead ReadRecordingPages(
    const std::function<void(size_t, const admin::v1::ReadSessionRequest&,
                             admin::v1::ReadSessionResponse*)>& page) {
  std::ostringstream out, err;
  Spctl ctl(out, err);
  RecordingHead head;
  PagesRead r;
  r.rc = ReadRecordPages(
      ctl, "s1", "verify", "",
      [&](const admin::v1::ReadSessionRequest& req,
          admin::v1::ReadSessionResponse* resp) -> std::optional<int> {
        page(++r.pages, req, resp);
        return std::nullopt;
      },
      &head,
      [](const audit::v1::RecordingRecord&) -> std::optional<int> {
        return std::nullopt;
      });
  r.err = err.str();
  return r;
}

// Page N holds record N and names it as the next page, up to `last`,
// which names none.
void NumberedRecordPage(size_t n, size_t last,
                        admin::v1::ReadSessionResponse* out) {
  out->add_records()->set_seq(n);
  if (n < last) out->set_next_after_seq(n);
}

// Found in review: `sessions show|play|export|verify` took any page that
// started after the one before, so a CA that kept naming a next page kept
// them reading for good, and an empty page naming a next one was taken.
// A recording legitimately has far more pages than a listing: they read
// up to base::kMaxRecordingPages pages and stop after the last of them.
TEST(SpctlReadRecordsTest, ReadingEndsWithinTheLimit) {
  const size_t max = base::kMaxRecordingPages;
  PagesRead r = ReadRecordingPages([&](size_t n, const auto&, auto* out) {
    NumberedRecordPage(n, max, out);
  });
  EXPECT_EQ(r.rc, std::nullopt) << r.err;
  EXPECT_EQ(r.pages, max);
  EXPECT_EQ(r.err, "");

  r = ReadRecordingPages([&](size_t n, const auto&, auto* out) {
    NumberedRecordPage(n, max + 1, out);
  });
  EXPECT_EQ(r.rc, kExitError);
  EXPECT_EQ(r.pages, max);
  EXPECT_EQ(r.err, absl::StrCat("spctl: sessions verify: the CA's answer runs "
                                "past ",
                                max,
                                " pages, the most spctl reads of one "
                                "recording\n"));

  r = ReadRecordingPages([&](size_t n, const auto&, auto* out) {
    if (n == 1) return NumberedRecordPage(1, 10, out);
    out->set_next_after_seq(5);  // an empty page naming a next one
  });
  EXPECT_EQ(r.rc, kExitError);
  EXPECT_EQ(r.pages, 2u);
  EXPECT_EQ(r.err,
            "spctl: sessions verify: the CA sent an empty page that names a "
            "next one\n");
}

// WalkAuditPages for `verify` over a CA whose page N (from 1)
// `page(N, request, response)` fills.
PagesRead ReadAuditLogPages(
    const std::function<void(size_t, const admin::v1::ListAuditEventsRequest&,
                             admin::v1::ListAuditEventsResponse*)>& page) {
  std::ostringstream out, err;
  Spctl ctl(out, err);
  admin::v1::ListAuditEventsResponse head;
  PagesRead r;
  r.rc = WalkAuditPages(
      ctl, TimeRange(), "verify",
      [&](const admin::v1::ListAuditEventsRequest& req,
          admin::v1::ListAuditEventsResponse* resp) -> std::optional<int> {
        page(++r.pages, req, resp);
        return std::nullopt;
      },
      [](const admin::v1::AuditEvent&) {}, &head);
  r.err = err.str();
  return r;
}

// As for recordings: `audit ls|export|verify` stopped only at a page that
// did not start after the one before. They read up to
// base::kMaxAuditLogPages pages; pages with no event in them go on (with
// --since/--until the CA sends those), and count.
TEST(SpctlAuditPagesTest, ReadingEndsWithinTheLimit) {
  const size_t max = base::kMaxAuditLogPages;
  const auto empty_pages_up_to = [](size_t last) {
    return [last](size_t n, const admin::v1::ListAuditEventsRequest& req,
                  admin::v1::ListAuditEventsResponse* out) {
      if (n < last) out->set_next_after_seq(req.after_seq() + 1000);
    };
  };
  PagesRead r = ReadAuditLogPages(empty_pages_up_to(max));
  EXPECT_EQ(r.rc, std::nullopt) << r.err;
  EXPECT_EQ(r.pages, max);
  EXPECT_EQ(r.err, "");

  r = ReadAuditLogPages(empty_pages_up_to(max + 1));
  EXPECT_EQ(r.rc, kExitError);
  EXPECT_EQ(r.pages, max);
  EXPECT_EQ(r.err,
            absl::StrCat("spctl: audit verify: the CA's answer runs past ", max,
                         " pages, the most spctl reads of the audit "
                         "log\n"));

  for (const uint64_t next : {uint64_t{1000}, uint64_t{999}}) {
    r = ReadAuditLogPages([&](size_t n, const auto& req, auto* out) {
      out->add_events()->set_seq(req.after_seq() + 1);
      out->set_next_after_seq(n == 1 ? 1000 : next);
    });
    EXPECT_EQ(r.rc, kExitError) << next;
    EXPECT_EQ(r.pages, 2u) << next;
    EXPECT_EQ(r.err,
              "spctl: audit verify: the CA's next page does not start after "
              "this one\n")
        << next;
  }
}

// A stand-in for admin::v1::Admin::Stub's ListHosts: page N (from 1) as
// `page(N, request)` says.
struct PagedStub {
  std::function<void(int, const admin::v1::ListHostsRequest&,
                     admin::v1::ListHostsResponse*)>
      page;
  int calls = 0;
  grpc::Status ListHosts(grpc::ClientContext*,
                         const admin::v1::ListHostsRequest& request,
                         admin::v1::ListHostsResponse* response) {
    page(++calls, request, response);
    return grpc::Status::OK;
  }
};

// The listing's exit code (nullopt: read to the end), what spctl printed
// and how many pages it asked for.
struct Listed {
  std::optional<int> rc;
  std::string err;
  int pages = 0;
};
Listed ListEveryPage(PagedStub stub) {
  std::ostringstream out, err;
  Spctl ctl(out, err);
  Listed l;
  l.rc = CallEveryPage(ctl, &stub, &PagedStub::ListHosts,
                       admin::v1::ListHostsRequest(), "hosts ls",
                       [](const admin::v1::ListHostsResponse&) {});
  l.err = err.str();
  l.pages = stub.calls;
  return l;
}

// Page N holds host hN (zero-padded: names sort as numbers) and names it
// as the next page, up to `last`, which names none.
void NumberedPage(int n, int last, admin::v1::ListHostsResponse* out) {
  const std::string name = absl::StrCat("h", absl::Dec(n, absl::kZeroPad5));
  out->add_hosts()->set_name(name);
  if (n < last) out->set_next_page_token(name);
}

// Found in review: a CA that kept naming a next page (each after the one
// before) kept `spctl hosts|users|roles ls` asking for good, and an empty
// page naming a next one was taken. Both stop with an error now, and a
// listing reads at most base::kMaxListPages pages.
TEST(SpctlPagesTest, EveryListingEndsWithinTheLimit) {
  const int max = static_cast<int>(base::kMaxListPages);
  Listed l = ListEveryPage(
      {[&](int n, const auto&, auto* out) { NumberedPage(n, max, out); }});
  EXPECT_EQ(l.rc, std::nullopt) << l.err;
  EXPECT_EQ(l.pages, max);
  EXPECT_EQ(l.err, "");

  l = ListEveryPage(
      {[&](int n, const auto&, auto* out) { NumberedPage(n, max + 1, out); }});
  EXPECT_EQ(l.rc, kExitError);
  EXPECT_EQ(l.pages, max);
  EXPECT_EQ(l.err, "spctl: hosts ls: the CA's answer runs past 1000 pages\n");

  // The same token again, an earlier one, an empty page naming a next one.
  for (const auto& [next_token, empty_page, why] :
       std::vector<std::tuple<std::string, bool, std::string>>{
           {"h00001", false,
            "the CA's next page does not start after this one"},
           {"h", false, "the CA's next page does not start after this one"},
           {"h00002", true,
            "the CA sent an empty page that names a next one"}}) {
    const std::string next = next_token;
    const bool empty = empty_page;
    l = ListEveryPage({[&](int n, const auto&, auto* out) {
      if (n == 1) return NumberedPage(1, 10, out);
      if (!empty) out->add_hosts()->set_name("x");
      out->set_next_page_token(next);
    }});
    EXPECT_EQ(l.rc, kExitError) << next;
    EXPECT_EQ(l.pages, 2) << next;
    EXPECT_EQ(l.err, absl::StrCat("spctl: hosts ls: ", why, "\n")) << next;
  }
}

}  // namespace
}  // namespace sallyport::cli
