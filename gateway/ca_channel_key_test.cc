// The gateway's TLS private key does not stay behind in freed memory when
// the CA channel is set up (MakeCaChannel) or opened for enrolment's
// follow-up calls (OpenCaChannel). This binary replaces the global
// operator new/delete (their nothrow forms too): while a test watches, every
// block freed is searched for a piece of the key's PEM before it goes back to
// malloc.
#include <malloc.h>
#include <string.h>

#include <atomic>
#include <cstdlib>
#include <new>
#include <string>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "base/files.h"
#include "base/tls_pin.h"
#include "gateway/ca_client.h"
#include "gateway/enroll.h"
#include "gtest/gtest.h"
#include "tests/harness/subprocess.h"
#include "tests/harness/temp_dir.h"

namespace {

// Set by the test thread around the call it watches; read by every
// operator delete (other threads' frees are not ours to judge).
thread_local const std::string* watched_secret = nullptr;
std::atomic<int> unwiped_frees{0};

void CheckFreed(void* p) {
  const std::string* secret = watched_secret;
  if (p == nullptr || secret == nullptr) return;
  watched_secret = nullptr;  // the search below must not recurse
  const size_t size = malloc_usable_size(p);
  if (memmem(p, size, secret->data(), secret->size()) != nullptr) {
    ++unwiped_frees;
  }
  watched_secret = secret;
}

}  // namespace

void* operator new(size_t size) {
  if (void* p = std::malloc(size == 0 ? 1 : size)) return p;
  throw std::bad_alloc();
}
void* operator new[](size_t size) { return ::operator new(size); }
void operator delete(void* p) noexcept {
  CheckFreed(p);
  std::free(p);
}
void operator delete[](void* p) noexcept { ::operator delete(p); }
void operator delete(void* p, size_t) noexcept { ::operator delete(p); }
void operator delete[](void* p, size_t) noexcept { ::operator delete(p); }
// The nothrow forms too (gRPC allocates with them): under ASan the ones
// not replaced here are ASan's, and a block from its new freed by the
// std::free above is an alloc-dealloc mismatch.
void* operator new(size_t size, const std::nothrow_t&) noexcept {
  return std::malloc(size == 0 ? 1 : size);
}
void* operator new[](size_t size, const std::nothrow_t&) noexcept {
  return std::malloc(size == 0 ? 1 : size);
}
void operator delete(void* p, const std::nothrow_t&) noexcept {
  ::operator delete(p);
}
void operator delete[](void* p, const std::nothrow_t&) noexcept {
  ::operator delete(p);
}

namespace sallyport::gateway {
namespace {

class CaChannelKeyTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto dir = testing::TempDir::Create("gwkey");
    ASSERT_TRUE(dir.ok());
    dir_ = std::make_unique<testing::TempDir>(std::move(*dir));
    absl::StatusOr<base::TlsClientKey> key = base::GenerateTlsClientKey();
    ASSERT_TRUE(key.ok()) << key.status();
    const std::string pem(key->private_pem.view());
    // A line of the key's base64 body: in no other file.
    const size_t body = pem.find('\n') + 1;
    secret_ = pem.substr(body, pem.find('\n', body) - body);
    ASSERT_GE(secret_.size(), 40u);
    key_path_ = dir_->File("gateway_tls.key");
    ASSERT_TRUE(base::WriteFileAtomic(key_path_, pem, 0600).ok());
  }

  // Runs `call` with the frees of this thread watched; the number of
  // freed blocks that held the key's text.
  template <typename Call>
  int UnwipedFreesDuring(Call call) {
    unwiped_frees = 0;
    watched_secret = &secret_;
    call();
    watched_secret = nullptr;
    return unwiped_frees.load();
  }

