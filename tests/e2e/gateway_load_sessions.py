#!/usr/bin/python3
"""N SSH sessions open at the same time (AsyncSSH, one process), for the
gateway's bounded load test: the connections are made at most
--connect-parallel at a time, and only once all N are up does every one of
them run --command at once, counting its output bytes. So N sessions are
really concurrent, and the connection storm is bounded.

  gateway_load_sessions.py --port P --user U --key K --cert C \
      --host-key LINE --count N --connect-parallel M --command CMD \
      --expect-bytes B

Prints "sessions N ok M failed F bytes X connect_seconds C seconds S" and
the first failures; exits 0 only when every session exited 0 with exactly
B bytes of output.
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


async def one(a, key, cert, host_key, gate, connected, all_up):
    async with gate:
        conn = await asyncssh.connect(
            a.host, port=a.port, username=a.user,
            client_keys=[(key, cert)], known_hosts=([host_key], [], []),
            agent_path=None, config=None, preferred_auth="publickey",
            login_timeout=180)
    try:
        connected.append(conn)
        if len(connected) == a.count:
            all_up.set()
        await all_up.wait()
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
    finally:
        conn.close()


async def run(a):
    key = asyncssh.read_private_key(a.key)
    cert = asyncssh.read_certificate(a.cert)
    host_key = asyncssh.import_public_key(a.host_key)
    gate = asyncio.Semaphore(a.connect_parallel)
    connected = []
    all_up = asyncio.Event()
    start = time.monotonic()
    tasks = [asyncio.ensure_future(
        one(a, key, cert, host_key, gate, connected, all_up))
        for _ in range(a.count)]
    # A failed connection can never complete the set: stop waiting then.
    while not all_up.is_set():
        await asyncio.sleep(0.1)
        if any(t.done() and t.exception() is not None for t in tasks):
            all_up.set()
    connect_seconds = time.monotonic() - start
    results = await asyncio.gather(*tasks, return_exceptions=True)
    seconds = time.monotonic() - start
    failures = [r for r in results if isinstance(r, BaseException)]
    if len(connected) < a.count and not failures:
        failures.append(RuntimeError("only %d connected" % len(connected)))
    moved = sum(r for r in results if not isinstance(r, BaseException))
    print("sessions %d ok %d failed %d bytes %d connect_seconds %.2f "
          "seconds %.2f" % (a.count, a.count - len(failures), len(failures),
                            moved, connect_seconds, seconds))
    for f in failures[:10]:
        print("failure: %s: %s" % (type(f).__name__, f))
    return 0 if not failures else 1


def main():
    p = argparse.ArgumentParser()
    add_endpoint_args(p)
    p.add_argument("--host-key", required=True)
    p.add_argument("--count", type=int, required=True)
    p.add_argument("--connect-parallel", type=int, default=20)
    p.add_argument("--command", required=True)
    p.add_argument("--expect-bytes", type=int, required=True)
    return asyncio.run(run(p.parse_args()))


if __name__ == "__main__":
    try:
        sys.exit(main())
    except Exception as e:  # noqa: BLE001
        print("failure: %s: %s" % (type(e).__name__, e))
        sys.exit(1)
