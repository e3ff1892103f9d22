// The inputs an output folder must keep clear of (OutputFolder.checkApart): the data folder (an
// output may lie inside it, as the default `<data-dir>/built/<name>` does, but never be or hold
// it) and the folder of every task source read (nothing may be written inside those).
import ARCAugment
import ARCCore
import Foundation

enum ProtectedInputs {
    static func sources(_ labels: [String], dataDirectory: URL) -> [ProtectedInput] {
        var inputs = [ProtectedInput(dataDirectory, "the --data-dir", outputMayBeInside: true)]
        for label in labels {
            // An unknown label is reported when the sources are loaded.
            switch try? DatasetInputs.location(label: label, dataDirectory: dataDirectory) {
            case let .folder(folder, _)?: inputs.append(ProtectedInput(folder, "the source folder of \(label)"))
            case let .kaggle(folder, _)?: inputs.append(ProtectedInput(folder, "the source folder of \(label)"))
            case nil: break
            }
        }
        return inputs
    }
}
