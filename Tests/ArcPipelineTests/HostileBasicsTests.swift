// Hostile inputs that every command shares: missing files and unknown options.
import Foundation
import XCTest

final class HostileBasicsTests: XCTestCase {
    func testMissingInputsAreNamed() throws {
        try HostileInputHarness.check([
            HostileCase(name: "score of a missing submission", arguments: ["score", "missing/submission.json", "--solutions", "missing/solutions.json"],
                        errorMentions: ["missing/", "no such file"]),
            HostileCase(name: "train on a missing dataset", arguments: ["train", "--dataset", "nowhere", "--out", "run"],
                        errorMentions: ["nowhere"]),
        ])
    }
}
