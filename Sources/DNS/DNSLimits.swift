/// The bounds the message codec and the resolver enforce, each with its reason.
///
/// The codec's bounds are the protocol's own (RFC 1035 §2.3.4, §4.1.4) and are not
/// configurable; the resolver's are defaults that `DNSConfiguration` can change where
/// it says so.
public enum DNSLimits {
    /// RFC 1035 §2.3.4: a label is at most 63 octets (the two high bits of the length
    /// octet select the label type, RFC 1035 §4.1.4).
    public static let maximumLabelLength = 63

    /// RFC 1035 §2.3.4, §3.1: a name is at most 255 octets on the wire, counting every
    /// length octet and the final zero octet of the root.
    public static let maximumNameLength = 255

    /// Compression pointers followed while reading one name. Each pointer must point
    /// strictly before the label sequence it was found in, so a name can never loop;
    /// this bound is a second line of defence. A name of at most 255 octets has at most
    /// 127 labels, so an honest name never needs more than 127 pointers.
    public static let maximumPointerHops = 128

    /// RFC 1035 §4.1.1: the header is 12 octets.
    public static let headerLength = 12

    /// The smallest question on the wire: the root name (one octet), QTYPE, QCLASS.
    public static let minimumQuestionLength = 5

    /// The smallest resource record on the wire: the root name (one octet), TYPE, CLASS,
    /// TTL, RDLENGTH; RDATA empty.
    public static let minimumResourceRecordLength = 11

    /// RFC 6891 §6.2.5 and the DNS Flag Day 2020 recommendation: the UDP payload size we
    /// advertise in the OPT record, small enough to avoid IP fragmentation on common
    /// paths. Larger answers come back with TC=1 and are fetched over TCP.
    public static let advertisedUDPPayloadSize: UInt16 = 1232

    /// The receive buffer for one UDP datagram. Servers must not send more than we
    /// advertise (RFC 6891 §6.2.5); a larger buffer still lets a non-conforming reply be
    /// read whole rather than cut (and then rejected as truncated).
    public static let maximumUDPReceiveSize = 4096

    /// RFC 1035 §4.2.2: over TCP a message is prefixed with its two-octet length, so it
    /// is at most 65535 octets.
    public static let maximumTCPMessageLength = 65535

    /// CNAME records followed for one query (RFC 1034 §3.6.2, §5.3.3: resolvers must
    /// bound chains). A chain longer than this, or a loop, is an unusable answer.
    public static let maximumCNAMEChainLength = 8

    /// `attempts` above this are clamped: `resolv.conf(5)` caps `attempts:` at 5.
    public static let maximumAttempts = 5

    /// Name servers used from the configuration; resolv.conf(5) (glibc `MAXNS`) uses
    /// the first three.
    public static let maximumServers = 3
}
