// Option groups shared by several subcommands.
import ArgumentParser
import Foundation

struct DataOptions: ParsableArguments {
    @Option(name: .long, help: "Folder where fetched data lives.")
    var dataDir: String = "arc-data"

    var dataDirectory: URL { URL(fileURLWithPath: dataDir, isDirectory: true).standardizedFileURL }
}
