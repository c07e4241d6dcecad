#!/usr/bin/python3
"""A stand-in for Cloudflare's API v4 (zones and dns_records), on 127.0.0.1, for the DNS tests.

It answers under /client/v4 in the API's JSON envelope {success, errors, messages, result}
(lists with result_info), with Bearer-token authentication:

  GET    /zones?name=                               list zones
  GET    /zones/{zone}/dns_records?type=&name=      list DNS records
  POST   /zones/{zone}/dns_records                  create a record
  GET/PUT/PATCH/DELETE /zones/{zone}/dns_records/{id}

Errors as the API gives them: no or another token (403, code 10000 "Authentication error"),
an unknown zone id (404, code 7003), a content that is not an IPv4 address for an A record
(400, code 9005), a TTL that is not 1 or 60..86400 (400, code 9021), and throttling (429,
code 971, Retry-After: 1, for the first --throttle requests).

For the tests, without a token: GET /_standin/records (every record, JSON) and
GET /_standin/requests (method, path, query of each request, and whether the token appeared
anywhere but the Authorization header).

Usage: cloudflare_standin.py --port-file F --token T --zone example.org \
           [--record www.example.org=192.0.2.10:300[:proxied] ...] [--throttle N]
Only the Python 3 standard library is used.
"""
import argparse
import http.server
import ipaddress
import json
import sys
import threading
import urllib.parse
import uuid

from standin import serve

LOCK = threading.Lock()
PREFIX = "/client/v4"


class ApiError(Exception):
    def __init__(self, status, code, message):
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


class State:
    def __init__(self, args):
        self.token = args.token
        self.throttle = args.throttle
        self.zones = {}    # id -> {"id", "name", "status"}
        self.records = {}  # id -> {"id", "zone_id", "zone_name", "type", "name", "content", "ttl", "proxied"}
        self.requests = []
        for name in args.zone:
            zid = uuid.uuid4().hex
            self.zones[zid] = {"id": zid, "name": name.lower().rstrip("."), "status": "active"}
        for r in args.record:
            name, rest = r.split("=", 1)
            fields = rest.split(":")
            zone = self.zone_of(name)
            if zone is None:
                sys.exit(f"cloudflare_standin: no --zone holds {name}")
            rid = uuid.uuid4().hex
            self.records[rid] = {"id": rid, "zone_id": zone["id"], "zone_name": zone["name"], "type": "A",
                                 "name": name.lower().rstrip("."), "content": fields[0], "ttl": int(fields[1]),
                                 "proxied": len(fields) > 2 and fields[2] == "proxied"}

    def zone_of(self, name):
        name = name.lower().rstrip(".")
        best = None
        for z in self.zones.values():
            if name == z["name"] or name.endswith("." + z["name"]):
                if best is None or len(z["name"]) > len(best["name"]):
                    best = z
        return best


