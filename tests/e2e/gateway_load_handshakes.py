#!/usr/bin/python3
"""N SSH handshakes one after the other (AsyncSSH): each connects, does the
key exchange, authenticates with a key + certificate and disconnects, for
the gateway's bounded load test.

  gateway_load_handshakes.py --port P --user U --key K --cert C \
      --host-key LINE --count N

Prints "handshakes N ok M failed F seconds S" and the first failures;
exits 0 only when all N succeeded.
"""
import argparse
import asyncio
import os
import sys
import time
import warnings

warnings.filterwarnings("ignore")
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "harness", "clients"))
from client_args import add_endpoint_args  # noqa: E402
import asyncssh  # noqa: E402


async def run(a):
    key = asyncssh.read_private_key(a.key)
    cert = asyncssh.read_certificate(a.cert)
    host_key = asyncssh.import_public_key(a.host_key)
    failures = []
    slow = []
    start = time.monotonic()
    for _ in range(a.count):
        # The local port, to find the connection in the gateway's log.
        local = ["?"]

        class Client(asyncssh.SSHClient):
            def connection_made(self, conn):
                local[0] = conn.get_extra_info("sockname")[1]

        began = time.monotonic()
        wall = time.strftime("%H:%M:%S", time.gmtime())
        try:
            conn = await asyncssh.connect(
                a.host, port=a.port, username=a.user,
                client_keys=[(key, cert)], known_hosts=([host_key], [], []),
                agent_path=None, config=None, preferred_auth="publickey",
                login_timeout=60, client_factory=Client)
            conn.close()
            await conn.wait_closed()
        except Exception as e:  # noqa: BLE001 - every failure is counted
            failures.append("%s: %s (started %s UTC, local port %s)" %
                            (type(e).__name__, e, wall, local[0]))
        took = time.monotonic() - began
        if took > 10:
            slow.append("%.1f s (started %s UTC, local port %s)" %
                        (took, wall, local[0]))
    seconds = time.monotonic() - start
    print("handshakes %d ok %d failed %d seconds %.2f" %
          (a.count, a.count - len(failures), len(failures), seconds))
    for f in failures[:10]:
        print("failure: %s" % f)
    for s in slow[:20]:
        print("slow handshake: %s" % s)
    return 0 if not failures else 1


def main():
    p = argparse.ArgumentParser()
    add_endpoint_args(p)
    p.add_argument("--host-key", required=True)
    p.add_argument("--count", type=int, required=True)
    return asyncio.run(run(p.parse_args()))


if __name__ == "__main__":
    try:
        sys.exit(main())
    except Exception as e:  # noqa: BLE001
        print("failure: %s: %s" % (type(e).__name__, e))
        sys.exit(1)
