// A small, strict JSON parser that keeps object key order and tells integers from
// other numbers, so ARC loaders can name exactly what is wrong and where.
import Foundation

public enum JSONValue: Equatable, Sendable {
    case null
    case bool(Bool)
    case int(Int)
    case double(Double)
    case string(String)
    case array([JSONValue])
    case object([(String, JSONValue)])

    public static func == (a: JSONValue, b: JSONValue) -> Bool {
        switch (a, b) {
        case (.null, .null): return true
        case let (.bool(x), .bool(y)): return x == y
        case let (.int(x), .int(y)): return x == y
        case let (.double(x), .double(y)): return x == y
        case let (.string(x), .string(y)): return x == y
        case let (.array(x), .array(y)): return x == y
        case let (.object(x), .object(y)):
            return x.count == y.count && zip(x, y).allSatisfy { $0.0 == $1.0 && $0.1 == $1.1 }
        default: return false
        }
    }

    /// A short name of the value's kind, for error messages.
    public var kindName: String {
        switch self {
        case .null: return "null"
        case .bool: return "a boolean"
        case .int: return "an integer"
        case .double: return "a non-integer number"
        case .string: return "a string"
        case .array: return "an array"
        case .object: return "an object"
        }
    }

    public subscript(key: String) -> JSONValue? {
        if case let .object(members) = self { return members.first { $0.0 == key }?.1 }
        return nil
    }
}

/// One step of a path into a JSON document: an object key or an array index.
public enum JSONPathComponent: Sendable, Equatable {
    case key(String)
    case index(Int)

    /// `a.b[0]."odd key"`: plain keys bare, other keys quoted.
    public static func text(_ path: [JSONPathComponent]) -> String {
        var text = ""
        for component in path {
            switch component {
            case let .key(key):
                let plain = !key.isEmpty && key.unicodeScalars.allSatisfy {
                    ("a"..."z").contains($0) || ("A"..."Z").contains($0) || ("0"..."9").contains($0) || $0 == "_" || $0 == "-"
                }
                let shown = plain ? key : JSONWriter.quoted(key)
                text += text.isEmpty ? shown : "." + shown
            case let .index(k):
                text += "[\(k)]"
            }
        }
        return text
    }
}

public struct JSONParseError: Error, CustomStringConvertible, Sendable {
    public let offset: Int
    public let line: Int
    public let reason: String
    /// The container the problem is in, from the top level; empty at the top level.
    public let pathComponents: [JSONPathComponent]
    /// Set when the problem is a key that appears twice in one object.
    public let duplicateKey: String?

    public init(offset: Int, line: Int, reason: String, pathComponents: [JSONPathComponent] = [], duplicateKey: String? = nil) {
        self.offset = offset
        self.line = line
        self.reason = reason
        self.pathComponents = pathComponents
        self.duplicateKey = duplicateKey
    }

    /// Where the problem is, e.g. `007bbfd7.train[0]`; empty at the top level.
    public var path: String { JSONPathComponent.text(pathComponents) }

    public var description: String {
        "invalid JSON at line \(line) (byte \(offset))" + (path.isEmpty ? "" : " in \(path)") + ": \(reason)"
    }
}

/// Parses JSON text (RFC 8259). Numbers without fraction or exponent that fit Int are `.int`.
/// Strict on hostile input: at most `maximumDepth` nested arrays/objects, no duplicate keys in an
/// object, strings must be valid UTF-8 with paired UTF-16 surrogate escapes, numbers must be finite
/// as a Double. Every violation throws a `JSONParseError` naming the line, byte and path.
public struct JSONParser {
    /// Deepest nesting of arrays and objects accepted (ARC files need 6; the parser recurses, so this
    /// also bounds its stack use on any thread).
    public static let maximumDepth = 128

    private let bytes: [UInt8]
    private var i = 0
    private var depth = 0
    private var path: [JSONPathComponent] = []

    public static func parse(_ data: Data) throws -> JSONValue {
        var p = JSONParser(bytes: [UInt8](data))
        p.skipWhitespace()
        let v = try p.parseValue()
        p.skipWhitespace()
        if p.i != p.bytes.count { throw p.error("unexpected trailing characters") }
        return v
    }

    private init(bytes: [UInt8]) { self.bytes = bytes }

