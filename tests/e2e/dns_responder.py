#!/usr/bin/env python3
"""A small authoritative DNS responder for the end-to-end tests: UDP and TCP on one
loopback port, answering from a zone table held in memory. Python 3 standard library
only (socket, struct, threading).

    with DNSResponder({
        "remote.test": [("MX", 10, "mx.remote.test")],
        "mx.remote.test": [("A", "127.0.0.2")],
        "null.test": [("MX", 0, ".")],                  # RFC 7505 null MX
        "v6.test": [("AAAA", "::1")],
        "alias.test": [("CNAME", "mx.remote.test")],
        "broken.test": [("SERVFAIL",)],                 # every query: SERVFAIL
        "silent.test": [("DROP",)],                     # every query: no answer at all
    }) as dns:
        ... [dns] servers = ["127.0.0.1:%d" % dns.port] ...

Answers: the records of the name and type asked for (AA and RA set, RD copied); a
CNAME is followed inside the table; for MX, the exchanges' A/AAAA records go in the
additional section. A name not in the table is NXDOMAIN, a name without the type asked
for is NODATA (NOERROR, no answer); both carry a SOA in the authority section whose
minimum (the negative TTL) is the responder's TTL. Over UDP an answer that does not fit
512 octets (or the EDNS size the query announces, at most 1232) is sent truncated (TC),
question only, as real servers do; over TCP (2-octet length prefix, several queries per
connection) it is sent whole. Names in `truncate` are always truncated over UDP (to test
a resolver's TCP fallback). Every query is recorded in `queries`.

The table may be changed while the responder runs (`set(name, records)`,
`remove(name)`). TTLs are 1 s by default so that a resolver's cache does not hide
such changes for long.

Run as a program: `dns_responder.py --self-test` starts it and checks its answers with
the Python client below and with `dig` when installed (package bind9-dnsutils);
`dns_responder.py [--port N] ZONE.json` serves a zone file ({"name": [["A",
"127.0.0.1"], ["MX", 10, "mx.name"]]}) until interrupted.
"""

import ipaddress
import json
import random
import shutil
import socket
import struct
import subprocess
import sys
import threading
import time

TYPES = {"A": 1, "NS": 2, "CNAME": 5, "SOA": 6, "PTR": 12, "MX": 15, "TXT": 16, "AAAA": 28, "SRV": 33,
         "OPT": 41, "TLSA": 52, "ANY": 255}
TYPE_NAMES = {number: name for name, number in TYPES.items()}
CLASS_IN = 1
NOERROR, FORMERR, SERVFAIL, NXDOMAIN, NOTIMP, REFUSED = 0, 1, 2, 3, 4, 5
RCODE_NAMES = {0: "NOERROR", 1: "FORMERR", 2: "SERVFAIL", 3: "NXDOMAIN", 4: "NOTIMP", 5: "REFUSED"}
# Behaviours a name can have instead of records.
BEHAVIOURS = ("SERVFAIL", "DROP")
EDNS_PAYLOAD = 1232


class DNSError(Exception):
    """A malformed message."""


def normalize(name):
    """Lower case, no trailing dot; the root is ''."""
    name = name.strip().lower()
    return "" if name in (".", "") else name.rstrip(".")


def type_number(kind):
    if isinstance(kind, int):
        return kind
    if kind.upper().startswith("TYPE") and kind[4:].isdigit():
        return int(kind[4:])
    return TYPES[kind.upper()]


def type_name(number):
    return TYPE_NAMES.get(number, f"TYPE{number}")


# MARK: - Wire format


def encode_name(name):
    name = normalize(name)
    out = b""
    if name:
        for label in name.split("."):
            raw = label.encode("idna") if any(ord(c) > 127 for c in label) else label.encode("ascii")
            if not 0 < len(raw) < 64:
                raise DNSError(f"bad label {label!r} in {name!r}")
            out += bytes([len(raw)]) + raw
    return out + b"\x00"


