#!/usr/bin/python3
"""A stand-in for Amazon Route 53's REST API (2013-04-01), on 127.0.0.1, for the DNS tests.

It answers the four requests the aws CLI sends for `migrate dns --provider route53`, in the
shapes of the API reference (XML in the 2013-04-01 namespace, errors as <ErrorResponse>):

  GET  /2013-04-01/hostedzonesbyname?dnsname=&maxitems=      ListHostedZonesByName
  GET  /2013-04-01/hostedzone/{Id}/rrset?name=&type=&maxitems= ListResourceRecordSets
  POST /2013-04-01/hostedzone/{Id}/rrset/                     ChangeResourceRecordSets
  GET  /2013-04-01/change/{Id}                                GetChange

Errors: a request not signed with --access-key (403 InvalidClientTokenId), an unknown hosted
zone (404 NoSuchHostedZone), an invalid change (400 InvalidChangeBatch: a value that is not an
IPv4 address, a name outside the zone, CREATE of an existing set, DELETE of a missing one),
and throttling (400 Throttling, for the first --throttle-changes changes). The signature itself
is not checked, only the access key id it names. A change is PENDING when submitted, GetChange
answers PENDING for it --pending-polls times, then INSYNC.

For the tests, without signing: GET /_standin/records (every record set, JSON) and
GET /_standin/requests (each request's method, path and query).

Usage: route53_standin.py --port-file F --access-key AKID --zone example.org=Z1 \
           [--record www.example.org=192.0.2.10:300 ...] [--pending-polls N] [--throttle-changes N]
Only the Python 3 standard library is used.
"""
import argparse
import http.server
import json
import random
import string
import sys
import threading
import time
import urllib.parse
import xml.etree.ElementTree as ET
from ipaddress import IPv4Address

from standin import serve

NS = "https://route53.amazonaws.com/doc/2013-04-01/"
LOCK = threading.Lock()


def canon(name):
    return name.rstrip(".").lower() + "."


def order_key(name, rtype=""):
    # Route 53 lists names with their labels reversed (com.example.www), then by type.
    return (list(reversed(canon(name).rstrip(".").split("."))), rtype)


def new_id(prefix):
    return prefix + "".join(random.choice(string.ascii_uppercase + string.digits) for _ in range(13))


class State:
    def __init__(self, args):
        self.access_key = args.access_key
        self.pending_polls = args.pending_polls
        self.throttle_changes = args.throttle_changes
        self.zones = {}    # id -> {"name": "example.org.", "records": {(name, type): {"ttl", "values"}}}
        self.changes = {}  # id -> {"polls_left", "submitted", "comment"}
        self.requests = []
        for z in args.zone:
            name, zid = z.split("=", 1)
            self.zones[zid] = {"name": canon(name), "records": {}}
            self.zones[zid]["records"][(canon(name), "SOA")] = {
                "ttl": 900, "values": ["ns-1.awsdns.test. hostmaster.test. 1 7200 900 1209600 86400"]}
        for r in args.record:
            name, rest = r.split("=", 1)
            values, ttl = rest.rsplit(":", 1)
            zid = self.zone_of(canon(name))
            if zid is None:
                sys.exit(f"route53_standin: no --zone holds {name}")
            self.zones[zid]["records"][(canon(name), "A")] = {"ttl": int(ttl), "values": values.split(",")}

    def zone_of(self, name):
        best = None
        for zid, z in self.zones.items():
            if name == z["name"] or name.endswith("." + z["name"]):
                if best is None or len(z["name"]) > len(self.zones[best]["name"]):
                    best = zid
        return best


def el(parent, tag, text=None):
    e = ET.SubElement(parent, tag)
    if text is not None:
        e.text = str(text)
    return e


def strip_ns(tree):
    for e in tree.iter():
        if "}" in e.tag:
            e.tag = e.tag.split("}", 1)[1]
    return tree


