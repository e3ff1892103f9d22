// `arc-pipeline fetch`: download, verify and unpack ARC datasets into arc-data/<source>/.
import ARCCore
import ARCFetch
import ArgumentParser
import Foundation

struct FetchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "fetch",
        abstract: "Download, verify and unpack ARC datasets.",
        discussion: """
        Sources: \(DataSource.all.map { "\n  \($0.name): \($0.summary)" }.joined())

        Offline machines point --mirror (or ARC_MIRROR) at a folder or URL that holds the archives \
        under these names: \(DataSource.all.map(\.archiveName).joined(separator: ", ")), and a \
        SHA256SUMS listing their digests. A mirror archive whose digest is unknown is refused unless \
        --sha256 pins it or --insecure accepts it unverified.

        Example: arc-pipeline fetch --mirror ../shared/arc-mirror arc-agi-1 arc-agi-2 concept-arc kaggle
        """)

    @Argument(help: "Sources to fetch (default: arc-agi-1 arc-agi-2 concept-arc).")
    var sources: [String] = []

    @OptionGroup var data: DataOptions

    @Option(help: "Base URL or folder replacing the default download locations (env ARC_MIRROR).")
    var mirror: String?

    @Option(help: "For the kaggle source: the competition zip (path or URL) or its unpacked folder.")
    var kaggleSource: String?

    @Flag(help: "Download and unpack again even when up to date.")
    var force = false

    @Option(help: "Pin the archive's SHA-256 digest (with one source only).")
    var sha256: String?

    @Flag(help: "Accept a mirror archive that no SHA256SUMS line or --sha256 can verify (a loud warning is printed; a wrong digest is still refused).")
    var insecure = false

    @Option(help: "Download attempts before giving up (1...100).")
    var retries = 5

    func validate() throws {
        for s in sources where DataSource.named(s) == nil {
            throw ValidationError("unknown source '\(s)' (known: \(DataSource.all.map(\.name).joined(separator: ", ")))")
        }
        if let d = sha256 {
            if !Fetcher.isSHA256Hex(d) { throw ValidationError("--sha256 needs 64 hex digits (0-9, a-f), got '\(d)'") }
            if sources.count != 1 { throw ValidationError("--sha256 pins one archive: name exactly one source") }
            if insecure { throw ValidationError("--sha256 and --insecure contradict each other: pin the digest or accept it unverified, not both") }
        }
        try OptionRanges.check("--retries", retries, in: OptionRanges.retries)
        if data.dataDir.trimmingCharacters(in: .whitespaces).isEmpty {
            throw ValidationError("--data-dir is empty (give the folder for the fetched data, default arc-data)")
        }
        if let m = mirror { _ = try checkedLocation(m, option: "--mirror") }
        if let k = kaggleSource, k.trimmingCharacters(in: .whitespaces).isEmpty {
            throw ValidationError("--kaggle-source is empty (give the competition zip or its unpacked folder)")
        }
    }

    /// The mirror as a base URL, or a ValidationError naming `option`.
    private func checkedLocation(_ value: String, option: String) throws -> URL {
        do { return try Fetcher.baseURL(value, option: option) } catch let error as FetchError {
            throw ValidationError(error.description)
        }
    }

    func run() throws {
        let names = sources.isEmpty ? ["arc-agi-1", "arc-agi-2", "concept-arc"] : sources
        let environmentMirror = ProcessInfo.processInfo.environment["ARC_MIRROR"].flatMap { $0.isEmpty ? nil : $0 }
        let mirrorBase = mirror ?? environmentMirror
        let mirrorOption = mirror != nil ? "--mirror" : "ARC_MIRROR"
        var options = DownloadOptions()
        options.maxAttempts = retries
        let fetcher = Fetcher(dataDirectory: data.dataDirectory, downloader: Downloader(options: options))
        fetcher.force = force
        try fetcher.checkDataDirectory()
        // Every source is planned (locations and digests checked) before anything is downloaded.
        var plans: [FetchPlan] = []
        for name in names {
            guard let source = DataSource.named(name) else { throw FetchError.unknownSource(name) }
            plans.append(try fetcher.plan(source, mirror: mirrorBase, kaggleSource: kaggleSource, pinnedSHA256: sha256,
                                          insecure: insecure, mirrorOption: mirrorOption))
        }
        var rows: [(String, FetchManifest, Bool)] = []
        for plan in plans {
            let name = plan.source.name
            switch try fetcher.fetch(plan) {
            case let .upToDate(m):
                print("\(name): up to date (\(m.url), fetched \(m.fetchedAt))")
                rows.append((name, m, false))
            case let .installed(m):
                rows.append((name, m, true))
            }
        }
        print(Self.summaryTable(rows, dataDirectory: data.dataDirectory))
    }

    static func summaryTable(_ rows: [(String, FetchManifest, Bool)], dataDirectory: URL) -> String {
        var lines = ["source        split        tasks  test inputs  solutions  sha256        status"]
        for (name, m, installed) in rows {
            for s in m.splits {
                lines.append(
                    name.padding(toLength: 14, withPad: " ", startingAt: 0)
                    + s.name.padding(toLength: 13, withPad: " ", startingAt: 0)
                    + String(repeating: " ", count: max(0, 5 - String(s.tasks).count)) + "\(s.tasks)"
                    + String(repeating: " ", count: max(0, 13 - String(s.testInputs).count)) + "\(s.testInputs)"
                    + "  " + (s.withSolutions ? "yes" : "no ").padding(toLength: 9, withPad: " ", startingAt: 0)
                    + "  " + String(m.sha256.prefix(12)).padding(toLength: 12, withPad: " ", startingAt: 0)
                    + "  " + (installed ? "installed" : "up to date"))
            }
        }
        lines.append("data in \(dataDirectory.path)")
        return lines.joined(separator: "\n")
    }
}
