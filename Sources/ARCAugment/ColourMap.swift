// Colour permutations (docs/SPEC.md §3): map[0] = 0, map[1..9] a permutation of 1..9.
// A grid is augmented as dihedral(map[grid]) and undone as invmap[inverse_dihedral(grid)].
import ARCCore

public struct ColourMap: Hashable, Sendable {
    /// map[c] is the new colour of colour c.
    public let map: [UInt8]

    public static let identity = ColourMap(unchecked: Array(0...9))

    init(unchecked map: [UInt8]) { self.map = map }

    /// Validates that `map` fixes 0 and permutes 1..9.
    public init?(_ map: [UInt8]) {
        guard map.count == 10, map[0] == 0, Set(map) == Set(0...9) else { return nil }
        self.map = map
    }

    /// Parses the 10-digit form used in puzzle names, e.g. `0381249765`.
    public init?(digits: some StringProtocol) {
        guard digits.count == 10 else { return nil }
        var m = [UInt8]()
        for ch in digits {
            guard ch.isASCII, let v = ch.wholeNumberValue else { return nil }
            m.append(UInt8(v))
        }
        self.init(m)
    }

    public var digits: String { map.map(String.init).joined() }

    public var inverse: ColourMap {
        var inv = [UInt8](repeating: 0, count: 10)
        for (c, m) in map.enumerated() { inv[Int(m)] = UInt8(c) }
        return ColourMap(unchecked: inv)
    }

    public var isIdentity: Bool { map == ColourMap.identity.map }

    public func apply(to grid: Grid) -> Grid {
        Grid(rows: grid.rows, cols: grid.cols, cells: grid.cells.map { map[Int($0)] })
    }

    /// A random map fixing 0, drawn from `rng` (Fisher-Yates with `nextInt(below:)`, so the
    /// sequence of maps for a seed does not depend on the standard library's shuffle).
    public static func random(using rng: inout some RandomNumberGenerator) -> ColourMap {
        var rest: [UInt8] = Array(1...9)
        rest.fisherYatesShuffle(using: &rng)
        return ColourMap(unchecked: [0] + rest)
    }
}

/// One augmentation: a dihedral transform after a colour map (docs/SPEC.md §3), and its name suffix.
public struct Augmentation: Hashable, Sendable {
    public let dihedral: Int
    public let colours: ColourMap

    public init(dihedral: Int, colours: ColourMap) {
        // Every caller passes 0..<8: the planner draws below Dihedral.count, parse(puzzleName:) range-checks the name's digit.
        precondition((0..<8).contains(dihedral))
        self.dihedral = dihedral
        self.colours = colours
    }

    public static let identity = Augmentation(dihedral: 0, colours: .identity)
    public var isIdentity: Bool { dihedral == 0 && colours.isIdentity }

    public func apply(to grid: Grid) -> Grid { Dihedral.apply(dihedral, colours: colours, to: grid) }
    public func undo(on grid: Grid) -> Grid { colours.inverse.apply(to: Dihedral.undo(dihedral, on: grid)) }

    /// `<task>_t<tid>_<map as 10 digits>`; the identity keeps the bare task id.
    public func puzzleName(task: String) -> String {
        isIdentity ? task : "\(task)_t\(dihedral)_\(colours.digits)"
    }

    /// True when `name` ends in a valid augmentation suffix (`_t<0-7>_<colour map>`): `parse` reads it as
    /// another task's augmented puzzle, so it cannot be a task id (DatasetInputs.checkTaskIds).
    public static func isAugmentedName(_ name: String) -> Bool { parse(puzzleName: name).task != name }

    /// Splits a puzzle name into (task id, augmentation). Names without a valid suffix are originals.
    public static func parse(puzzleName name: String) -> (task: String, augmentation: Augmentation) {
        let parts = name.split(separator: "_", omittingEmptySubsequences: false)
        if parts.count >= 3, let last = parts.last, let colours = ColourMap(digits: last) {
            let t = parts[parts.count - 2]
            if t.count == 2, t.first == "t", let id = t.last?.wholeNumberValue, (0..<8).contains(id) {
                return (parts.dropLast(2).joined(separator: "_"), Augmentation(dihedral: id, colours: colours))
            }
        }
        return (name, .identity)
    }
}