def envelope(result, info=None):
    out = {"success": True, "errors": [], "messages": [], "result": result}
    if info is not None:
        out["result_info"] = info
    return out


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    state = None

    def log_message(self, fmt, *args):  # quiet: the tests read /_standin/requests
        pass

    def reply(self, status, obj, headers=()):
        data = json.dumps(obj).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for k, v in headers:
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(data)

    def handle_any(self, method):
        url = urllib.parse.urlsplit(self.path)
        query = dict(urllib.parse.parse_qsl(url.query))
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        st = self.state
        with LOCK:
            leaked = st.token in self.path or st.token.encode() in body or any(
                st.token in v for k, v in self.headers.items() if k.lower() != "authorization")
            st.requests.append({"method": method, "path": url.path, "query": query, "token_elsewhere": leaked})
            if url.path == "/_standin/records":
                return self.reply(200, list(st.records.values()))
            if url.path == "/_standin/requests":
                return self.reply(200, st.requests)
            try:
                if st.throttle > 0:
                    st.throttle -= 1
                    return self.reply(429, {"success": False, "messages": [], "result": None, "errors": [
                        {"code": 971, "message": "Please wait and consider throttling your request speed"}]},
                        [("Retry-After", "1")])
                if self.headers.get("Authorization") != "Bearer " + st.token:
                    raise ApiError(403, 10000, "Authentication error")
                if not url.path.startswith(PREFIX + "/"):
                    raise ApiError(404, 7000, "No route for that URI")
                parts = url.path[len(PREFIX) + 1:].split("/")
                status, result, info = self.route(method, parts, query, body)
                self.reply(status, envelope(result, info))
            except ApiError as e:
                self.reply(e.status, {"success": False, "messages": [], "result": None,
                                      "errors": [{"code": e.code, "message": e.message}]})

    do_GET = lambda self: self.handle_any("GET")
    do_POST = lambda self: self.handle_any("POST")
    do_PUT = lambda self: self.handle_any("PUT")
    do_PATCH = lambda self: self.handle_any("PATCH")
    do_DELETE = lambda self: self.handle_any("DELETE")

    def route(self, method, parts, query, body):
        st = self.state
        if parts == ["zones"] and method == "GET":
            zones = [z for z in st.zones.values() if "name" not in query or z["name"] == query["name"].lower()]
            return 200, zones, {"page": 1, "per_page": 20, "count": len(zones), "total_count": len(zones)}
        if len(parts) >= 3 and parts[0] == "zones" and parts[2] == "dns_records":
            zone = st.zones.get(parts[1])
            if zone is None:
                raise ApiError(404, 7003, f"Could not route to /zones/{parts[1]}/dns_records, "
                                          "perhaps your object identifier is invalid?")
            if len(parts) == 3:
                if method == "GET":
                    recs = [r for r in st.records.values() if r["zone_id"] == zone["id"]
                            and ("type" not in query or r["type"] == query["type"])
                            and ("name" not in query or r["name"] == query["name"].lower().rstrip("."))]
                    per_page = int(query.get("per_page", 100))
                    return 200, recs[:per_page], {"page": 1, "per_page": per_page, "count": len(recs[:per_page]),
                                                  "total_count": len(recs)}
                if method == "POST":
                    rec = self.checked(zone, {"proxied": False, "ttl": 1}, self.body_json(body), full=True)
                    rec["id"] = uuid.uuid4().hex
                    st.records[rec["id"]] = rec
                    return 200, rec, None
            if len(parts) == 4:
                rec = st.records.get(parts[3])
                if rec is None or rec["zone_id"] != zone["id"]:
                    raise ApiError(404, 81044, "Record does not exist.")
                if method == "GET":
                    return 200, rec, None
                if method in ("PUT", "PATCH"):
                    base = {"proxied": False, "ttl": 1} if method == "PUT" else rec
                    new = self.checked(zone, base, self.body_json(body), full=method == "PUT")
                    new["id"] = rec["id"]
                    st.records[rec["id"]] = new
                    return 200, new, None
                if method == "DELETE":
                    del st.records[rec["id"]]
                    return 200, {"id": rec["id"]}, None
        raise ApiError(404, 7000, "No route for that URI")

    @staticmethod
    def body_json(body):
        try:
            obj = json.loads(body or b"null")
        except ValueError:
            raise ApiError(400, 6007, "Malformed JSON in request body")
        if not isinstance(obj, dict):
            raise ApiError(400, 6007, "Malformed JSON in request body")
        return obj

    @staticmethod
    def checked(zone, base, given, full):
        rec = dict(base)
        rec.update({k: v for k, v in given.items() if k in ("type", "name", "content", "ttl", "proxied")})
        if full and not all(k in given for k in ("type", "name", "content")):
            raise ApiError(400, 9000, "DNS record type, name and content are required")
        rec["name"] = str(rec["name"]).lower().rstrip(".")
        if not (rec["name"] == zone["name"] or rec["name"].endswith("." + zone["name"])):
            raise ApiError(400, 9007, f"Content for record name {rec['name']} is outside the zone {zone['name']}")
        if rec["type"] == "A":
            try:
                ipaddress.IPv4Address(str(rec["content"]))
            except ValueError:
                raise ApiError(400, 9005, "Content for A record must be a valid IPv4 address.")
        ttl = rec["ttl"]
        if not isinstance(ttl, int) or not (ttl == 1 or 60 <= ttl <= 86400):
            raise ApiError(400, 9021, "Invalid TTL. Must be between 60 and 86400 seconds, or 1 for Automatic.")
        if rec["proxied"]:
            rec["ttl"] = 1
        rec["zone_id"], rec["zone_name"] = zone["id"], zone["name"]
        return rec


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--port-file", required=True, help="written with the port once listening")
    ap.add_argument("--token", required=True, help="the API token requests must carry")
    ap.add_argument("--zone", action="append", default=[], help="a zone's name")
    ap.add_argument("--record", action="append", default=[], help="NAME=IP:TTL[:proxied], an A record")
    ap.add_argument("--throttle", type=int, default=0, help="the first N API requests get 429")
    args = ap.parse_args()
    Handler.state = State(args)
    serve(Handler, args.port_file)


if __name__ == "__main__":
    main()
