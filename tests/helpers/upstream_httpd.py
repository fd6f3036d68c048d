#!/usr/bin/env python3
"""Upstream test servers for the egress tests: HTTP on one port and HTTPS
on another, on one address, answering every method on every path with
"ok METHOD PATH" and appending "METHOD HOST PATH" to a log file, so a test
can show that a refused request never reached the upstream.

  upstream_httpd.py --addr 10.231.0.2 --http 80 --https 443 \
      --cert srv.crt --key srv.key --log requests.log --ready FILE

Writes FILE once both sockets listen. Runs until killed. Test use only.
"""
import argparse
import http.server
import os
import socketserver
import ssl
import sys
import threading


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    log_path = None
    lock = threading.Lock()

    def _answer(self):
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            self.rfile.read(length)
        with self.lock, open(self.log_path, "a") as f:
            f.write("%s %s %s\n" % (self.command, self.headers.get("Host", "-"), self.path))
        body = ("ok %s %s\n" % (self.command, self.path)).encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    do_GET = do_HEAD = do_POST = do_PUT = do_DELETE = do_PATCH = do_OPTIONS = _answer

    def log_message(self, fmt, *args):
        pass


class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    allow_reuse_address = True


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--addr", required=True)
    ap.add_argument("--http", type=int, required=True)
    ap.add_argument("--https", type=int, required=True)
    ap.add_argument("--cert", required=True)
    ap.add_argument("--key", required=True)
    ap.add_argument("--log", required=True)
    ap.add_argument("--ready", required=True)
    a = ap.parse_args()
    Handler.log_path = a.log
    plain = Server((a.addr, a.http), Handler)
    tls = Server((a.addr, a.https), Handler)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(a.cert, a.key)
    tls.socket = ctx.wrap_socket(tls.socket, server_side=True)
    for s in (plain, tls):
        threading.Thread(target=s.serve_forever, daemon=True).start()
    with open(a.ready, "w") as f:
        f.write("%d\n" % os.getpid())
    threading.Event().wait()


if __name__ == "__main__":
    sys.exit(main())
