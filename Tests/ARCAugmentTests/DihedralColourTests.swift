// docs/SPEC.md §3: dihedral group laws, numpy semantics of the 8 transforms, colour maps fixing 0,
// augmentation apply/undo and puzzle names.
import ARCAugment
import ARCCore
import XCTest

final class DihedralColourTests: XCTestCase {
    func testInverseTableUndoesEveryTransform() {
        var rng = Xoshiro256StarStar(seed: 1)
        for (rows, cols) in [(1, 1), (1, 7), (3, 5), (4, 4), (30, 29)] {
            let grid = TestSupport.randomGrid(rows: rows, cols: cols, using: &rng)
            for id in 0..<8 {
                let transformed = Dihedral.apply(id, to: grid)
                XCTAssertEqual(Dihedral.apply(Dihedral.inverse[id], to: transformed), grid, "id \(id) on \(rows)x\(cols)")
                XCTAssertEqual(Dihedral.undo(id, on: transformed), grid)
                let shape = Dihedral.shape(id, rows: rows, cols: cols)
                XCTAssertEqual([transformed.rows, transformed.cols], [shape.rows, shape.cols])
            }
        }
        XCTAssertEqual(Dihedral.inverse, [0, 3, 2, 1, 4, 5, 6, 7])
    }

    func testCompositionIsTheDihedralGroup() {
        let table = Dihedral.composition
        for a in 0..<8 {
            XCTAssertEqual(Set(table[a]).count, 8, "row \(a) is not a permutation")
            XCTAssertEqual(table[a][0], a)
            XCTAssertEqual(table[0][a], a)
            XCTAssertEqual(table[a][Dihedral.inverse[a]], 0, "inverse of \(a)")
            XCTAssertEqual(table[Dihedral.inverse[a]][a], 0)
            for b in 0..<8 {
                for c in 0..<8 {
                    XCTAssertEqual(table[table[a][b]][c], table[a][table[b][c]], "associativity \(a) \(b) \(c)")
                }
            }
        }
        // Rotations: rot90 twice is rot180, three times rot270; reflections are involutions.
        XCTAssertEqual(Dihedral.compose(1, then: 1), 2)
        XCTAssertEqual(Dihedral.compose(2, then: 1), 3)
        for reflection in 4..<8 { XCTAssertEqual(Dihedral.compose(reflection, then: reflection), 0) }
        // Not commutative (D4 is not abelian).
        XCTAssertNotEqual(Dihedral.compose(1, then: 4), Dihedral.compose(4, then: 1))
        // Composition agrees with applying on grids of every shape kind.
        var rng = Xoshiro256StarStar(seed: 2)
        let grid = TestSupport.randomGrid(rows: 3, cols: 7, using: &rng)
        for a in 0..<8 {
            for b in 0..<8 {
                XCTAssertEqual(Dihedral.apply(b, to: Dihedral.apply(a, to: grid)), Dihedral.apply(Dihedral.compose(a, then: b), to: grid))
            }
        }
    }

    func testTransformsMatchNumpy() throws {
        var rng = Xoshiro256StarStar(seed: 3)
        let grid = TestSupport.randomGrid(rows: 3, cols: 5, using: &rng)
        let script = """
        import sys, json, numpy as np
        a = np.array(json.loads(sys.argv[1]))
        t = [a, np.rot90(a, 1), np.rot90(a, 2), np.rot90(a, 3), np.fliplr(a), np.flipud(a), a.T, np.fliplr(np.rot90(a, 1))]
        print(json.dumps([x.tolist() for x in t]))
        """
        let out = try TestSupport.python(script, [grid.jsonText])
        guard case let .array(items) = try JSONParser.parse(Data(out.utf8)) else { return XCTFail("bad python output \(out)") }
        XCTAssertEqual(items.count, 8)
        for (id, item) in items.enumerated() {
            XCTAssertEqual(Dihedral.apply(id, to: grid), try Grid(json: item), "transform \(id) differs from numpy")
        }
    }

    func testColourMapsFixZeroAndPermute() {
        var rng = Xoshiro256StarStar(seed: 4)
        var seenAt1 = Set<UInt8>()
        for _ in 0..<2000 {
            let m = ColourMap.random(using: &rng)
            XCTAssertEqual(m.map[0], 0)
            XCTAssertEqual(Set(m.map), Set(0...9))
            XCTAssertEqual(m.inverse.inverse, m)
            for c in 0..<10 { XCTAssertEqual(m.inverse.map[Int(m.map[c])], UInt8(c)) }
            XCTAssertEqual(ColourMap(digits: m.digits), m)
            seenAt1.insert(m.map[1])
        }
        XCTAssertEqual(seenAt1, Set(1...9), "colour 1 should be sent to every non-zero colour")
        XCTAssertNil(ColourMap([1, 0, 2, 3, 4, 5, 6, 7, 8, 9]), "a map moving 0 must be rejected")
        XCTAssertNil(ColourMap(digits: "0123456788"))
    }

    func testAugmentationUndoAndNames() {
        var rng = Xoshiro256StarStar(seed: 5)
        let grid = TestSupport.randomGrid(rows: 4, cols: 9, using: &rng)
        for _ in 0..<200 {
            let aug = Augmentation(dihedral: rng.nextInt(below: 8), colours: .random(using: &rng))
            let augmented = aug.apply(to: grid)
            // Spec order: dihedral(map[grid]).
            XCTAssertEqual(augmented, Dihedral.apply(aug.dihedral, to: aug.colours.apply(to: grid)))
            XCTAssertEqual(aug.undo(on: augmented), grid)
            let name = aug.puzzleName(task: "0a1b2c3d")
            let parsed = Augmentation.parse(puzzleName: name)
            XCTAssertEqual(parsed.task, "0a1b2c3d")
            XCTAssertEqual(parsed.augmentation, aug)
            if !aug.isIdentity { XCTAssertTrue(name.hasPrefix("0a1b2c3d_t\(aug.dihedral)_0")) }
        }
        XCTAssertEqual(Augmentation.identity.puzzleName(task: "abc"), "abc")
        XCTAssertEqual(Augmentation.parse(puzzleName: "AboveBelow1").task, "AboveBelow1")
        XCTAssertEqual(Augmentation.parse(puzzleName: "abc-kaggle-evaluation_t3_0987654321").task, "abc-kaggle-evaluation")
    }
}
