"""A minimal OTLP/HTTP traces receiver for the tracing tests: accepts POST /v1/traces with a
JSON ExportTraceServiceRequest, keeps every span (with its resource's service name), and
answers 200 (or a chosen status)."""

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class OTLPReceiver:
    def __init__(self, status=200):
        self.status = status
        self.bodies = []
        self.requests = []
        self._lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self):
                length = int(self.headers.get("Content-Length", "0"))
                body = self.rfile.read(length)
                with receiver._lock:
                    receiver.requests.append((self.path, dict(self.headers)))
                    receiver.bodies.append(body)
                answer = b"{}"
                self.send_response(receiver.status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()

    @property
    def endpoint(self):
        return f"http://127.0.0.1:{self.port}"

    def spans(self):
        """Every span received, as dicts with its attributes flattened into `attrs`."""
        with self._lock:
            bodies = list(self.bodies)
        spans = []
        for body in bodies:
            doc = json.loads(body)
            for resource_spans in doc.get("resourceSpans", []):
                resource = {a["key"]: next(iter(a["value"].values()))
                            for a in resource_spans.get("resource", {}).get("attributes", [])}
                for scope in resource_spans.get("scopeSpans", []):
                    for span in scope.get("spans", []):
                        span = dict(span)
                        span["attrs"] = {a["key"]: next(iter(a["value"].values())) for a in span.get("attributes", [])}
                        span["resource"] = resource
                        spans.append(span)
        return spans

    def raw(self):
        with self._lock:
            return b"".join(self.bodies)
