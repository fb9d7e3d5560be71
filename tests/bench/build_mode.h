// The first line every benchmark prints: whether it was built optimized.
// `bazel run` without --config=opt, or a bazel-bin left pointing at a
// fastbuild tree by the last non-opt command, runs an unoptimized binary
// (and, for the gateway benches, an unoptimized gateway beside it) whose
// CPU figures are about 1.5x the optimized ones: the line says so, so such
// figures are not taken for the real ones.
#ifndef SALLYPORT_TESTS_BENCH_BUILD_MODE_H_
#define SALLYPORT_TESTS_BENCH_BUILD_MODE_H_

#include <cstdio>

namespace sallyport::testing {

// Whether the translation unit that calls it was compiled with
// optimization (-c opt sets -O2 and NDEBUG).
inline constexpr bool BuiltOptimized() {
#if defined(__OPTIMIZE__) && defined(NDEBUG)
  return true;
#else
  return false;
#endif
}

inline void PrintBuildMode() {
  std::printf("%s\n",
              BuiltOptimized()
                  ? "build: optimized (-c opt)"
                  : "build: NOT optimized (fastbuild): CPU and throughput "
                    "figures are not comparable; build with --config=opt");
  std::fflush(stdout);
}

}  // namespace sallyport::testing

#endif  // SALLYPORT_TESTS_BENCH_BUILD_MODE_H_
