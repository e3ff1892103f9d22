// Ctrl-C / SIGTERM handling for long runs: the first signal asks the loop to stop cleanly
// (it saves a checkpoint and exits); a second one exits at once.
import Dispatch
import Foundation

public final class StopRequest: @unchecked Sendable {
    private let lock = NSLock()
    private var _reason: String?
    private var sources: [DispatchSourceSignal] = []

    public init() {}

    public var reason: String? {
        lock.lock(); defer { lock.unlock() }
        return _reason
    }

    public func request(_ reason: String) {
        lock.lock(); defer { lock.unlock() }
        if _reason == nil { _reason = reason }
    }

    /// Installs SIGINT and SIGTERM handlers that request a stop.
    public func installSignalHandlers() {
        for (sig, name) in [(SIGINT, "interrupted (SIGINT)"), (SIGTERM, "terminated (SIGTERM)")] {
            signal(sig, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: sig, queue: .global())
            source.setEventHandler { [weak self] in
                guard let self else { return }
                if self.reason != nil {
                    FileHandle.standardError.write(Data("\nsecond signal: exiting without saving\n".utf8))
                    exit(130)
                }
                FileHandle.standardError.write(Data("\n\(name): finishing the step, saving a checkpoint, then stopping (again to exit now)\n".utf8))
                self.request(name)
            }
            source.resume()
            sources.append(source)
        }
    }
}
