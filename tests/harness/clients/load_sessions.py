#!/usr/bin/python3
"""Runs N SSH sessions at once (AsyncSSH, one process), each its own
connection running one command and counting the bytes of its output, for
bounded load tests.

  load_sessions.py --port P --user U --key K --cert C --host-key LINE \
      --count N --command CMD --expect-bytes B [--parallel M] [--barrier]

--parallel M: at most M sessions at a time (with --barrier: at most M
connections being made at a time). --barrier: the commands start only once
all N connections are up (so N sessions really run at once, while the
connection storm stays bounded by --parallel).

Prints one line "sessions N ok M failed F bytes X seconds S" (with
--barrier "... bytes X connect_seconds C seconds S", C until all were up)
and, for each failure, "failure: ..."; exits 0 only when every session exited 0 with
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


async def run_command(a, conn):
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
            raise RuntimeError("exit %r, %d bytes" % (proc.exit_status, total))
        return total


def connect(a, key, cert, host_key):
    return asyncssh.connect(
        a.host, port=a.port, username=a.user,
        client_keys=[(key, cert)], known_hosts=([host_key], [], []),
        agent_path=None, config=None, preferred_auth="publickey",
        login_timeout=180 if a.barrier else 120)


async def one(a, key, cert, host_key, gate):
    async with gate:
        async with connect(a, key, cert, host_key) as conn:
            return await run_command(a, conn)


async def one_at_barrier(a, key, cert, host_key, gate, connected, all_up):
    async with gate:
        conn = await connect(a, key, cert, host_key)
    try:
        connected.append(conn)
        if len(connected) == a.count:
            all_up.set()
        await all_up.wait()
        return await run_command(a, conn)
    finally:
        conn.close()


async def run(a):
    key = asyncssh.read_private_key(a.key)
    cert = asyncssh.read_certificate(a.cert)
    host_key = asyncssh.import_public_key(a.host_key)
    gate = asyncio.Semaphore(a.parallel or a.count)
    start = time.monotonic()
    connect_seconds = 0.0
    connected = []
    if not a.barrier:
        tasks = [asyncio.ensure_future(one(a, key, cert, host_key, gate))
                 for _ in range(a.count)]
    else:
        all_up = asyncio.Event()
        tasks = [asyncio.ensure_future(
            one_at_barrier(a, key, cert, host_key, gate, connected, all_up))
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
    moved = sum(r for r in results if not isinstance(r, BaseException))
    if a.barrier and len(connected) < a.count and not failures:
        failures.append(RuntimeError("only %d connected" % len(connected)))
    connect = (" connect_seconds %.2f" % connect_seconds) if a.barrier else ""
    print("sessions %d ok %d failed %d bytes %d%s seconds %.2f" %
          (a.count, a.count - len(failures), len(failures), moved, connect,
           seconds))
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
    p.add_argument("--barrier", action="store_true")
    return asyncio.run(run(p.parse_args()))


if __name__ == "__main__":
    try:
        sys.exit(main())
    except Exception as e:
        print("failure: %s: %s" % (type(e).__name__, e))
        sys.exit(1)
