// The dataset builder's writers for one split folder (docs/DESIGN.md "Formats"): the reference
// layout's set `all` (one canvas x canvas set), or in bucket mode one set `c<side>` per non-empty
// canvas bucket, each with its five streaming arrays; the split's dataset.json sums over the sets.
import ARCCore
import Foundation

extension DatasetBuilder {
    /// One set's five streaming arrays and counters: `<set>__{inputs,labels,puzzle_identifiers,
    /// puzzle_indices,group_indices}.npy`, rows of `rowLength` tokens.
    final class SetWriter {
        let name: String
        let inputs, labels, identifiers, puzzleIndices, groupIndices: NpyWriter
        var summary: SplitSummary

        init(directory: URL, name: String, rowLength: Int) throws {
            self.name = name
            func url(_ field: String) -> URL { directory.appendingPathComponent("\(name)__\(field).npy") }
            inputs = try NpyWriter(url: url("inputs"), dtype: .uint8, rowShape: [rowLength])
            labels = try NpyWriter(url: url("labels"), dtype: .uint8, rowShape: [rowLength])
            identifiers = try NpyWriter(url: url("puzzle_identifiers"), dtype: .int32, rowShape: [])
            puzzleIndices = try NpyWriter(url: url("puzzle_indices"), dtype: .int32, rowShape: [])
            groupIndices = try NpyWriter(url: url("group_indices"), dtype: .int32, rowShape: [])
            try puzzleIndices.append(int32: [0])
            try groupIndices.append(int32: [0])
            summary = SplitSummary(name: name)
        }

        /// Appends consecutive puzzles of the current group: identifiers `firstIdentifier...`,
        /// `perPuzzle` examples each.
        func appendPuzzles(inputBytes: UnsafeRawBufferPointer, labelBytes: UnsafeRawBufferPointer, firstIdentifier: Int, puzzles: Int, perPuzzle: Int) throws {
            try inputs.append(rows: inputBytes)
            try labels.append(rows: labelBytes)
            try identifiers.append(int32: (0..<puzzles).map { Int32(firstIdentifier + $0) })
            let start = summary.examples
            try puzzleIndices.append(int32: (1...puzzles).map { Int32(start + $0 * perPuzzle) })
            summary.examples += puzzles * perPuzzle
            summary.puzzles += puzzles
            guard summary.examples <= Int(Int32.max) else { throw NpyError(file: inputs.url.path, message: "more than 2^31 examples") }
        }

        /// Closes the current group.
        func endGroup() throws {
            summary.groups += 1
            try groupIndices.append(int32: [Int32(summary.puzzles)])
        }

        var bytesSoFar: Int { inputs.bytesWritten + labels.bytesWritten + identifiers.bytesWritten + puzzleIndices.bytesWritten + groupIndices.bytesWritten }

        /// Finishes the five files; returns their bytes.
        func finish() throws -> Int {
            var bytes = 0
            for w in [inputs, labels, identifiers, puzzleIndices, groupIndices] { bytes += try w.finish() }
            return bytes
        }
    }

    /// One split folder: the set `all` (created at once, as the reference always writes it), or
    /// in bucket mode a set per bucket side, created when its first puzzle arrives.
    final class SplitWriter {
        let name: String
        let directory: URL
        /// nil: one set "all" of canvas x canvas tokens; else bucket mode.
        let bucketMode: Bool
        let legacySide: Int
        private var sets = [Int: SetWriter]()

        init(directory: URL, name: String, canvas: Int, bucketMode: Bool) throws {
            self.name = name
            self.directory = directory.appendingPathComponent(name)
            self.bucketMode = bucketMode
            legacySide = canvas
            try FileManager.default.createDirectory(at: self.directory, withIntermediateDirectories: true)
            if !bucketMode { sets[canvas] = try SetWriter(directory: self.directory, name: "all", rowLength: canvas * canvas) }
        }

        private func set(side: Int) throws -> SetWriter {
            if let s = sets[bucketMode ? side : legacySide] { return s }
            let s = try SetWriter(directory: directory, name: CanvasBuckets.setName(side: side), rowLength: side * side)
            sets[side] = s
            return s
        }

        /// Appends consecutive puzzles of the current group to the set of `side` (nothing when the
        /// split gets no pairs of this task).
        func appendPuzzles(side: Int, inputBytes: UnsafeRawBufferPointer, labelBytes: UnsafeRawBufferPointer,
                           firstIdentifier: Int, puzzles: Int, perPuzzle: Int) throws {
            guard perPuzzle > 0, puzzles > 0 else { return }
            try set(side: side).appendPuzzles(inputBytes: inputBytes, labelBytes: labelBytes, firstIdentifier: firstIdentifier,
                                              puzzles: puzzles, perPuzzle: perPuzzle)
        }

        /// Closes the current group (when it got any puzzles).
        func endGroup(side: Int, perPuzzle: Int) throws {
            guard perPuzzle > 0 else { return }
            try set(side: side).endGroup()
        }

        /// The sets in file order: ascending side.
        private var orderedSets: [(side: Int, writer: SetWriter)] { sets.keys.sorted().map { ($0, sets[$0]!) } }

        var summary: SplitSummary {
            var total = SplitSummary(name: name)
            for (_, w) in orderedSets {
                total.groups += w.summary.groups
                total.puzzles += w.summary.puzzles
                total.examples += w.summary.examples
            }
            return total
        }

        var bytesSoFar: Int { sets.values.reduce(0) { $0 + $1.bytesSoFar } }

        /// Finishes every set and writes dataset.json (bucket mode: seq_len 900, the position
        /// board, with `canvas_sides` naming each set's side).
        func finish(numIdentifiers: Int, seqLen: Int) throws -> SplitSummary {
            var total = summary
            guard !sets.isEmpty else { throw ARCDataError(file: directory.path, message: "no examples in this split") }
            var bytes = 0
            for (_, w) in orderedSets { bytes += try w.finish() }
            let mean = total.puzzles > 0 ? Double(total.examples) / Double(total.puzzles) : 0
            var json = "{\"pad_id\": 0, \"ignore_label_id\": 0, \"blank_identifier_id\": 0, \"vocab_size\": \(SequenceCodec.vocabularySize), "
                + "\"seq_len\": \(seqLen), \"num_puzzle_identifiers\": \(numIdentifiers), \"total_groups\": \(total.groups), "
                + "\"mean_puzzle_examples\": \(mean), \"total_puzzles\": \(total.puzzles), "
            if bucketMode {
                let ordered = orderedSets
                json += "\"sets\": [" + ordered.map { "\"\($0.writer.name)\"" }.joined(separator: ", ") + "], "
                json += "\"canvas_sides\": {" + ordered.map { "\"\($0.writer.name)\": \($0.side)" }.joined(separator: ", ") + "}}"
            } else {
                json += "\"sets\": [\"all\"]}"
            }
            try AtomicFile.write(json, to: directory.appendingPathComponent("dataset.json"))
            total.bytes = bytes + json.utf8.count
            return total
        }
    }
}
