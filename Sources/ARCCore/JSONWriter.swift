// Writing JSON text: string quoting shared by every writer in the project (manifests,
// datasets, submissions, candidate tables, metrics), and compact encoding of a JSONValue.
import Foundation

public enum JSONWriter {
    /// `s` as a JSON string literal, with quotes and control characters escaped.
    public static func quoted(_ s: String) -> String {
        var out = "\""
        for u in s.unicodeScalars {
            switch u {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            default:
                if u.value < 0x20 { out += String(format: "\\u%04x", u.value) } else { out.unicodeScalars.append(u) }
            }
        }
        return out + "\""
    }

    /// Compact JSON text of a value (object keys in their stored order).
    public static func text(_ value: JSONValue) -> String {
        switch value {
        case .null: return "null"
        case let .bool(b): return b ? "true" : "false"
        case let .int(i): return String(i)
        case let .double(d): return d.isFinite ? "\(d)" : "null"
        case let .string(s): return quoted(s)
        case let .array(items): return "[" + items.map(text).joined(separator: ",") + "]"
        case let .object(members): return "{" + members.map { quoted($0.0) + ":" + text($0.1) }.joined(separator: ",") + "}"
        }
    }
}
