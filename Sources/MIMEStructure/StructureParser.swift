/// Builds the `BodyPart` tree of a message in one pass over its lines, without
/// recursion: a stack holds the entities that are open at the current line (the message,
/// the multipart and message/rfc822 parts around the line, and the part the line is in).
///
/// Each line is, in this order:
/// 1. a boundary delimiter line, when it starts with "--" and the boundary of an open
///    multipart on the stack (the longest match wins, then the innermost). Every entity
///    deeper than that multipart ends before the line (minus the line break in front of
///    it, RFC 2046 §5.1.1); a close delimiter ("--boundary--") ends the multipart's list
///    of parts (what follows is epilogue); otherwise a new part starts on the next line.
///    Boundaries are matched as prefixes, as Dovecot and most MIME parsers do; RFC 2046
///    lets only whitespace follow them.
/// 2. a header line of the innermost entity, while its header lasts: the header ends
///    at a blank line, at a line that is not a field (no blank line: that line is body,
///    the tolerance Python's email package and others have), or where it would exceed
///    `maximumHeaderSize`. A multipart then starts looking for its boundary; a
///    message/rfc822 part pushes the message it holds, whose header starts at once.
/// 3. body: nothing to do.
///
/// A missing close delimiter is tolerated (the end of the enclosing entity or of the
/// message ends the parts), and so is a part that never gets to the end of its header.
struct StructureParser {
    private enum Kind {
        case leaf
        case multipart(boundary: [UInt8], isClosed: Bool)
        case message
    }

    private struct OpenEntity {
        var headerStart: Int
        var depth: Int
        var inDigest: Bool
        var isInHeader = true
        var headerEnd = 0
        var bodyStart = 0
        /// Line feeds before `bodyStart`.
        var bodyStartLineFeeds = 0
        var part: BodyPart? = nil
        var kind = Kind.leaf
        var children: [BodyPart] = []
        var encapsulated: BodyPart? = nil

        init(headerStart: Int, depth: Int, inDigest: Bool) {
            self.headerStart = headerStart
            self.depth = depth
            self.inDigest = inDigest
        }
    }

    private let bytes: [UInt8]
    private let limits: MIMELimits
    private var stack: [OpenEntity] = []
    private var root: BodyPart? = nil
    private var partCount = 0
    /// Line feeds before the line being looked at.
    private var lineFeeds = 0
    /// Whether a limit was reached somewhere.
    private(set) var hitLimit = false

    init(bytes: [UInt8], limits: MIMELimits) {
        self.bytes = bytes
        self.limits = limits
    }

    mutating func parse() -> BodyPart {
        let end = bytes.count
        stack = [OpenEntity(headerStart: 0, depth: 0, inDigest: false)]
        partCount = 1
        lineFeeds = 0
        var position = 0

        while position < end {
            let line = HeaderSection.line(in: bytes, from: position, to: end)

            if line.contentEnd - position >= 2, bytes[position] == UInt8(ascii: "-"),
                bytes[position + 1] == UInt8(ascii: "-"),
                let match = matchBoundary(lineStart: position, contentEnd: line.contentEnd)
            {
                closeEntities(deeperThan: match.level, boundaryLineStart: position)
                if match.isClose {
                    if case .multipart(let boundary, _) = stack[match.level].kind {
                        stack[match.level].kind = .multipart(boundary: boundary, isClosed: true)
                    }
                } else if partCount < limits.maximumParts {
                    partCount += 1
                    let parent = stack[match.level]
                    stack.append(
                        OpenEntity(
                            headerStart: line.next, depth: parent.depth + 1,
                            inDigest: parent.part?.contentType.subtype == "digest"))
                } else {
                    // Past the part limit the rest of the multipart is skipped like an epilogue.
                    hitLimit = true
                }
                advance(&position, over: line)
                continue
            }

            if let top = stack.indices.last, stack[top].isInHeader {
                if line.isBlank {
                    endHeader(headerEnd: line.next, bodyStart: line.next, bodyStartLineFeeds: lineFeeds + 1)
                    advance(&position, over: line)
                    continue
                }
                let isFieldLine =
                    MIMEGrammar.isWSP(bytes[position])
                    || HeaderSection.colonIndex(in: bytes, from: position, to: line.contentEnd) != nil
                let isTooLarge = line.next - stack[top].headerStart > limits.maximumHeaderSize
                if !isFieldLine || isTooLarge {
                    if isTooLarge { hitLimit = true }
                    // The header ends before this line, which is read again as body. That
                    // cannot repeat without end: the entity leaves its header now, and an
                    // encapsulated message it pushes is one level deeper (depth-bounded).
                    endHeader(headerEnd: position, bodyStart: position, bodyStartLineFeeds: lineFeeds)
                    continue
                }
            }
            advance(&position, over: line)
        }

        while let entity = stack.popLast() {
            attach(finish(entity, at: end, beforeBoundary: false))
        }
        return root ?? BodyPart(header: HeaderSection(emptyAt: 0), inDigest: false, limits: limits)
    }

    private mutating func advance(_ position: inout Int, over line: HeaderSection.Line) {
        position = line.next
        if line.hasLineEnd { lineFeeds += 1 }
    }

    // MARK: - Boundaries

