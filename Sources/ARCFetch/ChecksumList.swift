// SHA256SUMS files (the `sha256sum` output format) and SHA-256 hex digests given by users.
import Foundation

extension Fetcher {
    /// Largest SHA256SUMS accepted (a few lines are expected).
    public static let maxChecksumFileBytes: Int64 = 1 << 20

    /// 64 ASCII hex digits.
    public static func isSHA256Hex(_ text: String) -> Bool {
        text.utf8.count == 64 && text.utf8.allSatisfy { (0x30...0x39).contains($0) || (0x41...0x46).contains($0) || (0x61...0x66).contains($0) }
    }

    /// Parses `sha256sum` output: `<64 hex digits>  <name>` (or ` *<name>`) per line; blank
    /// lines and `#` comments are skipped; anything else is an error naming the line.
    public static func parseChecksums(_ data: Data, location: String) throws -> [String: String] {
        guard let text = String(data: data, encoding: .utf8) else {
            throw FetchError.badChecksumFile(location: location, reason: "not UTF-8 text")
        }
        var sums: [String: String] = [:]
        // "\r\n" is one Character in Swift: both line ends are separators.
        for (index, line) in text.split(omittingEmptySubsequences: false, whereSeparator: { $0 == "\n" || $0 == "\r\n" }).enumerated() {
            if line.trimmingCharacters(in: .whitespaces).isEmpty || line.hasPrefix("#") { continue }
            let expected = "is not '<64 hex digits>  <file name>'"
            guard let space = line.firstIndex(of: " ") else {
                throw FetchError.badChecksumFile(location: location, reason: "line \(index + 1) \(expected)")
            }
            let digest = String(line[..<space])
            var name = line[line.index(after: space)...]
            if name.hasPrefix(" ") || name.hasPrefix("*") { name = name.dropFirst() }
            guard isSHA256Hex(digest), !name.isEmpty else {
                throw FetchError.badChecksumFile(location: location, reason: "line \(index + 1) \(expected)")
            }
            let key = String(name)
            if let earlier = sums[key], earlier != digest.lowercased() {
                throw FetchError.badChecksumFile(location: location, reason: "lists \(key) twice with different digests (line \(index + 1))")
            }
            sums[key] = digest.lowercased()
        }
        return sums
    }
}
