// Running `arc-pipeline` as one rank of an MPI job (mpirun/mpiexec -np N, N > 1): MPI is started
// only then (module Distributed: Open MPI loaded at run time), and only for the commands that run
// data-parallel (train, evaluate, train-eval); any other command under a multi-rank launcher is
// refused. Rank 0 prints and writes; the other ranks' stdout and stderr go to /dev/null, except
// their error line. A rank that fails prints one line naming itself ("Error: rank 1 of 2: ...")
// and stops every rank (MPI_Abort); checkpoints are written atomically, so the last one stays good.
import ArgumentParser
import Distributed
import Foundation

enum DistributedLaunch {
    static let commands: Set<String> = ["train", "evaluate", "train-eval"]
    /// Where this rank's error line goes (the original stderr, also on silenced ranks).
    nonisolated(unsafe) static var errorOutput: Int32 = STDERR_FILENO

    /// The group of this process: single unless a launcher started several ranks of a data-parallel
    /// command. Exits with one error line when MPI is asked for but cannot be used.
    static func start(arguments: [String]) -> ProcessGroup {
        let environment = ProcessInfo.processInfo.environment
        guard let request = ProcessGroup.request(in: environment), request.size > 1 else { return ProcessGroup.world }
        let verb = arguments.first ?? ""
        if arguments.contains("--help") || arguments.contains("-h") || verb == "help" { return ProcessGroup.world }
        guard commands.contains(verb) else {
            fail("`\(verb.isEmpty ? "arc-pipeline" : verb)` runs in one process; only train, evaluate and train-eval run on several MPI ranks "
                 + "(started as rank \(request.rank) of \(request.size), \(request.variable))")
        }
        let group: ProcessGroup
        do { group = try ProcessGroup.start(environment: environment) } catch { fail("\(error)") }
        if !group.isRoot {
            errorOutput = dup(STDERR_FILENO)
            let null = open("/dev/null", O_WRONLY)
            if null >= 0 {
                dup2(null, STDOUT_FILENO)
                dup2(null, STDERR_FILENO)
                close(null)
            }
        }
        return group
    }

    static func fail(_ message: String) -> Never {
        FileHandle.standardError.write(Data("Error: \(message)\n".utf8))
        exit(1)
    }

    /// Parses and runs the command on this rank, then ends MPI; a failure stops every rank.
    static func run(_ group: ProcessGroup, arguments: [String]) -> Never {
        do {
            var command = try ArcPipeline.parseAsRoot(arguments)
            try command.run()
        } catch {
            let code = ArcPipeline.exitCode(for: error)
            let message = ArcPipeline.fullMessage(for: error)
            fflush(stdout)
            if code == .success {
                if group.isRoot && !message.isEmpty { print(message) }
                group.finish()
                exit(0)
            }
            if !message.isEmpty {
                let text = message.hasPrefix("Error: ") ? "Error: \(group.name): " + message.dropFirst("Error: ".count) : "Error: \(group.name): " + message
                let line = Data((text.split(separator: "\n", omittingEmptySubsequences: false).first.map(String.init) ?? text).utf8 + [10])
                line.withUnsafeBytes { _ = write(errorOutput, $0.baseAddress, $0.count) }
            }
            group.abort(code: code.rawValue)
        }
        fflush(stdout)
        group.finish()
        exit(0)
    }
}
