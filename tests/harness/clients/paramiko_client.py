#!/usr/bin/python3
"""Runs one command or moves one file over SSH with paramiko (Debian's
python3-paramiko), authenticating with an OpenSSH key + certificate and
checking the server's host key against one expected key (no TOFU).

  paramiko_client.py --port P --user U --key K --cert C --host-key LINE \
      exec CMD | put LOCAL REMOTE | get REMOTE LOCAL

exec exits with the remote command's exit status; errors exit 255 with
"paramiko: ..." on stderr.
"""
import argparse
import sys
import warnings

warnings.filterwarnings("ignore")
from client_args import add_endpoint_args  # noqa: E402
import paramiko  # noqa: E402


def load_key(path, cert):
    for cls in (paramiko.Ed25519Key, paramiko.ECDSAKey, paramiko.RSAKey):
        try:
            key = cls.from_private_key_file(path)
        except paramiko.SSHException:
            continue
        key.load_certificate(cert)
        return key
    raise paramiko.SSHException("unsupported private key " + path)


def main():
    p = argparse.ArgumentParser()
    add_endpoint_args(p)
    p.add_argument("--host-key", required=True)
    p.add_argument("op", choices=["exec", "put", "get"])
    p.add_argument("args", nargs="+")
    a = p.parse_args()

    client = paramiko.SSHClient()
    name = a.host if a.port == 22 else "[%s]:%d" % (a.host, a.port)
    entry = paramiko.hostkeys.HostKeyEntry.from_line(name + " " + a.host_key)
    client.get_host_keys().add(name, entry.key.get_name(), entry.key)
    client.set_missing_host_key_policy(paramiko.RejectPolicy())
    client.connect(a.host, a.port, username=a.user, pkey=load_key(a.key, a.cert),
                   allow_agent=False, look_for_keys=False, timeout=20,
                   banner_timeout=20, auth_timeout=20)
    try:
        if a.op == "exec":
            stdin, stdout, stderr = client.exec_command(" ".join(a.args))
            stdin.close()
            out = stdout.read()
            err = stderr.read()
            status = stdout.channel.recv_exit_status()
            sys.stdout.buffer.write(out)
            sys.stderr.buffer.write(err)
            return status if status >= 0 else 255
        sftp = client.open_sftp()
        if a.op == "put":
            sftp.put(a.args[0], a.args[1])
        else:
            sftp.get(a.args[0], a.args[1])
        sftp.close()
        return 0
    finally:
        client.close()


if __name__ == "__main__":
    try:
        sys.exit(main())
    except Exception as e:  # report any failure as exit 255, like ssh
        sys.stderr.write("paramiko: %s: %s\n" % (type(e).__name__, e))
        sys.exit(255)
