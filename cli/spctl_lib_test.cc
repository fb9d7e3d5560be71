// Unit tests of spctl's pure parts: the KRL writer, YAML output that the
// role reader takes back, and the --dry-run diff. The KRL is checked
// against the real ssh-keygen in tests/e2e/spctl_certs_e2e_test.

#include <cstdint>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "base/yaml_proto.h"
#include "cli/krl.h"
#include "cli/output.h"
#include "cli/spctl.h"
#include "cli/spctl_audit.h"
#include "cli/spctl_output.pb.h"
#include "gtest/gtest.h"
#include "proto/admin.pb.h"
#include "proto/audit.pb.h"
#include "proto/ca.pb.h"

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

// What the CA lists goes in as it is: serials, keys by their SHA-256, the
// highest id as the version; a fingerprint that is not SHA-256 is refused
// with the revocation's id.
TEST(KrlTest, AddsTheCasRevocations) {
  std::vector<ca::v1::Revocation> revocations(4);
  revocations[0].set_id(5);
  revocations[0].set_serial(71);
  revocations[1].set_id(9);
  revocations[1].set_key_fingerprint(
      "SHA256:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU");
  revocations[2].set_id(7);
  revocations[2].set_serial(4242);
  revocations[3].set_id(0);  // no id: counts for no version
  revocations[3].set_serial(3);
  KrlContents c;
  ASSERT_TRUE(AddRevocations(revocations, &c).ok());
  EXPECT_EQ(c.serials, (std::vector<uint64_t>{71, 4242, 3}));
  ASSERT_EQ(c.key_sha256.size(), 1u);
  EXPECT_EQ(c.key_sha256[0][0], 0xe3);
  EXPECT_EQ(c.version, 9u);

  ca::v1::Revocation bad;
  bad.set_id(12);
  bad.set_key_fingerprint("MD5:aa");
  absl::Status st = AddRevocations({bad}, &c);
  EXPECT_EQ(st.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(st.message(),
            "the CA sent revocation 12 with a key fingerprint that is not "
            "SHA256:<base64>");
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

// Text YAML cannot carry exactly (a noncharacter, here in a role's
// description) is printed with U+FFFD in its place after a comment that
// names the field and points to -o json, which prints it exactly; before,
// it was changed without a word.
TEST(OutputTest, YamlSaysWhenItCannotPrintTextExactly) {
  admin::v1::Role role;
  role.set_name("r");
  role.set_description("odd \xef\xbf\xbe");
  std::ostringstream yaml, json;
  ASSERT_TRUE(PrintStructured(OutputFormat::kYaml, role, yaml));
  EXPECT_TRUE(absl::StartsWith(
      yaml.str(),
      "# description holds text YAML cannot carry exactly (bytes that are not "
      "UTF-8, or a Unicode noncharacter such as U+FFFE); shown with U+FFFD "
      "in its place (-o json prints it exactly)\n"))
      << yaml.str();
  admin::v1::Role back;
  ASSERT_TRUE(base::YamlToProto(yaml.str(), "test", &back).ok()) << yaml.str();
  EXPECT_EQ(back.description(), "odd \xef\xbf\xbd");
  ASSERT_TRUE(PrintStructured(OutputFormat::kJson, role, json));
  EXPECT_TRUE(absl::StrContains(json.str(), "odd \xef\xbf\xbe") ||
              absl::StrContains(json.str(), "odd \\ufffe"))
      << json.str();
}

// `spctl audit export --yaml`: an event whose text YAML cannot carry (a
// noncharacter in a recorded command) says so before its item; one that
// it can carry has no comment, and reads back as its JSON line's values.
TEST(OutputTest, AuditYamlSaysWhenItCannotPrintAnEventExactly) {
  admin::v1::AuditEvent e;
  e.set_seq(7);
  e.set_type("exec.command");
  e.set_actor("alice");
  e.set_payload_json("{\"command\":\"echo \xef\xbf\xbe\"}");
  const std::string odd = AuditEventYaml(e);
  EXPECT_TRUE(absl::StartsWith(
      odd,
      "# event 7 holds text YAML cannot carry exactly (a Unicode "
      "noncharacter such as U+FFFE); shown with U+FFFD in its place "
      "(--json prints it exactly)\n"))
      << odd;
  EXPECT_TRUE(absl::StrContains(odd, "\"command\": \"echo \\ufffd\"")) << odd;
  e.set_payload_json("{\"command\":\"echo \xc3\xa9\"}");
  const std::string plain = AuditEventYaml(e);
  EXPECT_TRUE(absl::StartsWith(plain, "- seq: 7\n")) << plain;
  EXPECT_TRUE(absl::StrContains(plain, "\"command\": \"echo \\xe9\"")) << plain;
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

// Columns line up in what a terminal shows, not in bytes: a label value
// "ünïcødé" (11 bytes) pushed the next column 4 to the right.
TEST(OutputTest, PrintTableAlignsColumnsOfOtherScripts) {
  std::ostringstream out;
  PrintTable(out, {"NAME", "LABELS", "NEXT"},
             {{"web01",
               "team=\xc3\xbcn\xc3\xaf"
               "c\xc3\xb8"
               "d\xc3\xa9",
               "x"},
              {"\xe6\x9d\xb1\xe4\xba\xac", "env=prod", "y"}});
  EXPECT_EQ(out.str(),
            "NAME   LABELS        NEXT\n"
            "web01  team=\xc3\xbcn\xc3\xaf"
            "c\xc3\xb8"
            "d\xc3\xa9  x\n"
            "\xe6\x9d\xb1\xe4\xba\xac   env=prod      y\n");
}

TEST(OutputTest, LineDiff) {
  EXPECT_EQ(LineDiff("a\nb\nc\n", "a\nb\nc\n"), "");
  EXPECT_EQ(LineDiff("a\nb\nc\n", "a\nx\nc\n"), " a\n-b\n+x\n c\n");
  EXPECT_EQ(LineDiff("", "a\n"), "+a\n");
}

}  // namespace
}  // namespace sallyport::cli
