#!/usr/bin/python3
"""Runs N SSH sessions at once (AsyncSSH, one process), each its own
connection running one command and counting the bytes of its output, for
bounded load tests.

  load_sessions.py --port P --user U --key K --cert C --host-key LINE \
      --count N --command CMD --expect-bytes B [--parallel N]

Prints one line "sessions N ok M failed F bytes X seconds S" and, for each
failure, "failure: ..."; exits 0 only when every session exited 0 with
exactly B bytes of output.
"""
import argparse
import asyncio
import sys
import time
import warnings

warnings.filterwarnings("ignore")
from client_args import add_endpoint_args  # noqa: E402
import asyncssh  # noqa: E402


async def one(a, key, cert, host_key, gate):
    async with gate:
        async with asyncssh.connect(
                a.host, port=a.port, username=a.user,
                client_keys=[(key, cert)], known_hosts=([host_key], [], []),
                agent_path=None, config=None, preferred_auth="publickey",
                login_timeout=120) as conn:
            async with conn.create_process(a.command, encoding=None,
                                           stdin=asyncssh.DEVNULL) as proc:
                total = 0
                while True:
                    chunk = await proc.stdout.read(1 << 16)
                    if not chunk:
                        break
                    total += len(chunk)
                await proc.wait()
                if proc.exit_status != 0 or total != a.expect_bytes:
                    raise RuntimeError("exit %r, %d bytes" %
                                       (proc.exit_status, total))
                return total


async def run(a):
    key = asyncssh.read_private_key(a.key)
    cert = asyncssh.read_certificate(a.cert)
    host_key = asyncssh.import_public_key(a.host_key)
    gate = asyncio.Semaphore(a.parallel or a.count)
    start = time.monotonic()
    results = await asyncio.gather(
        *[one(a, key, cert, host_key, gate) for _ in range(a.count)],
        return_exceptions=True)
    seconds = time.monotonic() - start
    failures = [r for r in results if isinstance(r, BaseException)]
    moved = sum(r for r in results if not isinstance(r, BaseException))
    print("sessions %d ok %d failed %d bytes %d seconds %.2f" %
          (a.count, a.count - len(failures), len(failures), moved, seconds))
    for f in failures[:10]:
        print("failure: %s: %s" % (type(f).__name__, f))
    return 0 if not failures else 1


def main():
    p = argparse.ArgumentParser()
    add_endpoint_args(p)
    p.add_argument("--host-key", required=True)
    p.add_argument("--count", type=int, required=True)
    p.add_argument("--command", required=True)
    p.add_argument("--expect-bytes", type=int, required=True)
    p.add_argument("--parallel", type=int, default=0)
    return asyncio.run(run(p.parse_args()))


if __name__ == "__main__":
    try:
        sys.exit(main())
    except Exception as e:
        print("failure: %s: %s" % (type(e).__name__, e))
        sys.exit(1)