class ApiError(Exception):
    def __init__(self, status, code, message):
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    state = None

    def log_message(self, fmt, *args):  # quiet: the tests read /_standin/requests
        pass

    def reply(self, status, body, ctype="text/xml"):
        data = body if isinstance(body, bytes) else body.encode()
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(data)))
        self.send_header("x-amzn-RequestId", new_id("req-"))
        self.end_headers()
        self.wfile.write(data)

    def reply_xml(self, root):
        root.set("xmlns", NS)
        self.reply(200, b'<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root))

    def reply_error(self, err):
        root = ET.Element("ErrorResponse", xmlns=NS)
        e = el(root, "Error")
        el(e, "Type", "Sender")
        el(e, "Code", err.code)
        el(e, "Message", err.message)
        el(root, "RequestId", new_id("req-"))
        self.reply(err.status, b'<?xml version="1.0"?>\n' + ET.tostring(root))

    def handle_any(self, method):
        url = urllib.parse.urlsplit(self.path)
        query = dict(urllib.parse.parse_qsl(url.query))
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        st = self.state
        with LOCK:
            st.requests.append({"method": method, "path": url.path, "query": query})
            try:
                if url.path == "/_standin/records":
                    return self.reply(200, json.dumps(self.dump()), "application/json")
                if url.path == "/_standin/requests":
                    return self.reply(200, json.dumps(st.requests), "application/json")
                self.check_auth()
                parts = [p for p in url.path.split("/") if p]
                if parts[:1] != ["2013-04-01"]:
                    raise ApiError(404, "UnknownOperationException", f"no such operation: {method} {url.path}")
                if method == "GET" and parts[1:] == ["hostedzonesbyname"]:
                    return self.list_zones(query)
                if len(parts) >= 4 and parts[1] == "hostedzone" and parts[3] == "rrset":
                    zid = parts[2]
                    if zid not in st.zones:
                        raise ApiError(404, "NoSuchHostedZone", f"No hosted zone found with ID: {zid}")
                    if method == "GET":
                        return self.list_records(zid, query)
                    if method == "POST":
                        return self.change(zid, body)
                if method == "GET" and len(parts) == 3 and parts[1] == "change":
                    return self.get_change(parts[2])
                raise ApiError(404, "UnknownOperationException", f"no such operation: {method} {url.path}")
            except ApiError as err:
                self.reply_error(err)

    def do_GET(self):
        self.handle_any("GET")

    def do_POST(self):
        self.handle_any("POST")

    def check_auth(self):
        auth = self.headers.get("Authorization", "")
        if not auth.startswith("AWS4-HMAC-SHA256 "):
            raise ApiError(403, "MissingAuthenticationToken", "Missing Authentication Token")
        cred = auth.split("Credential=", 1)[-1].split("/", 1)[0]
        if cred != self.state.access_key:
            raise ApiError(403, "InvalidClientTokenId", "The security token included in the request is invalid.")

    def dump(self):
        out = {}
        for zid, z in self.state.zones.items():
            out[zid] = {f"{n} {t}": r for (n, t), r in z["records"].items()}
        return out

    def list_zones(self, q):
        zones = sorted(self.state.zones.items(), key=lambda kv: order_key(kv[1]["name"]))
        if "dnsname" in q:
            start = order_key(q["dnsname"])
            zones = [kv for kv in zones if order_key(kv[1]["name"]) >= start]
        limit = int(q.get("maxitems", 100))
        root = ET.Element("ListHostedZonesByNameResponse")
        hz = el(root, "HostedZones")
        for zid, z in zones[:limit]:
            h = el(hz, "HostedZone")
            el(h, "Id", "/hostedzone/" + zid)
            el(h, "Name", z["name"])
            el(h, "CallerReference", "standin-" + zid)
            c = el(h, "Config")
            el(c, "PrivateZone", "false")
            el(h, "ResourceRecordSetCount", len(z["records"]))
        if "dnsname" in q:
            el(root, "DNSName", canon(q["dnsname"]))
        el(root, "IsTruncated", "true" if len(zones) > limit else "false")
        if len(zones) > limit:
            el(root, "NextDNSName", zones[limit][1]["name"])
            el(root, "NextHostedZoneId", zones[limit][0])
        el(root, "MaxItems", limit)
        self.reply_xml(root)

    def list_records(self, zid, q):
        recs = sorted(self.state.zones[zid]["records"].items(), key=lambda kv: order_key(*kv[0]))
        if "name" in q:
            start = order_key(q["name"], q.get("type", ""))
            recs = [kv for kv in recs if order_key(*kv[0]) >= start]
        limit = int(q.get("maxitems", 300))
        root = ET.Element("ListResourceRecordSetsResponse")
        sets = el(root, "ResourceRecordSets")
        for (name, rtype), r in recs[:limit]:
            s = el(sets, "ResourceRecordSet")
            el(s, "Name", name)
            el(s, "Type", rtype)
            el(s, "TTL", r["ttl"])
            rr = el(s, "ResourceRecords")
            for v in r["values"]:
                el(el(rr, "ResourceRecord"), "Value", v)
        el(root, "IsTruncated", "true" if len(recs) > limit else "false")
        if len(recs) > limit:
            el(root, "NextRecordName", recs[limit][0][0])
            el(root, "NextRecordType", recs[limit][0][1])
        el(root, "MaxItems", limit)
        self.reply_xml(root)

    def change(self, zid, body):
        st = self.state
        if st.throttle_changes > 0:
            st.throttle_changes -= 1
            raise ApiError(400, "Throttling", "Rate exceeded")
        try:
            req = strip_ns(ET.fromstring(body))
        except ET.ParseError as e:
            raise ApiError(400, "InvalidInput", f"Could not parse the request body: {e}")
        zone = st.zones[zid]
        changes = req.findall("./ChangeBatch/Changes/Change")
        if not changes:
            raise ApiError(400, "InvalidInput", "1 validation error detected: Value null at 'changeBatch.changes'")
        problems, staged = [], dict(zone["records"])
        for c in changes:
            action = c.findtext("Action")
            rs = c.find("ResourceRecordSet")
            name, rtype = canon(rs.findtext("Name", "")), rs.findtext("Type", "")
            ttl = rs.findtext("TTL")
            values = [v.text or "" for v in rs.findall("./ResourceRecords/ResourceRecord/Value")]
            if not (name == zone["name"] or name.endswith("." + zone["name"])):
                problems.append(f"RRSet with DNS name {name} is not permitted in zone {zone['name']}")
                continue
            if rtype == "A":
                for v in values:
                    try:
                        IPv4Address(v)
                    except ValueError:
                        problems.append(f"Invalid Resource Record: 'FATAL problem: ARRDATAIllegalIPv4Address "
                                        f"(Value is not a valid IPv4 address) encountered with '{v}''")
            if ttl is None or not values:
                problems.append(f"Invalid request: Expected exactly one of [AliasTarget, all of [TTL, and "
                                f"ResourceRecords], or TrafficPolicyInstanceId], but found none in Change with "
                                f"[Action={action}, Name={name}, Type={rtype}, SetIdentifier=null]")
                continue
            key = (name, rtype)
            if action == "CREATE" and key in staged:
                problems.append(f"Tried to create resource record set [name='{name}', type='{rtype}'] "
                                f"but it already exists")
            elif action == "DELETE" and staged.get(key) != {"ttl": int(ttl), "values": values}:
                problems.append(f"Tried to delete resource record set [name='{name}', type='{rtype}'] "
                                f"but it was not found")
            elif action == "DELETE":
                del staged[key]
            elif action in ("CREATE", "UPSERT"):
                staged[key] = {"ttl": int(ttl), "values": values}
            else:
                problems.append(f"Invalid action {action}")
        if problems:
            raise ApiError(400, "InvalidChangeBatch", "[" + ", ".join(problems) + "]")
        zone["records"] = staged
        cid = new_id("C")
        st.changes[cid] = {"polls_left": st.pending_polls,
                           "submitted": time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime()),
                           "comment": req.findtext("./ChangeBatch/Comment")}
        self.reply_xml(self.change_info("ChangeResourceRecordSetsResponse", cid, "PENDING"))

    def change_info(self, root_tag, cid, status):
        ch = self.state.changes[cid]
        root = ET.Element(root_tag)
        info = el(root, "ChangeInfo")
        el(info, "Id", "/change/" + cid)
        el(info, "Status", status)
        el(info, "SubmittedAt", ch["submitted"])
        if ch["comment"]:
            el(info, "Comment", ch["comment"])
        return root

    def get_change(self, cid):
        if cid not in self.state.changes:
            raise ApiError(404, "NoSuchChange", f"A change with the specified change ID does not exist: {cid}")
        ch = self.state.changes[cid]
        root = self.change_info("GetChangeResponse", cid, "PENDING" if ch["polls_left"] > 0 else "INSYNC")
        ch["polls_left"] -= 1
        self.reply_xml(root)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--port-file", required=True, help="written with the port once listening")
    ap.add_argument("--access-key", required=True, help="the access key id requests must be signed with")
    ap.add_argument("--zone", action="append", default=[], help="NAME=ID, a hosted zone")
    ap.add_argument("--record", action="append", default=[], help="NAME=IP[,IP]:TTL, an A record set")
    ap.add_argument("--pending-polls", type=int, default=0, help="GetChange answers PENDING this often")
    ap.add_argument("--throttle-changes", type=int, default=0, help="the first N changes are throttled")
    args = ap.parse_args()
    Handler.state = State(args)
    serve(Handler, args.port_file)


if __name__ == "__main__":
    main()
