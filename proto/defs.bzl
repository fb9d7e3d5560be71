"""sp_proto_library: C++ message (and optionally gRPC service) libraries from
.proto files, generated with Debian's protoc and grpc_cpp_plugin (packages
protobuf-compiler and protobuf-compiler-grpc). No Bazel proto rules or
downloads are involved."""

_PROTOC = "/usr/bin/protoc"
_GRPC_PLUGIN = "/usr/bin/grpc_cpp_plugin"

def sp_proto_library(name, srcs, deps = [], grpc = False, visibility = None, testonly = False):
    """Generates a cc_library named `name` from `srcs` (.proto files of this package).

    Args:
      name: the cc_library's name; `name + "_protos"` is a filegroup of the
        .proto files so other sp_proto_library targets can import them.
      srcs: .proto files in this package; imports are resolved from the
        workspace root (e.g. `import "proto/ca.proto";`) and /usr/include
        (well-known types).
      deps: other sp_proto_library targets whose .proto files are imported.
      grpc: also generate gRPC service stubs (*.grpc.pb.h/cc).
      visibility: visibility of the generated targets.
      testonly: as for any rule.
    """
    stems = [s[:-len(".proto")] for s in srcs]
    hdrs = [s + ".pb.h" for s in stems]
    cc_srcs = [s + ".pb.cc" for s in stems]
    if grpc:
        hdrs += [s + ".grpc.pb.h" for s in stems]
        cc_srcs += [s + ".grpc.pb.cc" for s in stems]

    native.filegroup(
        name = name + "_protos",
        srcs = srcs + [d + "_protos" for d in deps],
        visibility = visibility,
        testonly = testonly,
    )

    cmd = _PROTOC + " --proto_path=. --proto_path=/usr/include --cpp_out=$(GENDIR)"
    if grpc:
        cmd += " --grpc_out=$(GENDIR) --plugin=protoc-gen-grpc=" + _GRPC_PLUGIN
    cmd += " " + " ".join(["$(location %s)" % s for s in srcs])

    native.genrule(
        name = name + "_gen",
        srcs = srcs + [d + "_protos" for d in deps],
        outs = hdrs + cc_srcs,
        cmd = cmd,
        visibility = ["//visibility:private"],
        testonly = testonly,
    )

    lib_deps = ["//third_party:protobuf"] + deps
    if grpc:
        lib_deps.append("//third_party:grpc")
    native.cc_library(
        name = name,
        srcs = cc_srcs,
        hdrs = hdrs,
        deps = lib_deps,
        visibility = visibility,
        testonly = testonly,
    )
