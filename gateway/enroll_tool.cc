// //gateway:sallyport-gateway-enroll: `enroll` alone, until gateway/main.cc
// adds it beside `serve` (AddEnrollCommand).
#include "gateway/enroll_main.h"

int main(int argc, char** argv) {
  return sallyport::gateway::RunEnroll(argc, argv);
}