def decode_name(message, offset):
    """(name, offset after the name in place); follows compression pointers."""
    labels = []
    end = None
    jumps = 0
    while True:
        if offset >= len(message):
            raise DNSError("name runs past the end of the message")
        length = message[offset]
        if length & 0xC0 == 0xC0:
            if offset + 1 >= len(message):
                raise DNSError("truncated compression pointer")
            if end is None:
                end = offset + 2
            offset = ((length & 0x3F) << 8) | message[offset + 1]
            jumps += 1
            if jumps > 64:
                raise DNSError("compression loop")
            continue
        if length & 0xC0:
            raise DNSError(f"unknown label type {length:#x}")
        offset += 1
        if length == 0:
            break
        if offset + length > len(message):
            raise DNSError("label runs past the end of the message")
        labels.append(message[offset:offset + length].decode("ascii", "replace"))
        offset += length
    return ".".join(labels), (end if end is not None else offset)


def encode_rdata(kind, values):
    if kind == "A":
        return ipaddress.IPv4Address(values[0]).packed
    if kind == "AAAA":
        return ipaddress.IPv6Address(values[0]).packed
    if kind == "MX":
        return struct.pack("!H", int(values[0])) + encode_name(values[1])
    if kind in ("CNAME", "NS", "PTR"):
        return encode_name(values[0])
    if kind == "TXT":
        out = b""
        for text in values:
            raw = text.encode() if isinstance(text, str) else bytes(text)
            for start in range(0, max(len(raw), 1), 255):
                chunk = raw[start:start + 255]
                out += bytes([len(chunk)]) + chunk
        return out
    if kind == "SOA":
        mname, rname, serial, refresh, retry, expire, minimum = values
        return encode_name(mname) + encode_name(rname) + struct.pack("!IIIII", serial, refresh, retry, expire, minimum)
    if kind == "SRV":
        priority, weight, port, target = values
        return struct.pack("!HHH", priority, weight, port) + encode_name(target)
    raise DNSError(f"cannot encode {kind} records")


def decode_rdata(kind, message, offset, length):
    rdata = message[offset:offset + length]
    if kind == TYPES["A"] and length == 4:
        return str(ipaddress.IPv4Address(rdata))
    if kind == TYPES["AAAA"] and length == 16:
        return str(ipaddress.IPv6Address(rdata))
    if kind == TYPES["MX"]:
        return (struct.unpack("!H", rdata[:2])[0], decode_name(message, offset + 2)[0] or ".")
    if kind in (TYPES["CNAME"], TYPES["NS"], TYPES["PTR"]):
        return decode_name(message, offset)[0]
    if kind == TYPES["TXT"]:
        parts, position = [], 0
        while position < len(rdata):
            size = rdata[position]
            parts.append(rdata[position + 1:position + 1 + size].decode("utf-8", "replace"))
            position += 1 + size
        return "".join(parts)
    if kind == TYPES["SOA"]:
        mname, position = decode_name(message, offset)
        rname, position = decode_name(message, position)
        return (mname, rname) + struct.unpack("!IIIII", message[position:position + 20])
    return rdata


def encode_record(name, kind, ttl, rdata, rclass=CLASS_IN):
    return encode_name(name) + struct.pack("!HHIH", type_number(kind), rclass, ttl, len(rdata)) + rdata


