// Undoing augmentations (docs/SPEC.md §3) as voting needs it: the 8 dihedral ids against numpy results,
// undo(apply(g)) == g for all ids x random colour maps x shapes, and puzzle-name round trips.
import ARCAugment
import ARCCore
import XCTest

final class AugmentationUndoTests: XCTestCase {
    /// numpy results for a = [[1,2,3],[4,5,6]], computed with numpy 2.4 (np.rot90(a, k), np.fliplr,
    /// np.flipud, a.T, np.fliplr(np.rot90(a))) and checked by hand.
    static let numpyOf2x3: [[[Int]]] = [
        [[1, 2, 3], [4, 5, 6]],   // 0 identity
        [[3, 6], [2, 5], [1, 4]], // 1 rot90, counter-clockwise
        [[6, 5, 4], [3, 2, 1]],   // 2 rot180
        [[4, 1], [5, 2], [6, 3]], // 3 rot270
        [[3, 2, 1], [6, 5, 4]],   // 4 fliplr
        [[4, 5, 6], [1, 2, 3]],   // 5 flipud
        [[1, 4], [2, 5], [3, 6]], // 6 transpose
        [[6, 3], [5, 2], [4, 1]], // 7 fliplr(rot90)
    ]

    func testEachDihedralIdMatchesNumpyOnA2x3Grid() {
        let a = grid([[1, 2, 3], [4, 5, 6]])
        for id in 0..<8 {
            XCTAssertEqual(Dihedral.apply(id, to: a).nestedRows, Self.numpyOf2x3[id], "dihedral id \(id)")
            XCTAssertEqual(Dihedral.undo(id, on: grid(Self.numpyOf2x3[id])), a, "undo of dihedral id \(id)")
        }
    }

    // An independent statement of the numpy definitions on nested arrays, built from three primitives.
    static func transpose(_ m: [[Int]]) -> [[Int]] { (0..<m[0].count).map { j in m.map { $0[j] } } }
    static func fliplr(_ m: [[Int]]) -> [[Int]] { m.map { Array($0.reversed()) } }
    static func flipud(_ m: [[Int]]) -> [[Int]] { Array(m.reversed()) }
    /// np.rot90(m) == transpose(fliplr(m)) (counter-clockwise).
    static func rot90(_ m: [[Int]]) -> [[Int]] { transpose(fliplr(m)) }
    static func numpyDihedral(_ id: Int, _ m: [[Int]]) -> [[Int]] {
        switch id {
        case 0: return m
        case 1: return rot90(m)
        case 2: return rot90(rot90(m))
        case 3: return rot90(rot90(rot90(m)))
        case 4: return fliplr(m)
        case 5: return flipud(m)
        case 6: return transpose(m)
        default: return fliplr(rot90(m))
        }
    }

    func testAllTransformsTimesRandomColourMapsTimesShapesRoundTrip() {
        var rng = SplitMix64(seed: 2024)
        let shapes = [(1, 1), (1, 5), (5, 1), (2, 3), (3, 2), (4, 4), (7, 13), (30, 1), (30, 30), (29, 17)]
        var checked = 0
        for (rows, cols) in shapes {
            for id in 0..<8 {
                for _ in 0..<4 {
                    let g = randomGrid(rows: rows, cols: cols, using: &rng)
                    let colours = ColourMap.random(using: &rng)
                    let aug = Augmentation(dihedral: id, colours: colours)
                    let augmented = aug.apply(to: g)
                    // apply = dihedral(map[grid]) with numpy semantics.
                    let mapped = g.nestedRows.map { $0.map { Int(colours.map[$0]) } }
                    XCTAssertEqual(augmented.nestedRows, Self.numpyDihedral(id, mapped), "apply id \(id) shape \(rows)x\(cols)")
                    XCTAssertEqual(aug.undo(on: augmented), g, "undo(apply) id \(id) shape \(rows)x\(cols) map \(colours.digits)")
                    // And through the puzzle name, as voting does it.
                    let (task, parsed) = Augmentation.parse(puzzleName: aug.puzzleName(task: "0a1b2c3d"))
                    XCTAssertEqual(task, "0a1b2c3d")
                    XCTAssertEqual(parsed.undo(on: augmented), g)
                    checked += 1
                }
            }
        }
        XCTAssertEqual(checked, shapes.count * 8 * 4)
    }

    func testColourMapUndoAndInverseDihedralIds() {
        // map 0->0, 1->3, 2->8, ...: a grid [[1,2]] becomes [[3,8]] and back.
        let colours = ColourMap(digits: "0381249765")!
        let aug = Augmentation(dihedral: 0, colours: colours)
        XCTAssertEqual(aug.apply(to: grid([[1, 2, 0]])).nestedRows, [[3, 8, 0]])
        XCTAssertEqual(aug.undo(on: grid([[3, 8, 0]])).nestedRows, [[1, 2, 0]])
        XCTAssertEqual(Dihedral.inverse, [0, 3, 2, 1, 4, 5, 6, 7])
        let a = grid([[1, 2, 3], [4, 5, 6]])
        for id in 0..<8 { XCTAssertEqual(Dihedral.apply(Dihedral.inverse[id], to: Dihedral.apply(id, to: a)), a, "id \(id)") }
    }

    func testPuzzleNamesParseToTaskAndAugmentation() {
        XCTAssertEqual(Augmentation.parse(puzzleName: "007bbfb7").task, "007bbfb7")
        XCTAssertTrue(Augmentation.parse(puzzleName: "007bbfb7").augmentation.isIdentity)
        let p = Augmentation.parse(puzzleName: "007bbfb7_t7_0381249765")
        XCTAssertEqual(p.task, "007bbfb7")
        XCTAssertEqual(p.augmentation, Augmentation(dihedral: 7, colours: ColourMap(digits: "0381249765")!))
        // Not an augmentation suffix: kept as a bare name.
        XCTAssertEqual(Augmentation.parse(puzzleName: "AboveBelow_t9_0381249765").task, "AboveBelow_t9_0381249765")
    }
}
