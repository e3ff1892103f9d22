// The training progress line's "elapsed" and "ETA" clock: any Double gives text ("--:--" when it
// is no usable time), never a trap.
@testable import Training
import XCTest

final class ProgressClockTests: XCTestCase {
    func testEveryDoubleGivesText() {
        XCTAssertEqual(TrainingSession.clock(0), "0:00")
        XCTAssertEqual(TrainingSession.clock(125.4), "2:05")
        for seconds in [Double(Int.max), 1e19, 1e300, -1, -1e300, .infinity, .nan] {
            XCTAssertEqual(TrainingSession.clock(seconds), "--:--", "\(seconds)")
        }
    }
}