def parse_message(message):
    """{id, flags, rcode, questions: [(name, type, class)], answers/authority/additional:
    [(name, type, class, ttl, data)]}; raises DNSError on malformed input."""
    if len(message) < 12:
        raise DNSError("shorter than a header")
    ident, flags, qdcount, ancount, nscount, arcount = struct.unpack("!HHHHHH", message[:12])
    offset = 12
    questions = []
    for _ in range(qdcount):
        name, offset = decode_name(message, offset)
        if offset + 4 > len(message):
            raise DNSError("truncated question")
        qtype, qclass = struct.unpack("!HH", message[offset:offset + 4])
        offset += 4
        questions.append((name.lower(), qtype, qclass))
    sections = []
    for count in (ancount, nscount, arcount):
        records = []
        for _ in range(count):
            name, offset = decode_name(message, offset)
            if offset + 10 > len(message):
                raise DNSError("truncated resource record")
            kind, rclass, ttl, length = struct.unpack("!HHIH", message[offset:offset + 10])
            offset += 10
            if offset + length > len(message):
                raise DNSError("resource data runs past the end")
            records.append((name.lower(), kind, rclass, ttl, decode_rdata(kind, message, offset, length)))
            offset += length
        sections.append(records)
    return {"id": ident, "flags": flags, "rcode": flags & 0xF, "tc": bool(flags & 0x0200),
            "aa": bool(flags & 0x0400), "questions": questions, "answers": sections[0],
            "authority": sections[1], "additional": sections[2]}


# MARK: - The responder


