// One line for a Codable decoding failure (a missing or mistyped field of a stored config),
// instead of the DecodingError dump with its coding-path internals.
import Foundation

public enum DecodingProblem {
    /// `field numHeads: missing`, `field lr: expected Double`, or the error's own description.
    public static func describe(_ error: Error) -> String {
        guard let decoding = error as? DecodingError else { return "\(error)" }
        func path(_ context: DecodingError.Context, _ extra: CodingKey? = nil) -> String {
            let keys = context.codingPath + (extra.map { [$0] } ?? [])
            let text = keys.map { $0.intValue.map { "[\($0)]" } ?? $0.stringValue }.joined(separator: ".")
            return text.isEmpty ? "the value" : "field \(text)"
        }
        switch decoding {
        case let .keyNotFound(key, context): return "\(path(context, key)): missing"
        case let .typeMismatch(type, context): return "\(path(context)): expected \(type)"
        case let .valueNotFound(type, context): return "\(path(context)): expected \(type), found null"
        case let .dataCorrupted(context): return "\(path(context)): \(context.debugDescription)"
        @unknown default: return "cannot be decoded"
        }
    }
}
