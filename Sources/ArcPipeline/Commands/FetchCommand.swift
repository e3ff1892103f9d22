// `arc-pipeline fetch`: download, verify and unpack ARC datasets (placeholder, being built).
import ArgumentParser

struct FetchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "fetch", abstract: "Download and unpack ARC datasets.")
    func run() throws { throw ValidationError("fetch is not implemented yet") }
}
