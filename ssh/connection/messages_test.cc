#include "ssh/connection/messages.h"

#include <signal.h>

#include "gtest/gtest.h"

namespace sallyport::ssh::connection {
namespace {

TEST(SignalsTest, NamesAndNumbersRoundTrip) {
  for (int sig : {SIGABRT, SIGALRM, SIGFPE, SIGHUP, SIGILL, SIGINT, SIGKILL,
                  SIGPIPE, SIGQUIT, SIGSEGV, SIGTERM, SIGUSR1, SIGUSR2}) {
    EXPECT_EQ(SignalNumber(SignalName(sig)), sig) << sig;
  }
  EXPECT_EQ(SignalName(SIGTERM), "TERM");
  EXPECT_EQ(SignalNumber("INT"), SIGINT);
}

TEST(SignalsTest, UnknownSignals) {
  EXPECT_EQ(SignalNumber("SIGTERM"), 0);  // RFC 4254 names carry no "SIG"
  EXPECT_EQ(SignalNumber(""), 0);
  EXPECT_EQ(SignalName(SIGCHLD), "SIG@openssh.com");
}

}  // namespace
}  // namespace sallyport::ssh::connection
