#!/usr/bin/env python3
"""`make run`'s demo receiver for timer callbacks: prints each request that arrives."""
import http.server
import sys


class Handler(http.server.BaseHTTPRequestHandler):
    def answer(self):
        length = int(self.headers.get("content-length") or 0)
        body = self.rfile.read(length).decode("utf-8", "replace")
        print(f"callback arrived: {self.command} {self.path} timer {self.headers.get('x-skynet-timer-id')} "
              f"attempt {self.headers.get('x-skynet-timer-attempt')} body {body!r}", flush=True)
        self.send_response(200)
        self.end_headers()

    do_POST = do_PUT = do_PATCH = do_DELETE = do_GET = answer

    def log_message(self, *args):
        pass


port = int(sys.argv[1]) if len(sys.argv) > 1 else 8050
server = http.server.HTTPServer(("127.0.0.1", port), Handler)
print(f"receiver listening on 127.0.0.1:{port}", flush=True)
server.serve_forever()
