import NIOCore
import NIOPosix

struct LoadError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

/// What a tagged command brought back.
struct CommandResult {
    /// OK, NO or BAD.
    var status: String
    /// The tagged line, without the tag.
    var text: String
    /// The untagged responses, when asked for (`collect`); each literal's content is
    /// left out and shown as `{n}`.
    var untagged: [String]
    /// Untagged responses counted (collected or not).
    var responses: Int
    /// Bytes of the whole response, the tagged line and literals included.
    var bytes: Int
}

/// One plaintext IMAP connection: commands are sent one at a time and their responses
/// read up to the tagged line. Responses are parsed just enough to find where each one
/// ends: a line ending in `{n}` (or `{n+}`) is followed by n bytes of literal, after
/// which the same response goes on. Not thread-safe: one task uses a connection.
final class IMAPConnection {
    private var inbound: NIOAsyncChannelInboundStream<ByteBuffer>.AsyncIterator
    private let outbound: NIOAsyncChannelOutboundWriter<ByteBuffer>
    private var buffer = ByteBuffer()
    private var scanned = 0
    private var nextTag = 0
    /// Bytes of responses parsed so far.
    private(set) var consumed = 0
    /// The greeting, read by `open`.
    private(set) var greeting = ""

    private init(
        _ inbound: NIOAsyncChannelInboundStream<ByteBuffer>.AsyncIterator,
        _ outbound: NIOAsyncChannelOutboundWriter<ByteBuffer>
    ) {
        self.inbound = inbound
        self.outbound = outbound
    }

    /// Connects, reads the greeting, runs `body` and closes the connection.
    static func open<R>(
        to address: SocketAddress, group: any EventLoopGroup, _ body: (IMAPConnection) async throws -> R
    ) async throws -> R {
        let channel = try await ClientBootstrap(group: group)
            .channelOption(ChannelOptions.socketOption(.tcp_nodelay), value: 1)
            .connectTimeout(.seconds(30))
            .connect(to: address) { channel in
                channel.eventLoop.makeCompletedFuture {
                    try NIOAsyncChannel<ByteBuffer, ByteBuffer>(wrappingChannelSynchronously: channel)
                }
            }
        return try await channel.executeThenClose { inbound, outbound in
            let connection = IMAPConnection(inbound.makeAsyncIterator(), outbound)
            let greeting = try await connection.readResponse(collect: true)
            guard greeting.kind == .untagged, greeting.text.hasPrefix("* OK") else {
                throw LoadError("greeting: \(greeting.text)")
            }
            connection.greeting = greeting.text
            return try await body(connection)
        }
    }

    /// Sends `a<n> <command>` and reads every response up to its tagged one. Throws
    /// unless the status is OK (or `expectOK` is false).
    @discardableResult
    func command(_ command: String, collect: Bool = false, expectOK: Bool = true) async throws -> CommandResult {
        nextTag += 1
        let tag = "a\(nextTag)"
        try await outbound.write(ByteBuffer(string: "\(tag) \(command)\r\n"))
        let start = consumed
        var untagged: [String] = []
        var responses = 0
        while true {
            let response = try await readResponse(collect: collect)
            switch response.kind {
            case .untagged:
                responses += 1
                if collect { untagged.append(response.text) }
            case .continuation:
                throw LoadError("\(verb(command)): unexpected continuation: \(response.text)")
            case .tagged:
                guard response.text.hasPrefix(tag + " ") else {
                    throw LoadError("\(verb(command)): unexpected tagged response: \(response.text)")
                }
                let rest = response.text.dropFirst(tag.count + 1)
                let status = String(rest.prefix { $0 != " " }).uppercased()
                if expectOK && status != "OK" {
                    throw LoadError("\(verb(command)): \(rest)")
                }
                return CommandResult(
                    status: status, text: String(rest), untagged: untagged, responses: responses,
                    bytes: consumed - start)
            }
        }
    }

    /// LOGIN with both arguments as quoted strings.
    func login(_ user: String, _ password: String) async throws {
        try await command("LOGIN \(quoted(user)) \(quoted(password))")
    }

    /// LOGOUT: the BYE, the tagged OK, then the server closes the connection.
    func logout() async throws {
        try await command("LOGOUT")
    }

    // MARK: - Reading responses

    enum Kind { case untagged, continuation, tagged }

    struct Response {
        var kind: Kind
        /// The whole response (literals as `{n}`) when collecting or tagged; else empty.
        var text: String
    }

