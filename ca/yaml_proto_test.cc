#include "ca/yaml_proto.h"

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "base/yaml_proto.h"
#include "google/protobuf/wrappers.pb.h"
#include "gtest/gtest.h"
#include "proto/admin.pb.h"
#include "proto/config.pb.h"

namespace sallyport::ca {
namespace {

using config::CaConfig;

TEST(YamlProtoTest, MapsKeysToFields) {
  CaConfig c;
  absl::Status st = YamlToProto(R"(
listen: 127.0.0.1:9000
store: sqlite:///tmp/x.db
keys:
  user_ca: user_ca
login:
  max_failures: 3
  lockout: 1h30m
  failure_delay: 0s
)",
                                "test.yaml", &c);
  ASSERT_TRUE(st.ok()) << st;
  EXPECT_EQ(c.listen(), "127.0.0.1:9000");
  EXPECT_EQ(c.keys().user_ca(), "user_ca");
  EXPECT_EQ(c.login().max_failures(), 3);
  EXPECT_EQ(c.login().lockout().seconds(), 5400);
  EXPECT_TRUE(c.login().has_failure_delay());
  EXPECT_EQ(c.login().failure_delay().seconds(), 0);
}

TEST(YamlProtoTest, UnknownKeyNamesKeyAndLine) {
  CaConfig c;
  absl::Status st = YamlToProto(
      "listen: a\n\nkeys:\n  user_ca: x\n  usr_ca: y\n", "ca.yaml", &c);
  EXPECT_EQ(st.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(absl::StrContains(st.message(), "ca.yaml:5:")) << st;
  EXPECT_TRUE(absl::StrContains(st.message(), "unknown key 'usr_ca'")) << st;
}

TEST(YamlProtoTest, RefusesWrongKindsDuplicatesAndBadValues) {
  struct Case {
    const char* yaml;
    const char* expect;
  };
  const Case cases[] = {
      {"listen: a\nlisten: b\n", "test.yaml:2: 'listen': duplicate key"},
      {"keys: [a, b]\n", "test.yaml:1: 'keys': expected a mapping"},
      {"login:\n  max_failures: lots\n", "test.yaml:2: 'login.max_failures'"},
      {"login:\n  max_failures: 99999999999\n", "expected an integer"},
      {"login:\n  lockout: 15 minutes\n", "expected a duration"},
      {"listen: [a]\n", "'listen': expected a value"},
      {"- a\n- b\n", "expected a mapping"},
      {"listen: a\n  bad indent: [\n", "test.yaml:"},
      {"logging: {level: info, level: warn}\n", "duplicate key"},
  };
  for (const Case& c : cases) {
    CaConfig cfg;
    absl::Status st = YamlToProto(c.yaml, "test.yaml", &cfg);
    EXPECT_EQ(st.code(), absl::StatusCode::kInvalidArgument) << c.yaml;
    EXPECT_TRUE(absl::StrContains(st.message(), c.expect))
        << c.yaml << " → " << st;
  }
}

TEST(YamlProtoTest, EmptyDocumentAndNullValuesLeaveDefaults) {
  CaConfig c;
  EXPECT_TRUE(YamlToProto("", "t", &c).ok());
  EXPECT_TRUE(YamlToProto("listen:\nlogin:\n", "t", &c).ok());
  EXPECT_EQ(c.listen(), "");
  EXPECT_FALSE(c.has_login());
}

TEST(YamlProtoTest, ASecondDocumentIsRefusedNotDropped) {
  CaConfig c;
  absl::Status st =
      YamlToProto("listen: 127.0.0.1:9000\n---\nstore: sqlite:///tmp/x.db\n",
                  "ca.yaml", &c);
  EXPECT_EQ(st.code(), absl::StatusCode::kInvalidArgument) << st;
  EXPECT_TRUE(absl::StrContains(st.message(), "ca.yaml:3:")) << st;
  EXPECT_TRUE(absl::StrContains(st.message(), "second YAML document")) << st;
  // A leading '---' and a trailing empty one are one document.
  st = YamlToProto("---\nlisten: 127.0.0.1:9000\n---\n", "ca.yaml", &c);
  ASSERT_TRUE(st.ok()) << st;
  EXPECT_EQ(c.listen(), "127.0.0.1:9000");
}

TEST(YamlProtoTest, MapsListsAndNestedMessages) {
  admin::v1::Role role;
  absl::Status st = YamlToProto(R"(
name: web
logins: [www, deploy]
max_ttl: 90m
hosts:
  - labels: {env: prod, team: web}
    name_globs: ["web*"]
  - name_globs: [db01]
)",
                                "role.yaml", &role);
  ASSERT_TRUE(st.ok()) << st;
  EXPECT_EQ(role.logins_size(), 2);
  EXPECT_EQ(role.max_ttl().seconds(), 5400);
  ASSERT_EQ(role.hosts_size(), 2);
  EXPECT_EQ(role.hosts(0).labels().at("env"), "prod");
  EXPECT_EQ(role.hosts(0).name_globs(0), "web*");
  EXPECT_EQ(role.hosts(1).name_globs(0), "db01");

  admin::v1::Host host;
  EXPECT_TRUE(YamlToProto("name: h\nport: 2222\n", "h", &host).ok());
  EXPECT_EQ(host.port(), 2222u);
  EXPECT_FALSE(YamlToProto("port: -1\n", "h", &host).ok());
  EXPECT_FALSE(YamlToProto("labels: {a: 1, a: 2}\n", "h", &host).ok());
  EXPECT_FALSE(YamlToProto("labels: [a]\n", "h", &host).ok());
  EXPECT_FALSE(YamlToProto("labels: {a: [1]}\n", "h", &host).ok());
  st = YamlToProto("hosts:\n  - labels: {}\n    bogus: 1\n", "r", &role);
  EXPECT_TRUE(absl::StrContains(st.message(), "r:3: unknown key 'bogus'"))
      << st;
}

// YAML aliases repeat a node without repeating its text: 200 KiB of input
// naming one 64 KiB value 10,000 times would be 640 MiB of message. The
// converter stops at kMaxExpandedBytes (16 MiB) with an error instead.
TEST(YamlProtoTest, AliasesCannotExpandWithoutBound) {
  std::string yaml = absl::StrCat("name: r\nlogins: [&big \"",
                                  std::string(64 << 10, 'x'), "\"");
  for (int i = 0; i < 10000; ++i) absl::StrAppend(&yaml, ", *big");
  absl::StrAppend(&yaml, "]\n");
  ASSERT_LT(yaml.size(), 1u << 20);  // a file YamlFileToProto would read
  admin::v1::Role role;
  absl::Status st = YamlToProto(yaml, "role.yaml", &role);
  EXPECT_EQ(st.code(), absl::StatusCode::kInvalidArgument) << st;
  EXPECT_TRUE(absl::StrContains(st.message(), "expands to more than 16 MiB"))
      << st;
  EXPECT_LT(role.SpaceUsedLong(), 32 << 20);

  // The same through nested messages: a role's host selectors, each an
  // alias of one selector holding an alias-heavy list.
  std::string nested = "name: r\nhosts:\n  - &sel {name_globs: [&g \"";
  absl::StrAppend(&nested, std::string(1000, 'a'), "\"");
  for (int i = 0; i < 1000; ++i) absl::StrAppend(&nested, ", *g");
  absl::StrAppend(&nested, "]}\n");
  for (int i = 0; i < 1000; ++i) absl::StrAppend(&nested, "  - *sel\n");
  st = YamlToProto(nested, "role.yaml", &role);
  EXPECT_TRUE(absl::StrContains(st.message(), "expands to more than")) << st;

  // Aliases within the budget still work.
  st = YamlToProto("name: r\nlogins: [&l www, *l]\n", "role.yaml", &role);
  ASSERT_TRUE(st.ok()) << st;
  EXPECT_EQ(role.logins_size(), 2);
}

// Timestamps are RFC 3339 times, as ProtoToYaml writes them: `spctl roles
// show` prints a role's created_at and updated_at, and its output is read
// back by `roles edit -f` (it was refused: "expected a mapping for
// google.protobuf.Timestamp").
TEST(YamlProtoTest, TimestampsAreRfc3339Times) {
  admin::v1::Role role;
  role.set_name("r");
  role.mutable_created_at()->set_seconds(1796130000);  // 2026-12-01T13:00:00Z
  role.mutable_updated_at()->set_seconds(1796133600);
  absl::StatusOr<std::string> yaml = base::ProtoToYaml(role);
  ASSERT_TRUE(yaml.ok()) << yaml.status();
  EXPECT_TRUE(absl::StrContains(*yaml, "created_at: 2026-12-01T13:00:00Z\n"))
      << *yaml;
  admin::v1::Role back;
  ASSERT_TRUE(YamlToProto(*yaml, "role.yaml", &back).ok()) << *yaml;
  EXPECT_EQ(back.SerializeAsString(), role.SerializeAsString()) << *yaml;

  // A fraction and an offset; the first and last second of the range.
  struct Good {
    const char* text;
    int64_t seconds;
    int32_t nanos;
  };
  for (const Good& g :
       {Good{"2026-12-01T14:00:00.25+01:00", 1796130000, 250000000},
        Good{"\"1969-12-31T23:59:59.5Z\"", -1, 500000000},
        Good{"0001-01-01T00:00:00Z", -62135596800, 0},
        Good{"9999-12-31T23:59:59.999999999Z", 253402300799, 999999999}}) {
    ASSERT_TRUE(
        YamlToProto(absl::StrCat("created_at: ", g.text), "t", &back).ok())
        << g.text;
    EXPECT_EQ(back.created_at().seconds(), g.seconds) << g.text;
    EXPECT_EQ(back.created_at().nanos(), g.nanos) << g.text;
  }
  for (const char* bad :
       {"yesterday", "2026-13-45T00:00:00Z", "2026-12-01",
        "2026-12-01 13:00:00", "1796130000", "10000-01-01T00:00:00Z",
        "0000-12-31T23:59:59Z", "{seconds: 1}", "[2026-12-01T13:00:00Z]"}) {
    absl::Status st = YamlToProto(absl::StrCat("name: r\ncreated_at: ", bad),
                                  "r.yaml", &back);
    EXPECT_EQ(st.code(), absl::StatusCode::kInvalidArgument) << bad;
    EXPECT_TRUE(absl::StrContains(
        st.message(), "r.yaml:2: 'created_at': expected an RFC 3339 time"))
        << bad << ": " << st;
  }
}

// A bytes field (a recorded command that is not UTF-8: `spctl sessions
// show -o yaml`'s command_bytes) is written exactly, as !!binary base64,
// and read back the same; text YAML would have replaced its bytes with
// U+FFFD.
TEST(YamlProtoTest, BytesAreWrittenExactlyAsBinary) {
  google::protobuf::BytesValue b;
  b.set_value(std::string("rm \xff\x00 \xef\xbf\xbe -rf", 11));
  absl::StatusOr<std::string> yaml = base::ProtoToYaml(b);
  ASSERT_TRUE(yaml.ok()) << yaml.status();
  EXPECT_TRUE(absl::StrContains(*yaml, "value: !!binary")) << *yaml;
  google::protobuf::BytesValue back;
  ASSERT_TRUE(base::YamlToProto(*yaml, "t", &back).ok()) << *yaml;
  EXPECT_EQ(back.value(), b.value());
  EXPECT_FALSE(base::YamlToProto("value: !!binary \"%%%\"\n", "t", &back).ok());
}

// Found by gateway:config_fuzz_fuzzer: `ca: \xc7\xbe\xef\xbf\xbe` (U+01FE,
// U+FFFE) parsed, and ProtoToYaml wrote it back as U+01FE U+FFFD (yaml-cpp's
// emitter replaces noncharacters and bytes that are not UTF-8): a written
// config (`enroll`) or a role the editor round-trips would have changed
// silently. ProtoToYaml refuses such text, naming the field; with
// replace_unwritable_text it writes U+FFFD (for output a person reads).
TEST(YamlProtoTest, TextYamlCannotCarryIsRefusedNotChanged) {
  for (const char* text : {"\xc7\xbe\xef\xbf\xbe",
                           "a\xef\xb7\x90"
                           "b" /* U+FDD0 */,
                           "\xf4\x8f\xbf\xbf" /* U+10FFFF */}) {
    config::GatewayConfig c;
    ASSERT_TRUE(
        base::YamlToProto(absl::StrCat("ca: ", text, "\n"), "t", &c).ok())
        << text;
    absl::StatusOr<std::string> yaml = base::ProtoToYaml(c);
    EXPECT_EQ(yaml.status().code(), absl::StatusCode::kInvalidArgument) << text;
    EXPECT_TRUE(absl::StartsWith(yaml.status().message(), "ca holds text"))
        << yaml.status();
    absl::StatusOr<std::string> lossy =
        base::ProtoToYaml(c, {.replace_unwritable_text = true});
    ASSERT_TRUE(lossy.ok()) << lossy.status();
    EXPECT_TRUE(absl::StrContains(*lossy, "\\ufffd")) << *lossy;
  }
  // Nested and repeated fields are named with their place.
  admin::v1::Role role;
  role.set_name("r");
  role.add_hosts();
  role.add_hosts()->add_name_globs("web\xef\xbf\xbf");
  absl::StatusOr<std::string> yaml = base::ProtoToYaml(role);
  EXPECT_TRUE(
      absl::StartsWith(yaml.status().message(), "hosts[1].name_globs[0] holds"))
      << yaml.status();
  role.clear_hosts();
  (*role.add_hosts()->mutable_labels())["env"] = "\xef\xbf\xbe";
  yaml = base::ProtoToYaml(role);
  EXPECT_TRUE(absl::StartsWith(yaml.status().message(),
                               "hosts[0].labels[0].value holds"))
      << yaml.status();
  // Everything else that is UTF-8 goes and comes back the same: controls,
  // a BOM, the last code points before the noncharacters, astral planes.
  config::GatewayConfig c;
  c.set_ca(
      "\t\x01\x7f\xc2\x80\xef\xbb\xbf\xef\xb7\x8f\xef\xb7\xb0"
      "\xef\xbf\xbd\xf0\x9f\x98\x80\xf4\x8f\xbf\xbd \"\\");
  yaml = base::ProtoToYaml(c);
  ASSERT_TRUE(yaml.ok()) << yaml.status();
  config::GatewayConfig back;
  ASSERT_TRUE(base::YamlToProto(*yaml, "t", &back).ok()) << *yaml;
  EXPECT_EQ(back.ca(), c.ca()) << *yaml;
}

TEST(YamlProtoTest, MissingFileIsNotFound) {
  CaConfig c;
  EXPECT_EQ(YamlFileToProto("/nonexistent/ca.yaml", &c).code(),
            absl::StatusCode::kNotFound);
}

}  // namespace
}  // namespace sallyport::ca
