// One-line text for a file-system error (FileManager's CocoaError, POSIX errors): the path and
// the system's reason, instead of an NSError dump.
import Foundation

public enum FileSystemMessage {
    public static func describe(_ error: Error) -> String {
        let ns = error as NSError
        let path = ns.userInfo[NSFilePathErrorKey] as? String ?? (ns.userInfo[NSURLErrorKey] as? URL)?.path
        var reason: String? = nil
        if let underlying = ns.userInfo[NSUnderlyingErrorKey] as? NSError, underlying.domain == NSPOSIXErrorDomain {
            reason = String(cString: strerror(Int32(underlying.code)))
        } else if ns.domain == NSPOSIXErrorDomain {
            reason = String(cString: strerror(Int32(ns.code)))
        }
        let text = reason ?? ns.localizedDescription
        let line = path.map { "\($0): \(text)" } ?? text
        return line.replacingOccurrences(of: "\n", with: " ")
    }
}
