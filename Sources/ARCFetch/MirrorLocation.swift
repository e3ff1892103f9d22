// Where --mirror, ARC_MIRROR and --kaggle-source point: an http(s) or file URL, checked for a
// usable host and port, or a folder path. A bad value is one error naming the option.
import Foundation

extension Fetcher {
    /// Parses a location given as a URL (http, https, file); nil when `location` is no URL
    /// (then it is a folder path). `option` names where the value came from, for errors.
    static func parseURL(_ location: String, option: String) throws -> URL? {
        let lower = location.lowercased()
        guard let colon = location.firstIndex(of: ":"), location.contains("://") || lower.hasPrefix("file:") else { return nil }
        let scheme = lower[..<colon]
        guard ["http", "https", "file"].contains(scheme) else {
            throw FetchError.badLocation(option: option, value: location, reason: "unsupported scheme '\(scheme)' (give http, https, file or a folder path)")
        }
        guard let url = URL(string: location) else {
            throw FetchError.badLocation(option: option, value: location, reason: "not a valid URL")
        }
        if scheme == "file" {
            guard url.host == nil || url.host == "" || url.host == "localhost" else {
                throw FetchError.badLocation(option: option, value: location, reason: "a file URL must name a local path (file:///path)")
            }
            guard url.path.hasPrefix("/") else {
                throw FetchError.badLocation(option: option, value: location, reason: "a file URL needs an absolute path (file:///path)")
            }
        } else {
            guard let host = url.host, !host.isEmpty else {
                throw FetchError.badLocation(option: option, value: location, reason: "the URL has no host")
            }
            if let problem = authorityProblem(location) {
                throw FetchError.badLocation(option: option, value: location, reason: problem)
            }
        }
        return url
    }

    /// Why the host and port of an http(s) URL are unusable, or nil: a bracketed host must be an
    /// IPv6 address, a name only letters, digits, '.', '-' and '_', a port 1-65535.
    static func authorityProblem(_ location: String) -> String? {
        guard let schemeEnd = location.range(of: "://") else { return "the URL has no host" }
        var authority = location[schemeEnd.upperBound...].prefix { $0 != "/" && $0 != "?" && $0 != "#" }
        if let at = authority.lastIndex(of: "@") { authority = authority[authority.index(after: at)...] }
        var host: Substring
        var port: Substring? = nil
        if authority.hasPrefix("[") {
            guard let close = authority.firstIndex(of: "]") else { return "the IPv6 address has no closing ']'" }
            host = authority[authority.index(after: authority.startIndex)..<close]
            var address = in6_addr()
            guard inet_pton(AF_INET6, String(host), &address) == 1 else { return "'\(host)' is not an IPv6 address" }
            let rest = authority[authority.index(after: close)...]
            if !rest.isEmpty {
                guard rest.hasPrefix(":") else { return "unexpected '\(rest)' after the IPv6 address" }
                port = rest.dropFirst()
            }
        } else {
            if let colon = authority.firstIndex(of: ":") {
                host = authority[..<colon]
                port = authority[authority.index(after: colon)...]
            } else {
                host = authority
            }
            if host.isEmpty { return "the URL has no host" }
            if let bad = host.first(where: { !($0.isLetter || $0.isNumber || $0 == "." || $0 == "-" || $0 == "_") }) {
                return "the host name '\(host)' has the character '\(bad)'"
            }
        }
        if let port, !port.isEmpty {
            guard port.allSatisfy({ $0.isASCII && $0.isNumber }), let number = Int(port), (1...65535).contains(number) else {
                return "the port '\(port)' is not a number 1-65535"
            }
        }
        return nil
    }

    /// Turns a user's `--mirror`/`ARC_MIRROR` value (URL or folder) into a base URL.
    public static func baseURL(_ location: String, option: String = "--mirror") throws -> URL {
        if location.trimmingCharacters(in: .whitespaces).isEmpty {
            throw FetchError.badLocation(option: option, value: location, reason: "empty (give a folder or an http(s) URL)")
        }
        if let url = try parseURL(location, option: option) {
            if url.absoluteString.hasSuffix("/") { return url }
            guard let withSlash = URL(string: url.absoluteString + "/") else {
                throw FetchError.badLocation(option: option, value: location, reason: "not a valid URL")
            }
            return withSlash
        }
        return URL(fileURLWithPath: location, isDirectory: true).standardizedFileURL
    }
}
