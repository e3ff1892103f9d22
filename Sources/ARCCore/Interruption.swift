// Ctrl-C / SIGTERM for work that can stop between pieces and clean up after itself (a dataset
// build removes its staging folder): the first signal asks the work to stop, a second one exits
// at once (what is left behind is then recognised as stale and removed by the next run).
//
// The process catches SIGINT and SIGTERM with one dispatch source per signal, made on the first
// `install` and kept for the rest of the process; `install` and `uninstall` only say which work a
// signal is for. (On Linux, libdispatch puts its own handler on a signal when the first source for
// it is registered, and never again: cancelling the sources and setting the signal back to SIG_DFL,
// then SIG_IGN for new sources, left the signal ignored for the rest of the run.)
import Dispatch
import Foundation

public final class Interruption: @unchecked Sendable {
    private let lock = NSLock()
    private var _signalName: String?

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
    /// `secondNotice` when a second one exits at once. Signals sent once this returns are seen.
    /// When several interruptions are installed, signals go to the one installed last.
    public func install(notice: String, secondNotice: String = "exiting now") {
        ProcessSignals.shared.register(self, notice: notice, secondNotice: secondNotice)
    }

    /// Gives SIGINT and SIGTERM back: to the interruption installed before this one, or, when there
    /// is none, their default action (they end the process).
    public func uninstall() {
        ProcessSignals.shared.unregister(self)
    }
}

/// The work stopped because of a signal; what it had half written is removed.
public struct Interrupted: Error, CustomStringConvertible, Sendable {
    public var signalName: String
    public var description: String { "interrupted (\(signalName))" }
}

/// The process's handling of SIGINT and SIGTERM: its dispatch sources are made once and never
/// cancelled, and the signal dispositions are not changed again while the process lives (except
/// to end it with a signal nobody handles).
private final class ProcessSignals: @unchecked Sendable {
    static let shared = ProcessSignals()

    private struct Registration {
        weak var interruption: Interruption?
        var notice: String
        var secondNotice: String
    }

    private static let signals: [(number: Int32, name: String)] = [(SIGINT, "SIGINT"), (SIGTERM, "SIGTERM")]
    /// How long `register` waits for the first sources to be registered with the system.
    private static let registrationTimeout: DispatchTimeInterval = .seconds(10)

    private let lock = NSLock()
    /// Installed interruptions, the last installed last.
    private var registrations: [Registration] = []
    private var sources: [DispatchSourceSignal] = []
    /// One signal at a time, in the order they came.
    private let queue = DispatchQueue(label: "arc-pipeline.signals")

    func register(_ interruption: Interruption, notice: String, secondNotice: String) {
        lock.lock()
        registrations.removeAll { $0.interruption == nil || $0.interruption === interruption }
        registrations.append(Registration(interruption: interruption, notice: notice, secondNotice: secondNotice))
        let registered = sources.isEmpty ? startSources() : nil
        lock.unlock()
        // Waited for without the lock: `deliver` takes it on `queue`, where the registration handlers run.
        if let registered { _ = registered.wait(timeout: .now() + Self.registrationTimeout) }
    }

    func unregister(_ interruption: Interruption) {
        lock.lock(); defer { lock.unlock() }
        registrations.removeAll { $0.interruption == nil || $0.interruption === interruption }
    }

    /// Makes the sources; the group is left when the system delivers the signals to them. Called
    /// once, with the lock held.
    private func startSources() -> DispatchGroup {
        let registered = DispatchGroup()
        for (number, name) in Self.signals {
            // Without this the signal would end the process before (and, on macOS, besides) the source.
            signal(number, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: number, queue: queue)
            registered.enter()
            source.setRegistrationHandler { registered.leave() }
            source.setEventHandler { [unowned self] in self.deliver(number, name: name) }
            source.resume()
            sources.append(source)
        }
        return registered
    }

    private func deliver(_ number: Int32, name: String) {
        lock.lock()
        registrations.removeAll { $0.interruption == nil }
        let current = registrations.last
        lock.unlock()
        guard let current, let interruption = current.interruption else { endWithDefaultAction(number) }
        if interruption.isRequested {
            FileHandle.standardError.write(Data("\nsecond signal: \(current.secondNotice)\n".utf8))
            // _exit, not exit: exit's clean-up (atexit handlers, destructors of globals) would run on this
            // thread while the main thread is still working, which crashed now and then (exit 139). What
            // is left on disk is recognised as stale and removed by the next run.
            fflush(stdout)
            _exit(130)
        }
        FileHandle.standardError.write(Data("\n\(name): \(current.notice) (again to exit now)\n".utf8))
        interruption.request(name)
    }

    /// No work is listening: the signal ends the process as it would without any handling.
    private func endWithDefaultAction(_ number: Int32) -> Never {
        signal(number, SIG_DFL)
        var set = sigset_t()
        sigemptyset(&set)
        sigaddset(&set, number)
        pthread_sigmask(SIG_UNBLOCK, &set, nil)
        raise(number)
        exit(128 + number)
    }
}
