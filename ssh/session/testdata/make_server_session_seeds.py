#!/usr/bin/env python3
"""Writes the post-login seeds of server_session_fuzz: plaintext packets
(the "none" cipher, no MAC) of connection messages a logged-in client sends.
The pre-login seeds are transport_fuzz's (make_transport_seeds).
  make_server_session_seeds.py OUTPUT_DIR
"""
import os
import struct
import sys


def u32(n):
    return struct.pack(">I", n)


def string(b):
    if isinstance(b, str):
        b = b.encode()
    return u32(len(b)) + b


def packet(payload):
    pad = 8 - (5 + len(payload)) % 8
    if pad < 4:
        pad += 8
    return u32(1 + len(payload) + pad) + bytes([pad]) + payload + bytes(pad)


def open_session(sender):
    return packet(bytes([90]) + string("session") + u32(sender) + u32(2 << 20) + u32(32768))


def request(ch, name, want, data=b""):
    return packet(bytes([98]) + u32(ch) + string(name) + bytes([want]) + data)


def main():
    out = sys.argv[1]
    seeds = {
        # open, env at and over the cap, exec, data, eof, close
        "login_shell": open_session(0)
        + b"".join(request(0, "env", 1, string("LC_%d" % i) + string("x")) for i in range(6))
        + request(0, "exec", 1, string("true"))
        + packet(bytes([94]) + u32(0) + string("hello"))
        + packet(bytes([95]) + u32(0) + u32(1) + string("err"))
        + packet(bytes([93]) + u32(0) + u32(4096))
        + packet(bytes([96]) + u32(0))
        + packet(bytes([97]) + u32(0)),
        # two channels, requests answered in order, global requests
        "login_two_channels": open_session(0)
        + open_session(1)
        + request(0, "yes", 1)
        + request(1, "no", 1)
        + packet(bytes([80]) + string("keepalive@openssh.com") + bytes([1]))
        + packet(bytes([80]) + string("tcpip-forward") + bytes([1]) + string("") + u32(0))
        + request(0, "exit", 0)
        + packet(bytes([97]) + u32(1)),
        # a direct-tcpip open nobody answers (open timeout), then silence
        # (keepalive probes)
        "login_direct_tcpip": packet(
            bytes([90]) + string("direct-tcpip") + u32(3) + u32(1 << 20) + u32(32768)
            + string("127.0.0.1") + u32(22) + string("127.0.0.1") + u32(5555))
        + bytes(64),
    }
    for name, body in seeds.items():
        with open(os.path.join(out, name), "wb") as f:
            # odd first byte: post-login mode; chunk size from the rest
            f.write(bytes([1 + 2 * 3]) + body)


if __name__ == "__main__":
    main()