class DNSResponder:
    """See the module's documentation."""

    def __init__(self, zone=None, host="127.0.0.1", port=0, ttl=1, truncate=()):
        self.host = host
        self.requested_port = port
        self.port = None
        self.ttl = ttl
        self.truncate = {normalize(name) for name in truncate}
        self.lock = threading.Lock()
        self.records = {}
        self.queries = []  # (transport, name, type name, rcode name or "DROP")
        for name, records in (zone or {}).items():
            self.set(name, records)
        self.udp = None
        self.tcp = None
        self.threads = []
        self.stopping = threading.Event()

    # The table.

    def set(self, name, records):
        """Replaces `name`'s records: a list of tuples ("A", "127.0.0.1"), ("AAAA", "::1"),
        ("MX", 10, "mx.example"), ("CNAME", "x"), ("TXT", "text"), or one of ("SERVFAIL",),
        ("DROP",). An empty list makes the name exist without records (NODATA)."""
        checked = []
        for record in records:
            kind = record[0].upper()
            if kind in BEHAVIOURS:
                checked.append((kind,))
                continue
            if kind not in TYPES or kind in ("OPT", "ANY"):
                raise ValueError(f"{name}: unknown record type {record[0]!r}")
            encode_rdata(kind, record[1:])  # fails now, not when asked
            checked.append((kind,) + tuple(record[1:]))
        with self.lock:
            self.records[normalize(name)] = checked

    def remove(self, name):
        with self.lock:
            self.records.pop(normalize(name), None)

    def queried(self, name=None, kind=None):
        """The recorded queries, optionally only those for `name` (and type `kind`)."""
        with self.lock:
            found = list(self.queries)
        if name is not None:
            found = [q for q in found if q[1] == normalize(name)]
        if kind is not None:
            found = [q for q in found if q[2] == kind.upper()]
        return found

    # Serving.

    def start(self):
        last = None
        for _ in range(50):
            udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            tcp = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            tcp.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                udp.bind((self.host, self.requested_port))
                tcp.bind((self.host, udp.getsockname()[1]))
                tcp.listen(64)
            except OSError as error:  # the TCP port is taken: try another pair
                last = error
                udp.close()
                tcp.close()
                if self.requested_port:
                    break
                continue
            self.udp, self.tcp = udp, tcp
            self.port = udp.getsockname()[1]
            break
        if self.port is None:
            raise OSError(f"the DNS responder cannot bind {self.host}:{self.requested_port or 'any'}: {last}")
        self.udp.settimeout(0.2)
        self.tcp.settimeout(0.2)
        for target in (self.serve_udp, self.serve_tcp):
            thread = threading.Thread(target=target, daemon=True, name=f"dns-{target.__name__}")
            thread.start()
            self.threads.append(thread)
        return self

    def stop(self):
        self.stopping.set()
        for thread in self.threads:
            thread.join(timeout=2)
        for sock in (self.udp, self.tcp):
            if sock is not None:
                sock.close()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()
        return False

    @property
    def address(self):
        """"127.0.0.1:PORT", for `[dns] servers`."""
        return f"{self.host}:{self.port}"

    def serve_udp(self):
        while not self.stopping.is_set():
            try:
                query, peer = self.udp.recvfrom(65535)
            except socket.timeout:
                continue
            except OSError:
                return
            reply = self.answer(query, "udp")
            if reply is not None:
                try:
                    self.udp.sendto(reply, peer)
                except OSError:
                    pass

    def serve_tcp(self):
        while not self.stopping.is_set():
            try:
                connection, _ = self.tcp.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            thread = threading.Thread(target=self.serve_connection, args=(connection,), daemon=True)
            thread.start()

    def serve_connection(self, connection):
        connection.settimeout(10)
        try:
            while not self.stopping.is_set():
                header = read_exactly(connection, 2)
                if header is None:
                    return
                query = read_exactly(connection, struct.unpack("!H", header)[0])
                if query is None:
                    return
                reply = self.answer(query, "tcp")
                if reply is not None:
                    connection.sendall(struct.pack("!H", len(reply)) + reply)
        except OSError:
            pass
        finally:
            connection.close()

    # Answering.

    def answer(self, query, transport):
        """The reply to one query (bytes), or None to send nothing."""
        try:
            parsed = parse_message(query)
        except DNSError:
            if len(query) < 12:
                return None
            ident, flags = struct.unpack("!HH", query[:4])
            return struct.pack("!HHHHHH", ident, 0x8000 | (flags & 0x7900) | FORMERR, 0, 0, 0, 0)
        ident, flags = parsed["id"], parsed["flags"]
        if flags & 0x8000:
            return None  # a response: never answer those
        opcode = (flags >> 11) & 0xF
        edns = next((r for r in parsed["additional"] if r[1] == TYPES["OPT"]), None)
        limit = 512 if edns is None else max(512, min(edns[2], EDNS_PAYLOAD))
        if opcode != 0 or len(parsed["questions"]) != 1:
            rcode = NOTIMP if opcode != 0 else FORMERR
            self.record(transport, "", "-", rcode)
            return self.reply(ident, flags, rcode, [], [], [], [], edns is not None)
        qname, qtype, qclass = parsed["questions"][0]
        question = encode_name(qname) + struct.pack("!HH", qtype, qclass)
        with self.lock:
            rcode, answers, authority, additional, behaviour = self.resolve(qname, qtype, qclass)
        if behaviour == "DROP":
            self.record(transport, qname, type_name(qtype), "DROP")
            return None
        self.record(transport, qname, type_name(qtype), rcode)
        reply = self.reply(ident, flags, rcode, [question], answers, authority, additional, edns is not None)
        if transport == "udp" and (len(reply) > limit or qname in self.truncate):
            reply = self.reply(ident, flags | 0x0200, rcode, [question], [], [], [], edns is not None, truncated=True)
        return reply

    def record(self, transport, name, kind, rcode):
        with self.lock:
            self.queries.append((transport, name, kind, RCODE_NAMES.get(rcode, rcode) if isinstance(rcode, int)
                                 else rcode))

    def reply(self, ident, flags, rcode, questions, answers, authority, additional, edns, truncated=False):
        # QR, the query's opcode and RD, AA (we are the authority), RA (and a resolver).
        out_flags = 0x8000 | (flags & 0x7800) | 0x0400 | (flags & 0x0100) | 0x0080 | rcode
        if truncated:
            out_flags |= 0x0200
        extra = list(additional)
        if edns:
            extra.append(b"\x00" + struct.pack("!HHIH", TYPES["OPT"], EDNS_PAYLOAD, 0, 0))
        return (struct.pack("!HHHHHH", ident, out_flags, len(questions), len(answers), len(authority), len(extra))
                + b"".join(questions) + b"".join(answers) + b"".join(authority) + b"".join(extra))

    def resolve(self, qname, qtype, qclass):
        """(rcode, answer RRs, authority RRs, additional RRs, behaviour); holds the lock."""
        if qclass not in (CLASS_IN, 255):
            return REFUSED, [], [], [], None
        answers, additional = [], []
        name = qname
        for _ in range(9):  # a CNAME chain of at most 8
            records = self.records.get(name)
            if records is None:
                if name == qname:
                    return NXDOMAIN, [], [self.soa(qname)], [], None
                return NOERROR, answers, [], [], None  # a CNAME pointing outside the table
            behaviour = next((r[0] for r in records if r[0] in BEHAVIOURS), None)
            if behaviour == "SERVFAIL":
                return SERVFAIL, [], [], [], None
            if behaviour == "DROP":
                return NOERROR, [], [], [], "DROP"
            cname = next((r for r in records if r[0] == "CNAME"), None)
            if cname is not None and qtype not in (TYPES["CNAME"], TYPES["ANY"]):
                answers.append(encode_record(name, "CNAME", self.ttl, encode_rdata("CNAME", cname[1:])))
                name = normalize(cname[1])
                continue
            matching = [r for r in records if qtype == TYPES["ANY"] or TYPES[r[0]] == qtype]
            for record in matching:
                answers.append(encode_record(name, record[0], self.ttl, encode_rdata(record[0], record[1:])))
                if record[0] == "MX" and normalize(record[2]):
                    for glue in self.records.get(normalize(record[2]), []):
                        if glue[0] in ("A", "AAAA"):
                            additional.append(encode_record(record[2], glue[0], self.ttl,
                                                            encode_rdata(glue[0], glue[1:])))
            if not answers:
                return NOERROR, [], [self.soa(qname)], [], None  # NODATA
            return NOERROR, answers, [], additional, None
        return SERVFAIL, [], [], [], None  # a CNAME loop

    def soa(self, qname):
        """The SOA of the zone `qname` is in: an explicit SOA of an enclosing name, else
        the last two labels."""
        labels = qname.split(".") if qname else []
        for index in range(len(labels)):
            owner = ".".join(labels[index:])
            soa = next((r for r in self.records.get(owner, []) if r[0] == "SOA"), None)
            if soa is not None:
                return encode_record(owner, "SOA", self.ttl, encode_rdata("SOA", soa[1:]))
        owner = ".".join(labels[-2:])
        values = (f"ns.{owner}" if owner else "ns.test", f"hostmaster.{owner}" if owner else "hostmaster.test",
                  1, 3600, 600, 86400, self.ttl)
        return encode_record(owner, "SOA", self.ttl, encode_rdata("SOA", values))


