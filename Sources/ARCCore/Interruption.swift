// Ctrl-C / SIGTERM for work that can stop between pieces and clean up after itself (a dataset
// build removes its staging folder): the first signal asks the work to stop, a second one exits
// at once (what is left behind is then recognised as stale and removed by the next run).
import Dispatch
import Foundation

public final class Interruption: @unchecked Sendable {
    private let lock = NSLock()
    private var _signalName: String?
    private var sources: [DispatchSourceSignal] = []

    public init() {}

    /// The signal that asked to stop ("SIGINT", "SIGTERM"), or nil.
    public var signalName: String? {
        lock.lock(); defer { lock.unlock() }
        return _signalName
    }

    public var isRequested: Bool { signalName != nil }

    /// Asks the work to stop (also what the signal handlers do).
    public func request(_ name: String) {
        lock.lock(); defer { lock.unlock() }
        if _signalName == nil { _signalName = name }
    }

    /// Throws `Interrupted` when a stop was asked for.
    public func check() throws {
        if let name = signalName { throw Interrupted(signalName: name) }
    }

    /// Handles SIGINT and SIGTERM until `uninstall`; `notice` is printed on the first signal,
    /// `secondNotice` when a second one exits at once.
    public func install(notice: String, secondNotice: String = "exiting now") {
        for (number, name) in [(SIGINT, "SIGINT"), (SIGTERM, "SIGTERM")] {
            signal(number, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: number, queue: .global())
            source.setEventHandler { [weak self] in
                guard let self else { return }
                if self.isRequested {
                    FileHandle.standardError.write(Data("\nsecond signal: \(secondNotice)\n".utf8))
                    exit(130)
                }
                FileHandle.standardError.write(Data("\n\(name): \(notice) (again to exit now)\n".utf8))
                self.request(name)
            }
            source.resume()
            sources.append(source)
        }
    }

    /// Restores the default handling of SIGINT and SIGTERM.
    public func uninstall() {
        for source in sources { source.cancel() }
        sources = []
        signal(SIGINT, SIG_DFL)
        signal(SIGTERM, SIG_DFL)
    }
}

/// The work stopped because of a signal; what it had half written is removed.
public struct Interrupted: Error, CustomStringConvertible, Sendable {
    public var signalName: String
    public var description: String { "interrupted (\(signalName))" }
}