  // Options for a channel with the key in key_path_, the certificate in
  // tls.crt (not written here), and a pinned CA certificate made by
  // `openssl` with its fingerprint.
  CaChannelOptions ChannelOptions() {
    CaChannelOptions o;
    o.address = "127.0.0.1:1";
    o.tls_key_path = key_path_;
    o.tls_certificate_path = dir_->File("tls.crt");
    o.ca_certificate_path = dir_->File("ca.pem");
    auto made = testing::RunCommand({"openssl", "req", "-x509", "-newkey", "ec",
                                     "-pkeyopt", "ec_paramgen_curve:prime256v1",
                                     "-nodes", "-keyout", dir_->File("ca.key"),
                                     "-out", o.ca_certificate_path, "-days",
                                     "1", "-subj", "/CN=sallyport-ca"});
    EXPECT_TRUE(made.ok() && made->exit_code == 0)
        << (made.ok() ? made->Describe() : made.status().ToString());
    absl::StatusOr<std::string> pem = base::ReadTextFile(o.ca_certificate_path);
    EXPECT_TRUE(pem.ok()) << pem.status();
    absl::StatusOr<std::string> fp = base::PemFingerprint(pem.value_or(""));
    EXPECT_TRUE(fp.ok()) << fp.status();
    o.fingerprint = fp.value_or("");
    return o;
  }

  std::unique_ptr<testing::TempDir> dir_;
  std::string key_path_;
  std::string secret_;
};

TEST_F(CaChannelKeyTest, TheWatchSeesAKeyThatIsNotWiped) {
  // The control: a copy of the key freed as it is, is found.
  EXPECT_EQ(UnwipedFreesDuring([&] {
              absl::StatusOr<std::string> text = base::ReadTextFile(key_path_);
              ASSERT_TRUE(text.ok());
            }),
            1);
}

TEST_F(CaChannelKeyTest, MakeCaChannelWipesTheKeyItRead) {
  // The pinned certificate is the CA's: the key is read, then the mTLS
  // certificate is not one for it, and MakeCaChannel returns before gRPC
  // sees the key.
  CaChannelOptions o = ChannelOptions();
  ASSERT_TRUE(base::WriteFileAtomic(o.tls_certificate_path, "x\n", 0644).ok());
  absl::Status st;
  EXPECT_EQ(UnwipedFreesDuring([&] { st = MakeCaChannel(o).status(); }), 0);
  EXPECT_EQ(st.code(), absl::StatusCode::kFailedPrecondition) << st;
  EXPECT_TRUE(absl::StrContains(st.message(), "is not the key that")) << st;
}

TEST_F(CaChannelKeyTest, MakeCaChannelWipesTheKeyItGaveGrpc) {
  // A certificate for the key: the channel is made, gRPC holding the key
  // (its copies are not ours to wipe), and no copy of ours is left.
  CaChannelOptions o = ChannelOptions();
  auto made = testing::RunCommand({"openssl", "req", "-x509", "-key", key_path_,
                                   "-subj", "/CN=gw1", "-days", "1", "-out",
                                   o.tls_certificate_path});
  ASSERT_TRUE(made.ok() && made->exit_code == 0)
      << (made.ok() ? made->Describe() : made.status().ToString());
  absl::StatusOr<std::shared_ptr<grpc::Channel>> channel =
      absl::UnknownError("not yet");
  EXPECT_EQ(UnwipedFreesDuring([&] { channel = MakeCaChannel(o); }), 0);
  EXPECT_TRUE(channel.ok()) << channel.status();
}

TEST_F(CaChannelKeyTest, OpenCaChannelWipesTheKeyWhenTheCertificateIsMissing) {
  ASSERT_TRUE(base::WriteFileAtomic(dir_->File("ca.pem"), "y\n", 0644).ok());
  GatewaySettings s;
  s.ca = "127.0.0.1:1";
  s.ca_fingerprint = absl::StrCat("SHA256:", std::string(43, 'A'));
  s.files.tls_key = key_path_;
  s.files.tls_certificate = dir_->File("missing.crt");
  s.files.ca_certificate = dir_->File("ca.pem");
  absl::Status st;
  EXPECT_EQ(UnwipedFreesDuring([&] { st = OpenCaChannel(s).status(); }), 0);
  EXPECT_EQ(st.code(), absl::StatusCode::kNotFound) << st;
}

}  // namespace
}  // namespace sallyport::gateway
