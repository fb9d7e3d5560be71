#!/usr/bin/python3
"""Holds N idle SSH sessions open (AsyncSSH, one process): each is its own
connection with one session channel running `cat` (waiting for input), so
a server or gateway can be measured per idle session.

  idle_sessions.py --port P --user U --key K --cert C --host-key LINE \
      --count N [--parallel 20] --until-file PATH

Prints "ready N" once all N are open (or "failed ..." and exits 1), then
keeps them until PATH exists, closes them and exits 0.
"""
import argparse
import asyncio
import os
import sys
import warnings

warnings.filterwarnings("ignore")
from client_args import add_endpoint_args  # noqa: E402
import asyncssh  # noqa: E402


async def open_one(a, key, cert, host_key, gate):
    async with gate:
        conn = await asyncssh.connect(
            a.host, port=a.port, username=a.user, client_keys=[(key, cert)],
            known_hosts=([host_key], [], []), agent_path=None, config=None,
            preferred_auth="publickey", login_timeout=60)
        proc = await conn.create_process("cat")
        return conn, proc


async def run(a):
    key = asyncssh.read_private_key(a.key)
    cert = asyncssh.read_certificate(a.cert)
    host_key = asyncssh.import_public_key(a.host_key)
    gate = asyncio.Semaphore(a.parallel)
    results = await asyncio.gather(
        *[open_one(a, key, cert, host_key, gate) for _ in range(a.count)],
        return_exceptions=True)
    errors = [r for r in results if isinstance(r, BaseException)]
    if errors:
        print("failed %d of %d: %r" % (len(errors), a.count, errors[0]),
              flush=True)
        return 1
    print("ready %d" % len(results), flush=True)
    while not os.path.exists(a.until_file):
        await asyncio.sleep(0.2)
    for conn, proc in results:
        proc.stdin.write_eof()
        conn.close()
    for conn, _ in results:
        await conn.wait_closed()
    return 0


def main():
    p = argparse.ArgumentParser()
    add_endpoint_args(p)
    p.add_argument("--host-key", required=True)
    p.add_argument("--count", type=int, required=True)
    p.add_argument("--parallel", type=int, default=20)
    p.add_argument("--until-file", required=True)
    return asyncio.run(run(p.parse_args()))


if __name__ == "__main__":
    try:
        sys.exit(main())
    except Exception as e:
        print("failed: %s: %s" % (type(e).__name__, e), flush=True)
        sys.exit(1)