    private func error(_ reason: String, at offset: Int? = nil, duplicateKey: String? = nil) -> JSONParseError {
        let at = min(offset ?? i, bytes.count)
        var line = 1
        for b in bytes[0..<at] where b == 0x0A { line += 1 }
        return JSONParseError(offset: at, line: line, reason: reason, pathComponents: path, duplicateKey: duplicateKey)
    }

    private mutating func skipWhitespace() {
        while i < bytes.count, bytes[i] == 0x20 || bytes[i] == 0x0A || bytes[i] == 0x0D || bytes[i] == 0x09 { i += 1 }
    }

    private mutating func parseValue() throws -> JSONValue {
        guard i < bytes.count else { throw error("unexpected end of input") }
        switch bytes[i] {
        case UInt8(ascii: "{"): return try parseObject()
        case UInt8(ascii: "["): return try parseArray()
        case UInt8(ascii: "\""): return .string(try parseString())
        case UInt8(ascii: "t"): try expect("true"); return .bool(true)
        case UInt8(ascii: "f"): try expect("false"); return .bool(false)
        case UInt8(ascii: "n"): try expect("null"); return .null
        default: return try parseNumber()
        }
    }

    private mutating func expect(_ word: String) throws {
        let w = Array(word.utf8)
        guard i + w.count <= bytes.count, Array(bytes[i..<i + w.count]) == w else {
            throw error("unexpected character")
        }
        i += w.count
    }

    private mutating func enterContainer() throws {
        if depth >= JSONParser.maximumDepth { throw error("nesting deeper than \(JSONParser.maximumDepth) arrays/objects") }
        depth += 1
    }

    private mutating func parseObject() throws -> JSONValue {
        try enterContainer()
        defer { depth -= 1 }
        i += 1
        var members: [(String, JSONValue)] = []
        var keys = Set<String>()
        skipWhitespace()
        if i < bytes.count, bytes[i] == UInt8(ascii: "}") { i += 1; return .object(members) }
        while true {
            skipWhitespace()
            guard i < bytes.count, bytes[i] == UInt8(ascii: "\"") else { throw error("expected a string key") }
            let keyOffset = i
            let key = try parseString()
            guard keys.insert(key).inserted else { throw error("duplicate key \(JSONWriter.quoted(key))", at: keyOffset, duplicateKey: key) }
            skipWhitespace()
            guard i < bytes.count, bytes[i] == UInt8(ascii: ":") else { throw error("expected ':'") }
            i += 1
            skipWhitespace()
            path.append(.key(key))
            members.append((key, try parseValue()))
            path.removeLast()
            skipWhitespace()
            guard i < bytes.count else { throw error("unexpected end of input in object") }
            if bytes[i] == UInt8(ascii: ",") { i += 1; continue }
            if bytes[i] == UInt8(ascii: "}") { i += 1; return .object(members) }
            throw error("expected ',' or '}'")
        }
    }

    private mutating func parseArray() throws -> JSONValue {
        try enterContainer()
        defer { depth -= 1 }
        i += 1
        var items: [JSONValue] = []
        skipWhitespace()
        if i < bytes.count, bytes[i] == UInt8(ascii: "]") { i += 1; return .array(items) }
        while true {
            skipWhitespace()
            path.append(.index(items.count))
            items.append(try parseValue())
            path.removeLast()
            skipWhitespace()
            guard i < bytes.count else { throw error("unexpected end of input in array") }
            if bytes[i] == UInt8(ascii: ",") { i += 1; continue }
            if bytes[i] == UInt8(ascii: "]") { i += 1; return .array(items) }
            throw error("expected ',' or ']'")
        }
    }

