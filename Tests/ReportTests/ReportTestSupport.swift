// Shared helpers for the Report tests: a seeded RNG, a crafted run folder (tasks, predictions voted by the
// Voting module, submission, evaluation.json, config.json, metrics.jsonl), and a small reader of the
// report's HTML that turns each grid SVG back into a Grid so tests check what is drawn, cell by cell.
import ARCCore
import Foundation
import Voting
import XCTest

/// SplitMix64: a small seeded generator so every test is reproducible.
struct SplitMix64: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

func randomGrid(rows: Int, cols: Int, using rng: inout SplitMix64) -> Grid {
    Grid(rows: rows, cols: cols, cells: (0..<(rows * cols)).map { _ in UInt8.random(in: 0...9, using: &rng) })
}

/// `grid` with the cell at `index` (row-major) recoloured.
func changed(_ grid: Grid, at index: Int) -> Grid {
    var cells = grid.cells
    cells[index % cells.count] = (cells[index % cells.count] + 1) % 10
    return Grid(rows: grid.rows, cols: grid.cols, cells: cells)
}

/// A fresh temporary folder, removed when the test ends.
func temporaryFolder(_ testCase: XCTestCase) throws -> URL {
    let url = FileManager.default.temporaryDirectory.appendingPathComponent("report-tests-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    testCase.addTeardownBlock { try? FileManager.default.removeItem(at: url) }
    return url
}

/// The JSON text of a task file `{"train": [...], "test": [...]}`.
func taskJSON(_ task: ARCTask, includeTestOutputs: Bool = true) -> String {
    func pair(_ p: Pair, output: Bool) -> String {
        "{\"input\":\(p.input.jsonText)" + (output && p.output != nil ? ",\"output\":\(p.output!.jsonText)" : "") + "}"
    }
    return "{\"train\":[" + task.train.map { pair($0, output: true) }.joined(separator: ",") + "],\"test\":["
        + task.test.map { pair($0, output: includeTestOutputs) }.joined(separator: ",") + "]}"
}

/// What the crafted run folder expects of each test input.
struct ExpectedTest {
    var status: String  // solved / wrong / no-candidate
    var candidates: Int
}

/// A crafted run: four tasks covering every case of a test input.
/// - t1solved (2 tests): test 0 truth wins (attempt 1); test 1 truth ranked 4th (wrong, truth among candidates)
/// - t2second (1 test): truth is the 2nd candidate (solved by attempt 2)
/// - t3none (3 tests): no prediction; only undecodable predictions; a wrong-shaped single candidate
/// - t4many (1 test): solved, 9 distinct candidates (next candidates capped at 5)
struct CraftedRun {
    var tasks: TaskSet
    var predictions: [Prediction]
    var expected: [String: [ExpectedTest]]
    var folder: URL
    var submissionDirectory: URL { folder.appendingPathComponent("submission") }
    var runDirectory: URL { folder.appendingPathComponent("run") }
    var tasksDirectory: URL { folder.appendingPathComponent("tasks") }

    static func make(in folder: URL, seed: UInt64 = 11) throws -> CraftedRun {
        var rng = SplitMix64(seed: seed)
        func pair(_ r: Int, _ c: Int, _ orr: Int, _ oc: Int) -> Pair {
            Pair(input: randomGrid(rows: r, cols: c, using: &rng), output: randomGrid(rows: orr, cols: oc, using: &rng))
        }
        let tasks = TaskSet(name: "tasks", tasks: [
            ARCTask(id: "t1solved", train: [pair(3, 3, 3, 3), pair(2, 4, 2, 4)], test: [pair(3, 3, 3, 3), pair(4, 5, 5, 4)]),
            ARCTask(id: "t2second", train: [pair(5, 5, 1, 1)], test: [pair(5, 5, 1, 2)]),
            ARCTask(id: "t3none", train: [pair(2, 2, 4, 4), pair(1, 1, 2, 2), pair(30, 30, 30, 30)],
                    test: [pair(2, 2, 4, 4), pair(3, 3, 6, 6), pair(2, 3, 4, 6)]),
            ARCTask(id: "t4many", train: [pair(6, 7, 6, 7)], test: [pair(6, 7, 6, 7)]),
        ])
        var predictions = [Prediction]()
        func vote(_ task: String, _ k: Int, _ grid: Grid?, _ count: Int, q: Float) {
            for i in 0..<count {
                predictions.append(Prediction(puzzleName: task, testIndex: k, grid: grid, qHalt: q + Float(i % 3) * 0.01))
            }
        }
        let t1 = tasks.tasks[0], t2 = tasks.tasks[1], t4 = tasks.tasks[3]
        vote("t1solved", 0, t1.test[0].output!, 7, q: 2)
        vote("t1solved", 0, changed(t1.test[0].output!, at: 4), 3, q: 1)
        vote("t1solved", 0, nil, 2, q: 0)
        for (n, votes) in [9, 8, 7].enumerated() { vote("t1solved", 1, changed(t1.test[1].output!, at: n), votes, q: 0.5) }
        vote("t1solved", 1, t1.test[1].output!, 6, q: 0.5)
        vote("t1solved", 1, changed(t1.test[1].output!, at: 7), 1, q: -1)
        vote("t2second", 0, Grid(rows: 1, cols: 2, cells: [9, 9]) == t2.test[0].output! ? Grid(rows: 1, cols: 2, cells: [8, 8]) : Grid(rows: 1, cols: 2, cells: [9, 9]), 5, q: 1)
        vote("t2second", 0, t2.test[0].output!, 4, q: 1)
        vote("t3none", 1, nil, 10, q: 0)
        vote("t3none", 2, Grid(rows: 2, cols: 2, fill: 3), 4, q: -2)
        vote("t4many", 0, t4.test[0].output!, 20, q: 3)
        for n in 0..<8 { vote("t4many", 0, changed(t4.test[0].output!, at: n * 5), 8 - n, q: 0) }
        let expected: [String: [ExpectedTest]] = [
            "t1solved": [ExpectedTest(status: "solved", candidates: 2), ExpectedTest(status: "wrong", candidates: 5)],
            "t2second": [ExpectedTest(status: "solved", candidates: 2)],
            "t3none": [ExpectedTest(status: "no-candidate", candidates: 0), ExpectedTest(status: "no-candidate", candidates: 0),
                       ExpectedTest(status: "wrong", candidates: 1)],
            "t4many": [ExpectedTest(status: "solved", candidates: 9)],
        ]
        let run = CraftedRun(tasks: tasks, predictions: predictions, expected: expected, folder: folder)
        try run.write()
        return run
    }

    /// Writes tasks/<id>.json, submission/{submission.json, predictions.jsonl, evaluation.json}, run/{config.json, metrics.jsonl}.
    func write() throws {
        let fm = FileManager.default
        for d in [submissionDirectory, runDirectory, tasksDirectory] { try fm.createDirectory(at: d, withIntermediateDirectories: true) }
        for task in tasks.tasks {
            try AtomicFile.write(taskJSON(task), to: tasksDirectory.appendingPathComponent("\(task.id).json"))
        }
        let outcome = VoteOutcome(predictions: predictions, challenges: tasks)
        try outcome.write(submissionURL: submissionDirectory.appendingPathComponent("submission.json"),
                          predictionsURL: submissionDirectory.appendingPathComponent("predictions.jsonl"), challenges: tasks)
        try AtomicFile.write("""
            {"challenges": {"format": "directory", "path": "\(tasksDirectory.path)", "split": null}, "run": "\(runDirectory.path)", "scores": null}
            """, to: submissionDirectory.appendingPathComponent("evaluation.json"))
        try AtomicFile.write("""
            {"preset": "cpu", "hidden_size": 64, "num_heads": 2, "H_cycles": 2, "L_cycles": 2, "lr": 0.0001,
             "steps": 40, "train_seconds": 125.5, "seed": 3, "extra_key": {"nested": [1, 2]}}
            """, to: runDirectory.appendingPathComponent("config.json"))
        var metrics = ""
        for step in stride(from: 10, through: 40, by: 10) {
            let s = Double(step)
            metrics += "{\"step\": \(step), \"lm_loss\": \(2.0 - s / 40), \"exact_accuracy\": \(s / 80), \"accuracy\": \(0.5 + s / 100)"
            if step != 20 { metrics += ", \"q_halt_accuracy\": \(0.4 + s / 100)" }  // a key missing on one line
            metrics += ", \"steps\": \(8.0 - s / 10), \"elapsed_seconds\": \(s * 3)}\n"
        }
        try AtomicFile.write(metrics, to: runDirectory.appendingPathComponent("metrics.jsonl"))
    }
}

// MARK: Reading the report's HTML back

/// One grid SVG of the page, decoded back into cells.
struct DrawnGrid {
    var role: String
    var grid: Grid
    /// `data-diff`: the number of differing cells, "shape", or nil when no truth was compared.
    var diff: String?
}

enum PageReader {
    /// The first index of `needle` in `bytes` at or after `from` (byte search: Foundation's
    /// `range(of:)` on large strings is slow on Linux).
    static func find(_ needle: [UInt8], in bytes: [UInt8], from: Int) -> Int? {
        guard !needle.isEmpty, bytes.count >= needle.count else { return nil }
        var i = from
        let last = bytes.count - needle.count
        while i <= last {
            if bytes[i] == needle[0] {
                var k = 1
                while k < needle.count && bytes[i + k] == needle[k] { k += 1 }
                if k == needle.count { return i }
            }
            i += 1
        }
        return nil
    }

    /// The value of attribute `name` in the tag text `tag`.
    static func attribute(_ name: String, in tag: String) -> String? {
        let bytes = Array(tag.utf8)
        guard let r = find(Array(" \(name)=\"".utf8), in: bytes, from: 0) else { return nil }
        let start = r + name.utf8.count + 3
        guard let end = find([UInt8(ascii: "\"")], in: bytes, from: start) else { return nil }
        return String(decoding: bytes[start..<end], as: UTF8.self)
    }

    /// Every substring from `open` up to and including the next `close`.
    static func elements(_ html: String, open: String, close: String) -> [String] {
        let bytes = Array(html.utf8), o = Array(open.utf8), c = Array(close.utf8)
        var out = [String]()
        var i = 0
        while let start = find(o, in: bytes, from: i) {
            guard let end = find(c, in: bytes, from: start + o.count) else { break }
            out.append(String(decoding: bytes[start..<(end + c.count)], as: UTF8.self))
            i = end + c.count
        }
        return out
    }

    /// The opening tag of an element's text.
    static func openingTag(_ element: String) -> String {
        String(element.prefix { $0 != ">" })
    }

    /// The task sections (`<section class="task st-...">`), keyed by `data-task`, in page order.
    static func taskSections(_ html: String) -> [(id: String, status: String, body: String)] {
        elements(html, open: "<section class=\"task ", close: "</section>").map { s in
            let tag = openingTag(s)
            let cls = attribute("class", in: " " + tag.dropFirst(8)) ?? ""
            return (attribute("data-task", in: tag) ?? "?", String(cls.split(separator: " ").last ?? ""), s)
        }
    }

    /// Decodes every grid SVG in `html`: the background rectangle and the runs "M x y h w v1 h-w z"
    /// of each colour path give back every cell; fails the test on anything unexpected.
    static func grids(_ html: String, file: StaticString = #filePath, line: UInt = #line) -> [DrawnGrid] {
        var out = [DrawnGrid]()
        for svg in elements(html, open: "<svg class=\"grid\"", close: "</svg>") {
            let tag = openingTag(svg)
            guard let role = attribute("data-role", in: tag), let rows = attribute("data-rows", in: tag).flatMap(Int.init),
                  let cols = attribute("data-cols", in: tag).flatMap(Int.init) else {
                XCTFail("grid svg without role/rows/cols: \(tag)", file: file, line: line)
                continue
            }
            guard let bg = elements(svg, open: "<rect class=\"c", close: "\"").first,
                  let background = UInt8(String(bg.dropFirst(14).prefix(1))) else {
                XCTFail("grid svg without background: \(tag)", file: file, line: line)
                continue
            }
            var cells = [UInt8](repeating: background, count: rows * cols)
            var painted = [Bool](repeating: false, count: rows * cols)
            for path in elements(svg, open: "<path class=\"c", close: "/>") {
                guard let colour = UInt8(String(path.dropFirst(14).prefix(1))), let d = attribute("d", in: path) else {
                    XCTFail("bad colour path \(path)", file: file, line: line)
                    continue
                }
                // "M3 0h4v1h-4z" repeated.
                for run in d.split(separator: "z") {
                    let parts = run.dropFirst().split(whereSeparator: { $0 == " " || $0 == "h" || $0 == "v" })
                    guard parts.count == 5, let x = Int(parts[0]), let y = Int(parts[1]), let w = Int(parts[2]), parts[3] == "1",
                          parts[4] == "-\(w)", w >= 1, x >= 0, y >= 0, y < rows, x + w <= cols else {
                        XCTFail("unexpected run \"\(run)\" in \(role)", file: file, line: line)
                        continue
                    }
                    for c in x..<(x + w) {
                        XCTAssertFalse(painted[y * cols + c], "cell painted twice in \(role)", file: file, line: line)
                        painted[y * cols + c] = true
                        cells[y * cols + c] = colour
                    }
                }
            }
            out.append(DrawnGrid(role: role, grid: Grid(rows: rows, cols: cols, cells: cells), diff: attribute("data-diff", in: tag)))
        }
        return out
    }

    /// The text of the element carrying `data-metric="name"`.
    static func metric(_ name: String, in html: String) -> String? {
        elements(html, open: "data-metric=\"\(name)\">", close: "<").first.map {
            String($0.dropFirst("data-metric=\"\(name)\">".count).dropLast())
        }
    }
}
