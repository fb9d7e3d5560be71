"""Command-line arguments shared by the client scripts in this directory:
where to connect, as whom, with which key + certificate."""


def add_endpoint_args(parser):
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--user", required=True)
    parser.add_argument("--key", required=True)
    parser.add_argument("--cert", required=True)