    /// Reads one response: its first line, and for every line that ends in a literal
    /// announcement, the literal and the line after it.
    func readResponse(collect: Bool) async throws -> Response {
        var line = try await readLine()
        let kind: Kind
        switch line.readableBytesView.first {
        case UInt8(ascii: "*"): kind = .untagged
        case UInt8(ascii: "+"): kind = .continuation
        default: kind = .tagged
        }
        let keepText = collect || kind != .untagged
        var text = keepText ? String(buffer: line) : ""
        while let length = literalLength(line) {
            try await skip(length)
            line = try await readLine()
            if keepText { text += String(buffer: line) }
        }
        return Response(kind: kind, text: text)
    }

    /// The next line without its CRLF (a bare LF is accepted too).
    private func readLine() async throws -> ByteBuffer {
        while true {
            let view = buffer.readableBytesView
            if let newline = view[(view.startIndex + scanned)...].firstIndex(of: UInt8(ascii: "\n")) {
                let length = newline - view.startIndex
                var line = buffer.readSlice(length: length + 1)!
                scanned = 0
                consumed += length + 1
                line.moveWriterIndex(to: line.writerIndex - 1)
                if line.readableBytesView.last == UInt8(ascii: "\r") {
                    line.moveWriterIndex(to: line.writerIndex - 1)
                }
                return line
            }
            scanned = view.count
            try await fill()
        }
    }

    /// Drops `count` bytes of a literal, reading more as needed.
    private func skip(_ count: Int) async throws {
        var remaining = count
        while remaining > 0 {
            if buffer.readableBytes == 0 { try await fill() }
            let step = min(remaining, buffer.readableBytes)
            buffer.moveReaderIndex(forwardBy: step)
            remaining -= step
            consumed += step
        }
        scanned = 0
    }

    private func fill() async throws {
        guard var chunk = try await inbound.next() else {
            throw LoadError("connection closed by the server")
        }
        if buffer.readableBytes == 0 {
            buffer = chunk
        } else {
            if buffer.readerIndex > 65536 { buffer.discardReadBytes() }
            buffer.writeBuffer(&chunk)
        }
    }

    /// n when `line` ends in `{n}` or `{n+}`.
    private func literalLength(_ line: ByteBuffer) -> Int? {
        let bytes = line.readableBytesView
        guard bytes.last == UInt8(ascii: "}") else { return nil }
        var index = bytes.index(before: bytes.endIndex)
        if index > bytes.startIndex, bytes[bytes.index(before: index)] == UInt8(ascii: "+") {
            index = bytes.index(before: index)
        }
        var value = 0
        var multiplier = 1
        var digits = 0
        while index > bytes.startIndex {
            index = bytes.index(before: index)
            let byte = bytes[index]
            if byte == UInt8(ascii: "{") {
                return digits > 0 ? value : nil
            }
            guard byte >= UInt8(ascii: "0"), byte <= UInt8(ascii: "9"), digits < 18 else { return nil }
            value += Int(byte - UInt8(ascii: "0")) * multiplier
            multiplier *= 10
            digits += 1
        }
        return nil
    }
}

func quoted(_ string: String) -> String {
    "\"" + string.replacingAll("\\", with: "\\\\").replacingAll("\"", with: "\\\"") + "\""
}

private func verb(_ command: String) -> String {
    String(command.prefix { $0 != " " })
}

extension String {
    func replacingAll(_ target: Character, with replacement: String) -> String {
        var out = ""
        for character in self {
            if character == target { out += replacement } else { out.append(character) }
        }
        return out
    }
}

// MARK: - Parsing the few responses the load needs

extension CommandResult {
    /// n of `* n EXISTS`.
    var exists: Int? {
        for line in untagged {
            let words = line.split(separator: " ")
            if words.count >= 3, words[2].uppercased() == "EXISTS" { return Int(words[1]) }
        }
        return nil
    }

    /// The number after `[CODE ` in an untagged OK (UIDNEXT, UIDVALIDITY).
    func responseCode(_ code: String) -> Int? {
        for line in untagged {
            guard let range = line.range(of: "[\(code) ") else { continue }
            return Int(line[range.upperBound...].prefix { $0.isNumber })
        }
        return nil
    }

    /// The numbers of `* SEARCH n n n`.
    var searchResults: [Int] {
        var numbers: [Int] = []
        for line in untagged where line.uppercased().hasPrefix("* SEARCH") {
            numbers += line.split(separator: " ").dropFirst(2).compactMap { Int($0) }
        }
        return numbers
    }
}

extension String {
    /// A tiny `range(of:)` without Foundation.
    func range(of needle: String) -> Range<String.Index>? {
        guard !needle.isEmpty, needle.count <= count else { return nil }
        var start = startIndex
        while start < endIndex {
            if self[start...].hasPrefix(needle) {
                return start..<index(start, offsetBy: needle.count)
            }
            start = index(after: start)
        }
        return nil
    }
}
