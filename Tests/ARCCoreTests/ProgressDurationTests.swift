// The progress line's ETA text: a download's total can be a server's Content-Length near Int64.max,
// so any Double gives text ("--:--" when it is no usable time), never a trap.
@testable import ARCCore
import XCTest

final class ProgressDurationTests: XCTestCase {
    func testEveryDoubleGivesText() {
        XCTAssertEqual(ProgressReporter.duration(0), "00:00")
        XCTAssertEqual(ProgressReporter.duration(65.4), "01:05")
        XCTAssertEqual(ProgressReporter.duration(3725), "1:02:05")
        // The ETA of 1 byte of Int64.max done in 1 s, and the Double values no time can have.
        for seconds in [Double(Int64.max), 1e19, 1e300, -1, -1e300, .infinity, .nan, .greatestFiniteMagnitude] {
            XCTAssertEqual(ProgressReporter.duration(seconds), "--:--", "\(seconds)")
        }
    }
}
