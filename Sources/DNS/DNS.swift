// DNS — the lookups outbound mail needs, from the name servers in resolv.conf (or the
// configuration): MX with the RFC 5321 §5.1 rules (preference order, shuffling, null MX,
// implicit MX), A/AAAA, TXT, TLSA for DANE, PTR. Two layers:
//
// - a message codec, pure and synchronous: `DNSMessage` (header, question, answer,
//   authority and additional records, EDNS(0) OPT) with `init(parsing:)` and
//   `encoded()`; `DomainName` for the presentation form every name in the API uses
//   (lowercased, no trailing dot, `\DDD` escapes for unsafe octets);
// - `DNSResolver` (a `HostResolver`): UDP on a NIO event loop, TCP after TC=1, servers
//   in order with timeouts and rounds, bounded CNAME chains, a small positive cache.
//   It never blocks an event loop; only `DNSConfiguration.systemDefault` reads a file,
//   once, at configuration time.
//
// Standards: RFC 1034, RFC 1035 (§3 RR formats, §4 messages, §4.1.4 compression, §4.2
// transports, §5.1 escapes), RFC 2181 (§5.4.1 ranking, §8 TTLs, §11 labels), RFC 2308
// (NODATA and NXDOMAIN), RFC 3596 (AAAA, ip6.arpa), RFC 3597 (unknown types), RFC 4343
// (case), RFC 4035 §3.2 and RFC 6840 §5.7 (AD bit), RFC 5321 §5.1 (MX selection),
// RFC 5452 (accepting answers: source, ID, question), RFC 5952 (IPv6 text), RFC 6698
// (TLSA), RFC 6891 (EDNS(0)), RFC 7505 (null MX), RFC 7672 §2.2 (TLSA lookups),
// RFC 7766 (TCP), RFC 9267 (compression-pointer pitfalls); resolv.conf(5).
// Not implemented: DNSSEC validation (the AD bit of a trusted local resolver is
// reported instead), DNS over TLS/HTTPS, search lists, negative caching, SRV.
//
// Security: every response is untrusted network input, and anyone can send a UDP
// datagram to our port. The parser checks every length and count against the bytes
// present before using it and never traps; compression pointers must point strictly
// backwards from the label sequence they are in (no loops, no forward pointers), at most
// `DNSLimits.maximumPointerHops`; names are at most 255 octets and labels 63; header
// counts that the message cannot back are refused before any loop runs. Replies count
// only if they come from the server's address and port (on a connected UDP socket),
// carry the query's random ID and its question, and have QR set; anything else is
// dropped and the wait goes on until the deadline. Each try uses a new socket (random
// source port) and a new ID. Only records owned by the asked name or its CNAME chain
// are used. Names are escaped so that a label cannot smuggle a dot, a space or a NUL
// into a host name. Errors carry literals only, never message bytes.
//
// Limits: `DNSLimits` — labels 63 octets, names 255, 128 pointer hops, 1232-octet EDNS
// payload advertised, 4096-octet UDP receive buffer, 65535-octet TCP messages, 8 CNAME
// links, at most 5 rounds; `DNSConfiguration` — 5 s per try, 2 rounds, 1024 cached
// answers kept at most `DNSCache.maximumTTL` (one hour).