    private mutating func parseString() throws -> String {
        let start = i
        i += 1
        var out = [UInt8]()
        while true {
            guard i < bytes.count else { throw error("unterminated string", at: start) }
            let b = bytes[i]
            if b == UInt8(ascii: "\"") { i += 1; break }
            if b < 0x20 { throw error("control character in string") }
            if b == UInt8(ascii: "\\") {
                i += 1
                guard i < bytes.count else { throw error("unterminated escape") }
                let e = bytes[i]
                i += 1
                switch e {
                case UInt8(ascii: "\""): out.append(0x22)
                case UInt8(ascii: "\\"): out.append(0x5C)
                case UInt8(ascii: "/"): out.append(0x2F)
                case UInt8(ascii: "b"): out.append(0x08)
                case UInt8(ascii: "f"): out.append(0x0C)
                case UInt8(ascii: "n"): out.append(0x0A)
                case UInt8(ascii: "r"): out.append(0x0D)
                case UInt8(ascii: "t"): out.append(0x09)
                case UInt8(ascii: "u"):
                    let escapeStart = i - 2
                    let unit = try parseHex4()
                    let code: UInt32
                    switch unit {
                    case 0xD800...0xDBFF:
                        // A high surrogate must be followed by an escaped low surrogate.
                        guard i + 1 < bytes.count, bytes[i] == UInt8(ascii: "\\"), bytes[i + 1] == UInt8(ascii: "u") else {
                            throw error("unpaired UTF-16 surrogate \\u\(hex(unit)) in string", at: escapeStart)
                        }
                        i += 2
                        let low = try parseHex4()
                        guard (0xDC00...0xDFFF).contains(low) else {
                            throw error("unpaired UTF-16 surrogate \\u\(hex(unit)) (followed by \\u\(hex(low))) in string", at: escapeStart)
                        }
                        code = 0x10000 + ((unit - 0xD800) << 10) + (low - 0xDC00)
                    case 0xDC00...0xDFFF:
                        throw error("unpaired UTF-16 surrogate \\u\(hex(unit)) in string", at: escapeStart)
                    default:
                        code = unit
                    }
                    guard let scalar = Unicode.Scalar(code) else { throw error("invalid \\u escape", at: escapeStart) }
                    out.append(contentsOf: Array(String(Character(scalar)).utf8))
                default: throw error("invalid escape")
                }
            } else {
                out.append(b)
                i += 1
            }
        }
        // Decoding repairs invalid UTF-8 with U+FFFD; a repaired string has different bytes.
        let text = String(decoding: out, as: UTF8.self)
        guard text.utf8.elementsEqual(out) else { throw error("string is not valid UTF-8", at: start) }
        return text
    }

    private func hex(_ unit: UInt32) -> String {
        let digits = String(unit, radix: 16, uppercase: false)
        return String(repeating: "0", count: max(0, 4 - digits.count)) + digits
    }

    private mutating func parseHex4() throws -> UInt32 {
        guard i + 4 <= bytes.count else { throw error("short \\u escape") }
        var v: UInt32 = 0
        for _ in 0..<4 {
            let c = bytes[i]
            let d: UInt32
            switch c {
            case 0x30...0x39: d = UInt32(c - 0x30)
            case 0x41...0x46: d = UInt32(c - 0x41 + 10)
            case 0x61...0x66: d = UInt32(c - 0x61 + 10)
            default: throw error("invalid \\u escape")
            }
            v = v * 16 + d
            i += 1
        }
        return v
    }

    private mutating func parseNumber() throws -> JSONValue {
        let start = i
        var isInteger = true
        if i < bytes.count, bytes[i] == UInt8(ascii: "-") { i += 1 }
        let digitsStart = i
        while i < bytes.count, (0x30...0x39).contains(bytes[i]) { i += 1 }
        if i == digitsStart { throw error("unexpected character") }
        if i < bytes.count, bytes[i] == UInt8(ascii: ".") {
            isInteger = false
            i += 1
            let f = i
            while i < bytes.count, (0x30...0x39).contains(bytes[i]) { i += 1 }
            if i == f { throw error("invalid number") }
        }
        if i < bytes.count, bytes[i] == UInt8(ascii: "e") || bytes[i] == UInt8(ascii: "E") {
            isInteger = false
            i += 1
            if i < bytes.count, bytes[i] == UInt8(ascii: "+") || bytes[i] == UInt8(ascii: "-") { i += 1 }
            let e = i
            while i < bytes.count, (0x30...0x39).contains(bytes[i]) { i += 1 }
            if i == e { throw error("invalid number") }
        }
        let text = String(decoding: bytes[start..<i], as: UTF8.self)
        if isInteger, let v = Int(text) { return .int(v) }
        guard let d = Double(text) else { throw error("invalid number", at: start) }
        guard d.isFinite else { throw error("number \(text.prefix(40)) is out of range", at: start) }
        return .double(d)
    }
}
