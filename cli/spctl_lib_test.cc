// Unit tests of spctl's pure parts: the KRL writer, YAML output that the
// role reader takes back, and the --dry-run diff. The KRL is checked
// against the real ssh-keygen in tests/e2e/spctl_certs_e2e_test.
#include <sstream>

#include "absl/strings/match.h"
#include "base/yaml_proto.h"
#include "cli/krl.h"
#include "cli/output.h"
#include "cli/spctl.h"
#include "cli/spctl_output.pb.h"
#include "gtest/gtest.h"
#include "proto/admin.pb.h"
#include "proto/audit.pb.h"

namespace sallyport::cli {
namespace {

TEST(KrlTest, HeaderSectionsSortedAndDeduplicated) {
  KrlContents c;
  c.ca_keys = {{1, 2, 3}};
  c.serials = {9, 3, 9};
  c.version = 7;
  c.generated = absl::FromUnixSeconds(100);
  c.comment = "x";
  absl::StatusOr<std::string> krl = BuildKrl(c);
  ASSERT_TRUE(krl.ok()) << krl.status();
  const std::string expected_header =
      std::string("SSHKRL\n\0", 8) + std::string("\0\0\0\1", 4) +
      std::string("\0\0\0\0\0\0\0\7", 8) +
      std::string("\0\0\0\0\0\0\0\x64", 8) + std::string(8, '\0') +
      std::string("\0\0\0\0", 4) + std::string("\0\0\0\1x", 5);
  ASSERT_TRUE(absl::StartsWith(*krl, expected_header));
  const std::string section = krl->substr(expected_header.size());
  // type 1, length 32, ca_key "\1\2\3", reserved "", 0x20, length 16, 3, 9.
  const std::string expected_section =
      std::string("\1\0\0\0\x20", 5) + std::string("\0\0\0\3\1\2\3", 7) +
      std::string(4, '\0') + std::string("\x20\0\0\0\x10", 5) +
      std::string("\0\0\0\0\0\0\0\3", 8) + std::string("\0\0\0\0\0\0\0\x9", 8);
  EXPECT_EQ(section, expected_section);
}

TEST(KrlTest, RefusesOverTheLimitAndSerialsWithoutCa) {
  KrlContents c;
  c.ca_keys = {{1}};
  c.serials = {1, 2, 3};
  EXPECT_TRUE(BuildKrl(c, 3).ok());
  c.key_sha256.push_back({});
  EXPECT_EQ(BuildKrl(c, 3).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(BuildKrl(c, 4).ok());
  c.ca_keys.clear();
  EXPECT_FALSE(BuildKrl(c).ok());
}

TEST(KrlTest, ParsesSha256Fingerprints) {
  auto fp = ParseSha256Fingerprint(
      "SHA256:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU");
  ASSERT_TRUE(fp.ok());
  EXPECT_EQ((*fp)[0], 0xe3);  // SHA-256 of the empty string
  EXPECT_FALSE(ParseSha256Fingerprint("MD5:aa").ok());
  EXPECT_FALSE(ParseSha256Fingerprint("SHA256:short").ok());
}

TEST(OutputTest, RoleYamlRoundTripsThroughTheRoleReader) {
  admin::v1::Role role;
  role.set_name("dev");
  role.add_logins("ubuntu");
  (*role.add_hosts()->mutable_labels())["env"] = "dev";
  role.add_hosts()->add_name_globs("web*");
  role.mutable_max_ttl()->set_seconds(4 * 3600);
  role.add_deny()->add_logins("root");
  const std::string yaml = ProtoToYaml(role);
  EXPECT_TRUE(absl::StrContains(yaml, "max_ttl: 4h")) << yaml;
  admin::v1::Role back;
  ASSERT_TRUE(base::YamlToProto(yaml, "test", &back).ok()) << yaml;
  EXPECT_EQ(back.SerializeAsString(), role.SerializeAsString());
}

// Found by hand: `access check --output yaml` left out `allowed: false`
// (a proto3 default); a script reading it found no answer.
TEST(OutputTest, StructuredOutputPrintsDefaultScalars) {
  admin::v1::CheckAccessResponse denied;
  denied.set_code("unknown-user");
  std::ostringstream yaml, json;
  ASSERT_TRUE(PrintStructured(OutputFormat::kYaml, denied, yaml));
  EXPECT_TRUE(absl::StrContains(yaml.str(), "allowed: false\n")) << yaml.str();
  EXPECT_TRUE(absl::StrContains(yaml.str(), "role: \"\"\n")) << yaml.str();
  // Set only when set: an `optional` field.
  EXPECT_FALSE(absl::StrContains(yaml.str(), "force_command")) << yaml.str();
  admin::v1::CheckAccessResponse back;
  ASSERT_TRUE(base::YamlToProto(yaml.str(), "test", &back).ok()) << yaml.str();
  EXPECT_EQ(back.SerializeAsString(), denied.SerializeAsString());
  ASSERT_TRUE(PrintStructured(OutputFormat::kJson, denied, json));
  EXPECT_TRUE(absl::StrContains(json.str(), "\"allowed\": false"))
      << json.str();
  EXPECT_FALSE(absl::StrContains(json.str(), "force_command")) << json.str();
  // The role editor's YAML stays as the admin writes it.
  EXPECT_EQ(ProtoToYaml(denied), "code: \"unknown-user\"\n");
}

// `sessions show --output json|yaml` printed a RecordingSession; it prints
// a SessionDetails whose fields 1..12 must stay that message's (spctl reads
// the one's bytes as the other), so the session's keys stay where they were.
TEST(OutputTest, SessionDetailsKeepsEveryRecordingSessionField) {
  const google::protobuf::Descriptor* session =
      audit::v1::RecordingSession::descriptor();
  const google::protobuf::Descriptor* details =
      spctl::SessionDetails::descriptor();
  ASSERT_GT(session->field_count(), 0);
  for (int i = 0; i < session->field_count(); ++i) {
    const google::protobuf::FieldDescriptor* f = session->field(i);
    const google::protobuf::FieldDescriptor* d =
        details->FindFieldByNumber(f->number());
    ASSERT_NE(d, nullptr) << f->name();
    EXPECT_EQ(d->name(), f->name());
    EXPECT_EQ(d->type(), f->type()) << f->name();
    EXPECT_EQ(d->is_repeated(), f->is_repeated()) << f->name();
    if (f->enum_type() != nullptr) {
      EXPECT_EQ(d->enum_type(), f->enum_type()) << f->name();
    }
    EXPECT_LT(f->number(), 100) << f->name() << ": SessionDetails' own start";
  }
}

TEST(OutputTest, LineDiff) {
  EXPECT_EQ(LineDiff("a\nb\nc\n", "a\nb\nc\n"), "");
  EXPECT_EQ(LineDiff("a\nb\nc\n", "a\nx\nc\n"), " a\n-b\n+x\n c\n");
  EXPECT_EQ(LineDiff("", "a\n"), "+a\n");
}

// The exit code of a refusal from the CA. INVALID_ARGUMENT (a name or value
// the CA's rules refuse) was 1; it is a usage error like one spctl finds.
TEST(SpctlFailTest, ExitCodesFollowTheCasAnswer) {
  std::ostringstream out, err;
  Spctl ctl(out, err);
  EXPECT_EQ(ctl.Fail(grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                                  "user name: must start with a letter"),
                     "users add -x"),
            kExitUsage);
  EXPECT_TRUE(absl::StrContains(err.str(), "spctl: users add -x: user name: "))
      << err.str();
  EXPECT_EQ(ctl.Fail(grpc::Status(grpc::StatusCode::NOT_FOUND, "no"), "x"),
            kExitNotFound);
  EXPECT_EQ(
      ctl.Fail(grpc::Status(grpc::StatusCode::PERMISSION_DENIED, "no"), "x"),
      kExitDenied);
  EXPECT_EQ(
      ctl.Fail(grpc::Status(grpc::StatusCode::FAILED_PRECONDITION, "no"), "x"),
      kExitError);
}

}  // namespace
}  // namespace sallyport::cli
