// docs/SPEC.md §2: encoding with the EOS border and the crop decoder, for every size 1..30 at random
// offsets, plus a cross-check against the reference's numpy encoding.
import ARCAugment
import ARCCore
import XCTest

final class SequenceCodecTests: XCTestCase {
    /// The spec's layout, cell by cell, as an independent oracle.
    func expectedToken(_ grid: Grid, _ r0: Int, _ c0: Int, _ r: Int, _ c: Int, canvas: Int) -> UInt8 {
        let inRows = r >= r0 && r < r0 + grid.rows, inCols = c >= c0 && c < c0 + grid.cols
        if inRows && inCols { return grid[r - r0, c - c0] + 2 }
        if r == r0 + grid.rows && inCols { return 1 }   // EOS row under the grid
        if c == c0 + grid.cols && inRows { return 1 }   // EOS column right of the grid
        return 0                                        // PAD, the corner included
    }

    func testEveryShapeRoundTripsAtRandomOffsets() {
        var rng = Xoshiro256StarStar(seed: 10)
        let canvas = 30
        for rows in 1...30 {
            for cols in 1...30 {
                let grid = TestSupport.randomGrid(rows: rows, cols: cols, using: &rng)
                let limits = SequenceCodec.maximumOffsets(rows: rows, cols: cols, canvas: canvas)
                let offsets = [(0, 0), (limits.row, limits.col), (rng.nextInt(in: 0...limits.row), rng.nextInt(in: 0...limits.col))]
                for (r0, c0) in offsets {
                    let tokens = SequenceCodec.encode(grid: grid, canvas: canvas, rowOffset: r0, colOffset: c0)
                    XCTAssertEqual(tokens.count, 900)
                    var mismatches = 0
                    for r in 0..<canvas {
                        for c in 0..<canvas where tokens[r * canvas + c] != expectedToken(grid, r0, c0, r, c, canvas: canvas) { mismatches += 1 }
                    }
                    XCTAssertEqual(mismatches, 0, "\(rows)x\(cols) at (\(r0), \(c0))")
                    XCTAssertEqual(SequenceCodec.decode(tokens: tokens, canvas: canvas, rowOffset: r0, colOffset: c0), grid)
                    XCTAssertEqual(SequenceCodec.decodeLocated(tokens: tokens, canvas: canvas), grid)
                    XCTAssertTrue(SequenceCodec.locate(tokens: tokens, canvas: canvas)! == (r0, c0))
                    if r0 == 0 && c0 == 0 {
                        XCTAssertEqual(SequenceCodec.decode(tokens: tokens, canvas: canvas), grid)
                        XCTAssertEqual(SequenceCodec.decode(tokens: tokens.map { Int32($0) }, canvas: canvas), grid)
                    } else {
                        XCTAssertNil(SequenceCodec.decode(tokens: tokens, canvas: canvas), "no colour at (0,0) must decode to nil")
                    }
                }
            }
        }
    }

    func testAugmentedEncodeEqualsEncodeOfAugmentedGrid() {
        var rng = Xoshiro256StarStar(seed: 13)
        var buffer = [UInt8](repeating: 99, count: 900)
        for _ in 0..<500 {
            let rows = rng.nextInt(in: 1...30), cols = rng.nextInt(in: 1...30)
            let grid = TestSupport.randomGrid(rows: rows, cols: cols, using: &rng)
            let aug = Augmentation(dihedral: rng.nextInt(below: 8), colours: .random(using: &rng))
            let augmented = aug.apply(to: grid)
            let r0 = rng.nextInt(in: 0...(30 - augmented.rows)), c0 = rng.nextInt(in: 0...(30 - augmented.cols))
            buffer.withUnsafeMutableBufferPointer {
                SequenceCodec.encode(tokens: $0, grid: grid, augmentation: aug, rowOffset: r0, colOffset: c0)
            }
            XCTAssertEqual(buffer, SequenceCodec.encode(grid: augmented, rowOffset: r0, colOffset: c0), "\(rows)x\(cols) t\(aug.dihedral)")
        }
    }