    ///     dash-boundary := "--" boundary
    ///     delimiter     := CRLF dash-boundary
    ///     close-delimiter := delimiter "--"
    ///
    /// - SeeAlso: RFC 2046 §5.1.1
    private func matchBoundary(lineStart: Int, contentEnd: Int) -> (level: Int, isClose: Bool)? {
        let available = contentEnd - lineStart - 2
        var best: (level: Int, length: Int, isClose: Bool)? = nil
        var level = stack.count - 1
        while level >= 0 {
            if case .multipart(let boundary, let isClosed) = stack[level].kind, !isClosed,
                boundary.count <= available, boundary.count > (best?.length ?? -1),
                bytes[(lineStart + 2)..<(lineStart + 2 + boundary.count)].elementsEqual(boundary)
            {
                let after = lineStart + 2 + boundary.count
                let isClose =
                    after + 2 <= contentEnd && bytes[after] == UInt8(ascii: "-")
                    && bytes[after + 1] == UInt8(ascii: "-")
                best = (level, boundary.count, isClose)
            }
            level -= 1
        }
        guard let best else { return nil }
        return (best.level, best.isClose)
    }

    // MARK: - Entities

    /// The header of the innermost entity ends: read its MIME fields and decide how its
    /// body is parsed.
    private mutating func endHeader(headerEnd: Int, bodyStart: Int, bodyStartLineFeeds: Int) {
        guard let top = stack.indices.last else { return }
        var entity = stack[top]
        let header = HeaderSection(parsing: bytes, in: entity.headerStart..<headerEnd, limits: limits)
        if header.isTruncated { hitLimit = true }
        var part = BodyPart(header: header, inDigest: entity.inDigest, limits: limits)
        // The header's own parse stops at its blank line; the range is what the scan found.
        part.headerRange = entity.headerStart..<headerEnd
        entity.isInHeader = false
        entity.headerEnd = headerEnd
        entity.bodyStart = bodyStart
        entity.bodyStartLineFeeds = bodyStartLineFeeds

        var pushesMessage = false
        let canNest = entity.depth < limits.maximumDepth
        switch part.mediaKind {
        case .single:
            break
        case .multipart:
            if let boundary = part.contentType.boundary, !boundary.isEmpty,
                boundary.count <= limits.maximumBoundaryLength, canNest
            {
                entity.kind = .multipart(boundary: boundary, isClosed: false)
            } else {
                part.isOpaque = true
                if !canNest { hitLimit = true }
            }
        case .message:
            if part.contentTransferEncoding.isIdentity, canNest, partCount < limits.maximumParts {
                entity.kind = .message
                pushesMessage = true
            } else {
                part.isOpaque = true
                if part.contentTransferEncoding.isIdentity { hitLimit = true }
            }
        }
        entity.part = part
        stack[top] = entity
        if pushesMessage {
            partCount += 1
            stack.append(OpenEntity(headerStart: bodyStart, depth: entity.depth + 1, inDigest: false))
        }
    }

    private mutating func closeEntities(deeperThan level: Int, boundaryLineStart: Int) {
        while stack.count - 1 > level, let entity = stack.popLast() {
            attach(finish(entity, at: boundaryLineStart, beforeBoundary: true))
        }
    }

    /// Adds a finished part to the entity that is now innermost, or makes it the root.
    private mutating func attach(_ part: BodyPart) {
        guard let top = stack.indices.last else {
            root = part
            return
        }
        if case .message = stack[top].kind {
            stack[top].encapsulated = part
        } else {
            stack[top].children.append(part)
        }
    }

    /// The finished part of an entity that ends at `limit`: before a boundary delimiter
    /// line (whose preceding line break is not part of the entity) or at the end of the
    /// message.
    private mutating func finish(_ entity: OpenEntity, at limit: Int, beforeBoundary: Bool) -> BodyPart {
        // RFC 2046 §5.1.1: the line break before a delimiter belongs to the delimiter.
        var end = max(entity.headerStart, limit)
        var removedLineFeed = false
        if beforeBoundary, end > entity.headerStart, bytes[end - 1] == MIMEGrammar.lf {
            end -= 1
            removedLineFeed = true
            if end > entity.headerStart, bytes[end - 1] == MIMEGrammar.cr { end -= 1 }
        }

        if entity.isInHeader {
            // The header never ended: no body.
            let header = HeaderSection(parsing: bytes, in: entity.headerStart..<end, limits: limits)
            if header.isTruncated { hitLimit = true }
            var part = BodyPart(header: header, inDigest: entity.inDigest, limits: limits)
            part.headerRange = entity.headerStart..<end
            part.bodyRange = end..<end
            switch part.mediaKind {
            case .single: break
            case .multipart: part.content = .multipart([])
            case .message: part.isOpaque = true
            }
            return part
        }

        var part =
            entity.part
            ?? BodyPart(header: HeaderSection(emptyAt: entity.headerStart), inDigest: false, limits: limits)
        if end >= entity.bodyStart {
            part.headerRange = entity.headerStart..<entity.headerEnd
            part.bodyRange = entity.bodyStart..<end
            let bodyLineFeeds = max(0, self.lineFeeds - entity.bodyStartLineFeeds - (removedLineFeed ? 1 : 0))
            let endsWithLineFeed = end > entity.bodyStart && bytes[end - 1] == MIMEGrammar.lf
            part.lineCount = bodyLineFeeds + (end > entity.bodyStart && !endsWithLineFeed ? 1 : 0)
        } else {
            // The delimiter follows the blank line that ended the header at once, so that
            // line break is the delimiter's: the header ends before it, the body is empty.
            part.header = HeaderSection(parsing: bytes, in: entity.headerStart..<end, limits: limits)
            part.headerRange = entity.headerStart..<end
            part.bodyRange = end..<end
            part.lineCount = 0
        }
        switch entity.kind {
        case .leaf:
            part.content = .single
        case .multipart:
            part.content = .multipart(entity.children)
        case .message:
            if end < entity.bodyStart {
                // Nothing of the encapsulated message is left inside the part.
                part.content = .message(BodyPart(header: HeaderSection(emptyAt: end), inDigest: false, limits: limits))
            } else if let message = entity.encapsulated {
                part.content = .message(message)
            } else {
                part.isOpaque = true
            }
        }
        return part
    }
}
