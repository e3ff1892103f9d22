// Interruption in this process: SIGINT and SIGTERM reach the installed interruption however many
// times interruptions were installed and uninstalled before (train-eval installs one for the
// dataset build, uninstalls it, then installs the training's).
import ARCCore
import Foundation
import XCTest

final class InterruptionTests: XCTestCase {
    /// Sends `signal` to this process and waits (up to 10 s) for `interruption` to see it.
    private func deliver(_ signal: Int32, to interruption: Interruption) -> String? {
        kill(getpid(), signal)
        let deadline = Date().addingTimeInterval(10)
        while !interruption.isRequested && Date() < deadline { usleep(2_000) }
        return interruption.signalName
    }

    func testSignalsReachEachInterruptionAfterEarlierOnesWereUninstalled() {
        // Each install covers both signals: every install after the first follows an
        // install/uninstall pair for both.
        var installed = 0
        for _ in 1...3 {
            for (number, name) in [(SIGINT, "SIGINT"), (SIGTERM, "SIGTERM")] {
                let interruption = Interruption()
                installed += 1
                interruption.install(notice: "InterruptionTests install \(installed)")
                let seen = deliver(number, to: interruption)
                interruption.uninstall()
                XCTAssertEqual(seen, name, "\(name) to install \(installed), after \(installed - 1) install/uninstall pairs")
                if seen == nil { return }  // the signal is lost for good: later installs would only wait
            }
        }
    }

    func testTheLastInstalledInterruptionGetsTheSignalAndTheEarlierOneGetsItBack() {
        let outer = Interruption()
        outer.install(notice: "InterruptionTests outer")
        defer { outer.uninstall() }
        let inner = Interruption()
        inner.install(notice: "InterruptionTests inner")
        XCTAssertEqual(deliver(SIGINT, to: inner), "SIGINT")
        XCTAssertNil(outer.signalName, "only the last installed interruption is asked to stop")
        inner.uninstall()
        XCTAssertEqual(deliver(SIGTERM, to: outer), "SIGTERM", "after the inner one is uninstalled, the outer one gets the signals")
        XCTAssertEqual(inner.signalName, "SIGINT")
    }
}
