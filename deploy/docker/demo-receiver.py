#!/usr/bin/env python3
"""demo-receiver.py - the webhook receiver of `docker compose up` (Python standard library only).

Verifies every delivery's Standard Webhooks signature with DEMO_SECRET (docs/receiving.md) and
prints one line per request: `delivery <webhook-id> <type> verified|REJECTED`. Answers 204 to
verified deliveries, 401 to the others; GET /healthz answers 200 (the compose healthcheck)."""
import base64, hashlib, hmac, http.server, json, os, sys, threading, time

SECRET = os.environ["DEMO_SECRET"]
KEY = base64.b64decode(SECRET.removeprefix("whsec_"))
OUT = threading.Lock()  # the server answers on threads; one whole line per write


def verified(headers, body):
    msg_id, ts = headers.get("webhook-id", ""), headers.get("webhook-timestamp", "0")
    if not ts.isdigit() or abs(time.time() - int(ts)) > 300:
        return False
    mac = hmac.new(KEY, f"{msg_id}.{ts}.".encode() + body, hashlib.sha256).digest()
    want = "v1," + base64.b64encode(mac).decode()
    return any(hmac.compare_digest(want, e) for e in headers.get("webhook-signature", "").split(" "))


class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(200 if self.path == "/healthz" else 404)
        self.end_headers()

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("content-length", "0")))
        ok = verified(self.headers, body)
        try:
            kind = json.loads(body).get("type", "?")
        except ValueError:
            kind = "?"
        line = "delivery %s %s %s\n" % (self.headers.get("webhook-id"), kind, "verified" if ok else "REJECTED")
        with OUT:
            sys.stdout.write(line)
            sys.stdout.flush()
        self.send_response(204 if ok else 401)
        self.end_headers()

    def log_message(self, *args):
        pass


server = http.server.ThreadingHTTPServer((os.environ.get("HOST", ""), int(os.environ.get("PORT", "8000"))), Handler)
print("demo receiver listening on port %d" % server.server_address[1], flush=True)
server.serve_forever()
