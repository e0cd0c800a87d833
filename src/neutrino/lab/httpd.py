"""The lab's tiny web service: every GET is answered with the address the client is seen from.

    python -m neutrino.lab.httpd [--port 80] [--name NAME]

Body "you are <client address>\\n" (`GET /bytes/N`: N bytes, at most 16 MB), header
`X-Served-By: NAME`. It runs in the internet namespace and in every VM, so a test
can tell which source address (a VM's own, a floating IP, the router's SNAT
address) reached it.
"""

import argparse
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

MAX_BYTES = 16 << 20


class WhoAmI(BaseHTTPRequestHandler):
    server_version = "neutrino-lab"
    served_by = ""

    def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
        body = f"you are {self.client_address[0]}\n".encode()
        size = self.path.removeprefix("/bytes/")
        if size != self.path and size.isdigit() and int(size) <= MAX_BYTES:
            body = b"x" * int(size)  # bulk: MTU and offload trouble shows only in big segments
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("X-Served-By", self.served_by)
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args) -> None:  # noqa: A002 (the base's signature)
        sys.stderr.write(f"{self.client_address[0]} {format % args}\n")
        sys.stderr.flush()


class Server(ThreadingHTTPServer):
    allow_reuse_address = True
    daemon_threads = True


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=80)
    parser.add_argument("--name", default="")
    args = parser.parse_args(argv)
    WhoAmI.served_by = args.name
    with Server(("0.0.0.0", args.port), WhoAmI) as server:
        server.serve_forever()


if __name__ == "__main__":
    main()
