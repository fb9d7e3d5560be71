#!/usr/bin/python3
"""Runs one command or moves one file over SSH with AsyncSSH (Debian's
python3-asyncssh), authenticating with an OpenSSH key + certificate and
checking the server's host key with a known_hosts file (which may hold
@cert-authority lines) or one expected key (no TOFU).

  asyncssh_client.py --port P --user U --key K --cert C \
      (--known-hosts FILE | --host-key LINE) \
      exec CMD | put LOCAL REMOTE | get REMOTE LOCAL

exec exits with the remote command's exit status (255 with "asyncssh:
exit-signal NAME" on stderr when a signal ended it); errors exit 255 with
"asyncssh: ..." on stderr.
"""
import argparse
import asyncio
import sys
import warnings

warnings.filterwarnings("ignore")
from client_args import add_endpoint_args  # noqa: E402
import asyncssh  # noqa: E402


async def run(a):
    key = asyncssh.read_private_key(a.key)
    cert = asyncssh.read_certificate(a.cert)
    if a.known_hosts:
        known_hosts = a.known_hosts
    else:
        known_hosts = ([asyncssh.import_public_key(a.host_key)], [], [])
    async with asyncssh.connect(
            a.host, port=a.port, username=a.user, client_keys=[(key, cert)],
            known_hosts=known_hosts, agent_path=None, config=None,
            preferred_auth="publickey", login_timeout=20) as conn:
        if a.op == "exec":
            result = await conn.run(" ".join(a.args), check=False,
                                    stdin=asyncssh.DEVNULL, encoding=None)
            sys.stdout.buffer.write(result.stdout or b"")
            sys.stderr.buffer.write(result.stderr or b"")
            if result.exit_signal:
                # (name, core dumped, message, language): the command was
                # ended by a signal, reported like this.
                sys.stderr.write("asyncssh: exit-signal %s\n" %
                                 result.exit_signal[0])
                return 255
            if result.exit_status is None or result.exit_status < 0:
                return 255
            return result.exit_status
        async with conn.start_sftp_client() as sftp:
            if a.op == "put":
                await sftp.put(a.args[0], a.args[1])
            else:
                await sftp.get(a.args[0], a.args[1])
        return 0


def main():
    p = argparse.ArgumentParser()
    add_endpoint_args(p)
    p.add_argument("--known-hosts")
    p.add_argument("--host-key")
    p.add_argument("op", choices=["exec", "put", "get"])
    p.add_argument("args", nargs="+")
    a = p.parse_args()
    if not a.known_hosts and not a.host_key:
        p.error("--known-hosts or --host-key is required")
    return asyncio.run(run(a))


if __name__ == "__main__":
    try:
        sys.exit(main())
    except Exception as e:  # report any failure as exit 255, like ssh
        sys.stderr.write("asyncssh: %s: %s\n" % (type(e).__name__, e))
        sys.exit(255)
