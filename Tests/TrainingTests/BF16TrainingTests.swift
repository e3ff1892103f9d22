// A small training run with bf16 matmuls (BF16Matmul.swift) follows the fp32 run's loss curve: the
// same tiny model, data, seed and 80 steps (ResumeTests' setup), lm_loss averaged over windows of 10
// steps within 0.05 + 10% of the fp32 window, both curves falling; the weights differ (bf16 ran).
import Foundation
import HRM
import Kernels
import Training
import XCTest

final class BF16TrainingTests: XCTestCase {
    func lossCurve(bf16: BF16Matmul?, steps: Int) throws -> (losses: [Double], parameters: [Float]) {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("arc-bf16-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let model = HRMModel<Float>(config: ResumeTests.tinyConfig(), maxBatch: 4)
        model.parameters.initialize(seed: 3)
        model.bf16Matmul = bf16
        var options = ResumeTests.options()
        options.totalSteps = steps
        let session = try TrainingSession(runDirectory: directory, model: model, data: ResumeTests.tinyData(), options: options, resume: false)
        var plan = TrainingPlan(maxSteps: steps)
        plan.quiet = true
        plan.logInterval = 1
        _ = try session.run(plan, stop: StopRequest())
        let lines = try String(contentsOf: directory.appendingPathComponent("metrics.jsonl"), encoding: .utf8).split(separator: "\n")
        let losses = try lines.map { line -> Double in
            let object = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
            return try XCTUnwrap((object["lm_loss"] as? NSNumber)?.doubleValue, "metrics line without lm_loss: \(line)")
        }
        return (losses, model.parameters.values.array)
    }

    func testBF16TrainingFollowsTheFP32LossCurve() throws {
        KernelThreads.configure(threads: 1)
        defer { KernelThreads.configure(threads: 0) }
        let steps = 80, window = 10
        let engine = try XCTUnwrap(PrecisionChoice.choose(.bf16).matmul)
        let fp32 = try lossCurve(bf16: nil, steps: steps)
        let bf16 = try lossCurve(bf16: engine, steps: steps)
        XCTAssertEqual(fp32.losses.count, steps)
        XCTAssertEqual(bf16.losses.count, steps)
        func windows(_ x: [Double]) -> [Double] {
            stride(from: 0, to: x.count, by: window).map { start in x[start..<min(x.count, start + window)].reduce(0, +) / Double(min(window, x.count - start)) }
        }
        let a = windows(fp32.losses), b = windows(bf16.losses)
        var report = "window lm_loss fp32 / bf16:"
        for i in 0..<a.count {
            report += String(format: " %.3f/%.3f", a[i], b[i])
            XCTAssertLessThanOrEqual(abs(a[i] - b[i]), 0.05 + 0.1 * a[i], "window \(i): fp32 \(a[i]), bf16 \(b[i])")
        }
        print(report)
        XCTAssertLessThan(a.last!, 0.8 * a.first!, "the fp32 run learns")
        XCTAssertLessThan(b.last!, 0.8 * b.first!, "the bf16 run learns")
        XCTAssertNotEqual(fp32.parameters, bf16.parameters, "bf16 matmuls changed the trajectory (they ran)")
    }
}