def read_exactly(connection, count):
    data = b""
    while len(data) < count:
        chunk = connection.recv(count - len(data))
        if not chunk:
            return None
        data += chunk
    return data


# MARK: - A client, to check the responder without dig


def query(name, kind, port, host="127.0.0.1", tcp=False, timeout=2.0, edns=False, recursion=True):
    """One query; returns parse_message()'s dict of the reply (raises socket.timeout)."""
    ident = random.randrange(65536)
    flags = 0x0100 if recursion else 0
    message = (struct.pack("!HHHHHH", ident, flags, 1, 0, 0, 1 if edns else 0)
               + encode_name(name) + struct.pack("!HH", type_number(kind), CLASS_IN))
    if edns:
        message += b"\x00" + struct.pack("!HHIH", TYPES["OPT"], 4096, 0, 0)
    if tcp:
        with socket.create_connection((host, port), timeout=timeout) as sock:
            sock.sendall(struct.pack("!H", len(message)) + message)
            header = read_exactly(sock, 2)
            if header is None:
                raise DNSError("connection closed without a reply")
            reply = read_exactly(sock, struct.unpack("!H", header)[0])
    else:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            sock.settimeout(timeout)
            sock.sendto(message, (host, port))
            reply, _ = sock.recvfrom(65535)
    parsed = parse_message(reply)
    if parsed["id"] != ident:
        raise DNSError(f"reply id {parsed['id']} for query id {ident}")
    return parsed


