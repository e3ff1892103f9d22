// Ctrl-C / SIGTERM handling for long runs: the first signal asks the training loop to stop cleanly
// (it saves a checkpoint and exits); a second one exits at once. The signal handling itself is
// ARCCore's Interruption, shared with the dataset build.
import ARCCore
import Foundation

public final class StopRequest: @unchecked Sendable {
    private let interruption = Interruption()

    public init() {}

    /// Why the run should stop ("interrupted (SIGINT)", "terminated (SIGTERM)" or what `request`
    /// was given); nil while it should go on.
    public var reason: String? { interruption.signalName.map(Self.describe) }

    public func request(_ reason: String) { interruption.request(reason) }

    /// Installs SIGINT and SIGTERM handlers that request a stop.
    public func installSignalHandlers() {
        interruption.install(notice: "finishing the step, saving a checkpoint, then stopping", secondNotice: "exiting without saving")
    }

    static func describe(_ signalName: String) -> String {
        switch signalName {
        case "SIGINT": return "interrupted (SIGINT)"
        case "SIGTERM": return "terminated (SIGTERM)"
        default: return signalName
        }
    }
}