    func testSmallCanvas() {
        var rng = Xoshiro256StarStar(seed: 11)
        for rows in 1...8 {
            for cols in 1...8 {
                let grid = TestSupport.randomGrid(rows: rows, cols: cols, using: &rng)
                let tokens = SequenceCodec.encode(grid: grid, canvas: 8, rowOffset: 8 - rows, colOffset: 8 - cols)
                XCTAssertEqual(tokens.count, 64)
                XCTAssertEqual(SequenceCodec.decodeLocated(tokens: tokens, canvas: 8), grid)
            }
        }
    }

    func testCropOfPredictionsFollowsTheSpec() {
        // A "prediction" with ragged rows: the run of leading colours can only shrink, and the
        // largest-area rectangle wins.
        var tokens = [UInt8](repeating: 0, count: 900)
        for c in 0..<5 { tokens[c] = 3 }          // row 0: 5 colours
        for c in 0..<3 { tokens[30 + c] = 4 }     // row 1: 3 colours
        tokens[30 + 3] = 1
        for c in 0..<4 { tokens[60 + c] = 5 }     // row 2: 4 colours, but the run stays 3
        tokens[90] = 1                            // row 3: EOS first
        let grid = SequenceCodec.decode(tokens: tokens)
        XCTAssertEqual(grid?.rows, 3)             // 3x3 = 9 beats 1x5 = 5 and 2x3 = 6
        XCTAssertEqual(grid?.cols, 3)
        XCTAssertEqual(grid?.nestedRows, [[1, 1, 1], [2, 2, 2], [3, 3, 3]])
        // Tokens above 11 are not colours.
        tokens[0] = 12
        XCTAssertNil(SequenceCodec.decode(tokens: tokens.map { Int32($0) }))
        XCTAssertNil(SequenceCodec.decode(tokens: [UInt8](repeating: 1, count: 900)))
    }

    func testMatchesReferenceNumpyEncoding() throws {
        var rng = Xoshiro256StarStar(seed: 12)
        var cases = [(Grid, Int, Int)]()
        for _ in 0..<20 {
            let rows = rng.nextInt(in: 1...30), cols = rng.nextInt(in: 1...30)
            cases.append((TestSupport.randomGrid(rows: rows, cols: cols, using: &rng), rng.nextInt(in: 0...(30 - rows)), rng.nextInt(in: 0...(30 - cols))))
        }
        // The reference's np.pad + EOS logic (dataset/build_arc_dataset.py), re-stated here.
        let script = """
        import sys, json, numpy as np
        out = []
        for g, r0, c0 in json.loads(sys.argv[1]):
            g = np.array(g, dtype=np.uint8); n, m = g.shape
            x = np.pad(g + 2, ((r0, 30 - r0 - n), (c0, 30 - c0 - m)), constant_values=0)
            if r0 + n < 30: x[r0 + n, c0:c0 + m] = 1
            if c0 + m < 30: x[r0:r0 + n, c0 + m] = 1
            out.append(x.flatten().tolist())
        print(json.dumps(out))
        """
        let argument = "[" + cases.map { "[\($0.0.jsonText), \($0.1), \($0.2)]" }.joined(separator: ",") + "]"
        guard case let .array(items) = try JSONParser.parse(Data(try TestSupport.python(script, [argument]).utf8)) else { return XCTFail() }
        for (k, item) in items.enumerated() {
            guard case let .array(values) = item else { return XCTFail() }
            let reference = values.map { v -> UInt8 in if case let .int(i) = v { return UInt8(i) }; return 255 }
            XCTAssertEqual(SequenceCodec.encode(grid: cases[k].0, rowOffset: cases[k].1, colOffset: cases[k].2), reference, "case \(k)")
        }
    }
}