def answers_of(reply, kind=None):
    """The data of the answer records (of type `kind`)."""
    return [data for _, rtype, _, _, data in reply["answers"] if kind is None or rtype == type_number(kind)]


# MARK: - Self-test and command line


SAMPLE_ZONE = {
    "remote.test": [("MX", 10, "mx.remote.test"), ("MX", 20, "mx2.remote.test"), ("TXT", "v=spf1 -all")],
    "mx.remote.test": [("A", "127.0.0.2")],
    "mx2.remote.test": [("A", "127.0.0.3"), ("AAAA", "::1")],
    "null.test": [("MX", 0, ".")],
    "alias.test": [("CNAME", "mx.remote.test")],
    "empty.test": [],
    "broken.test": [("SERVFAIL",)],
    "silent.test": [("DROP",)],
    "big.test": [("A", f"127.0.{n // 256}.{n % 256}") for n in range(1, 41)],
}


def self_test():
    """Checks every kind of answer with the Python client and, when installed, dig.
    Prints what it checked; exits non-zero on the first mismatch."""
    problems = []

    def expect(condition, what):
        print(("ok   " if condition else "FAIL ") + what)
        if not condition:
            problems.append(what)

    with DNSResponder(SAMPLE_ZONE, truncate=["mx2.remote.test"]) as dns:
        port = dns.port
        for tcp in (False, True):
            via = "tcp" if tcp else "udp"
            reply = query("remote.test", "MX", port, tcp=tcp)
            expect(reply["rcode"] == NOERROR and sorted(answers_of(reply, "MX")) ==
                   [(10, "mx.remote.test"), (20, "mx2.remote.test")],
                   f"{via}: remote.test MX → {answers_of(reply)}")
            glue = sorted((name, data) for name, _, _, _, data in reply["additional"])
            expect(("mx.remote.test", "127.0.0.2") in glue, f"{via}: MX glue in additional → {glue}")
            reply = query("MX.Remote.TEST.", "A", port, tcp=tcp)
            expect(answers_of(reply, "A") == ["127.0.0.2"] and reply["aa"],
                   f"{via}: MX.Remote.TEST. A (case-insensitive, AA) → {answers_of(reply)}")
            reply = query("null.test", "MX", port, tcp=tcp)
            expect(answers_of(reply, "MX") == [(0, ".")], f"{via}: null.test MX → {answers_of(reply)} (null MX)")
            reply = query("nowhere.test", "MX", port, tcp=tcp)
            expect(reply["rcode"] == NXDOMAIN and reply["authority"] and reply["authority"][0][1] == TYPES["SOA"],
                   f"{via}: nowhere.test → {RCODE_NAMES[reply['rcode']]} with SOA {reply['authority'][:1]}")
            reply = query("mx.remote.test", "AAAA", port, tcp=tcp)
            expect(reply["rcode"] == NOERROR and not reply["answers"] and reply["authority"],
                   f"{via}: mx.remote.test AAAA → NODATA ({RCODE_NAMES[reply['rcode']]}, "
                   f"{len(reply['answers'])} answers, SOA {bool(reply['authority'])})")
            reply = query("empty.test", "A", port, tcp=tcp)
            expect(reply["rcode"] == NOERROR and not reply["answers"], f"{via}: empty.test A → NODATA")
            reply = query("alias.test", "A", port, tcp=tcp)
            expect(answers_of(reply, "CNAME") == ["mx.remote.test"] and answers_of(reply, "A") == ["127.0.0.2"],
                   f"{via}: alias.test A → {answers_of(reply)} (CNAME followed)")
            reply = query("broken.test", "MX", port, tcp=tcp)
            expect(reply["rcode"] == SERVFAIL, f"{via}: broken.test → {RCODE_NAMES[reply['rcode']]}")
            try:
                query("silent.test", "A", port, tcp=tcp, timeout=0.5)
                expect(False, f"{via}: silent.test answered")
            except (socket.timeout, DNSError):
                expect(True, f"{via}: silent.test → no answer (timeout)")
        reply = query("mx2.remote.test", "AAAA", port)
        expect(reply["tc"] and not reply["answers"], "udp: mx2.remote.test (in truncate) → TC, no answers")
        reply = query("mx2.remote.test", "AAAA", port, tcp=True)
        expect(answers_of(reply, "AAAA") == ["::1"], f"tcp: mx2.remote.test AAAA → {answers_of(reply)}")
        reply = query("big.test", "A", port)
        expect(reply["tc"], "udp: big.test (40 A records, over 512 octets) → TC")
        reply = query("big.test", "A", port, edns=True)
        expect(not reply["tc"] and len(answers_of(reply, "A")) == 40, "udp+EDNS: big.test → 40 A records")
        reply = query("big.test", "A", port, tcp=True)
        expect(len(answers_of(reply, "A")) == 40, "tcp: big.test → 40 A records")
        dns.set("new.test", [("A", "127.0.0.9")])
        expect(answers_of(query("new.test", "A", port), "A") == ["127.0.0.9"], "set() while running")
        dns.remove("new.test")
        expect(query("new.test", "A", port)["rcode"] == NXDOMAIN, "remove() while running")

        if shutil.which("dig"):
            def dig(*args):
                result = subprocess.run(["dig", "@127.0.0.1", "-p", str(port), "+time=2", "+tries=1", *args],
                                        capture_output=True, text=True, timeout=10)
                return result.stdout

            out = dig("remote.test", "MX")
            expect("status: NOERROR" in out and "10 mx.remote.test." in out and "20 mx2.remote.test." in out
                   and "flags: qr aa rd ra" in out, "dig remote.test MX")
            out = dig("+tcp", "null.test", "MX")
            expect("status: NOERROR" in out and "MX\t0 ." in out, "dig +tcp null.test MX (null MX)")
            out = dig("nowhere.test", "A")
            expect("status: NXDOMAIN" in out and "SOA" in out, "dig nowhere.test → NXDOMAIN with SOA")
            out = dig("mx.remote.test", "AAAA")
            expect("status: NOERROR" in out and "ANSWER: 0" in out, "dig mx.remote.test AAAA → NODATA")
            out = dig("+noedns", "big.test", "A")
            expect("status: NOERROR" in out and "ANSWER: 40" in out, "dig +noedns big.test: TC, retried over TCP")
            out = dig("mx2.remote.test", "AAAA")
            expect("ANSWER: 1" in out and "::1" in out, "dig mx2.remote.test AAAA: truncated, retried over TCP")
            out = dig("broken.test", "A")
            expect("status: SERVFAIL" in out, "dig broken.test → SERVFAIL")
        else:
            print("skip dig: not installed (package bind9-dnsutils)")
        print(f"{len(dns.queries)} queries recorded, e.g. {dns.queries[:3]}")
    if problems:
        print(f"{len(problems)} problems")
        return 1
    print("self-test passed")
    return 0


def main(arguments):
    if arguments[:1] == ["--self-test"]:
        return self_test()
    port = 0
    if arguments[:1] == ["--port"]:
        port = int(arguments[1])
        arguments = arguments[2:]
    if len(arguments) != 1:
        print(__doc__.split("\n\n")[-1], file=sys.stderr)
        return 2
    with open(arguments[0]) as f:
        zone = {name: [tuple(r) for r in records] for name, records in json.load(f).items()}
    with DNSResponder(zone, port=port) as dns:
        print(f"serving {len(zone)} names on {dns.address} (UDP and TCP)", flush=True)
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            pass
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
