"""sp_fuzz_test: one libFuzzer target, built two ways.

  name           a cc_test that replays the seed corpus plus thousands of
                 deterministic mutations of it through the target (runs
                 under plain `bazel test`, gcc, asan, ubsan);
  name_fuzzer    a libFuzzer binary, built with clang under --config=fuzz:
                 bazel build --config=fuzz //pkg:name_fuzzer
                 bazel-bin/pkg/name_fuzzer -max_total_time=60 pkg/testdata/name_corpus
"""

def sp_fuzz_test(name, srcs, deps = [], corpus = None, size = "small", replay_mutations = 200):
    """Defines `name` (corpus-replay cc_test) and `name + "_fuzzer"` (libFuzzer).

    Args:
      name: target name; the source defines LLVMFuzzerTestOneInput.
      srcs: sources of the fuzz target.
      deps: its dependencies.
      corpus: a glob of seed inputs (files); may be empty.
      size: test size.
      replay_mutations: mutated inputs per seed in the replay test.
    """
    corpus = corpus or []
    native.cc_test(
        name = name,
        srcs = srcs,
        deps = deps + ["//tests/fuzz:replay_main"],
        data = corpus,
        args = ["--mutations=%d" % replay_mutations] + ["$(location %s)" % c for c in corpus],
        size = size,
    )
    native.cc_binary(
        name = name + "_fuzzer",
        srcs = srcs,
        deps = deps,
        linkopts = ["-fsanitize=fuzzer"],
        tags = ["manual"],
        testonly = True,
    )
