// Starting and ending a run under an MPI launcher. The launcher's environment says how many ranks
// were started (Open MPI: OMPI_COMM_WORLD_SIZE/OMPI_COMM_WORLD_RANK; Hydra and Slurm's PMI:
// PMI_SIZE/PMI_RANK; Slurm with PMIx: PMIX_RANK and SLURM_STEP_NUM_TASKS). With one rank (or no
// launcher) nothing of MPI is touched. With more, Open MPI is loaded (ARC_MPI_LIBRARY, default
// libmpi.so.40) and initialized; when it cannot be, the run stops with one line saying why.
import CMPI
import Foundation

extension ProcessGroup {
    /// What the launcher's environment asks for: ranks, this rank, and the variable that said so.
    public struct Request: Equatable, Sendable {
        public var size: Int
        public var rank: Int
        public var variable: String
    }

    /// The request in `environment`, or nil for a plain single process.
    public static func request(in environment: [String: String]) -> Request? {
        let pairs: [(size: String, rank: String, needs: String?)] = [
            ("OMPI_COMM_WORLD_SIZE", "OMPI_COMM_WORLD_RANK", nil),
            ("PMI_SIZE", "PMI_RANK", nil),
            ("SLURM_STEP_NUM_TASKS", "PMIX_RANK", "PMIX_RANK"),
        ]
        for pair in pairs {
            if let needs = pair.needs, environment[needs] == nil { continue }
            guard let text = environment[pair.size], let size = Int(text.trimmingCharacters(in: .whitespaces)) else { continue }
            let rank = environment[pair.rank].flatMap { Int($0.trimmingCharacters(in: .whitespaces)) } ?? 0
            return Request(size: size, rank: rank, variable: "\(pair.size)=\(text)")
        }
        return nil
    }

    /// The library to load: ARC_MPI_LIBRARY, else Open MPI 4's soname.
    public static func libraryPath(in environment: [String: String]) -> String {
        environment["ARC_MPI_LIBRARY"].flatMap { $0.isEmpty ? nil : $0 } ?? "libmpi.so.40"
    }

    /// Sets `world`: a single process without a launcher or with one rank; otherwise loads and
    /// initializes MPI. Throws a one-line `unavailable` error when that fails.
    @discardableResult
    public static func start(environment: [String: String] = ProcessInfo.processInfo.environment) throws -> ProcessGroup {
        guard let request = request(in: environment), request.size > 1 else { return world }
        guard request.size <= 1 << 20, (0..<request.size).contains(request.rank) else {
            throw DistributedError.unavailable("the MPI launcher's environment is inconsistent (\(request.variable), rank \(request.rank))")
        }
        let path = libraryPath(in: environment)
        var message = [CChar](repeating: 0, count: 1024)
        guard arc_mpi_load(path, &message, message.count) == 0 else {
            throw DistributedError.unavailable("started as rank \(request.rank) of \(request.size) (\(request.variable)), but the MPI library "
                + "\(path) cannot be loaded: \(String(cString: message)); install Open MPI 4 (Debian: openmpi-bin, libopenmpi3), "
                + "set ARC_MPI_LIBRARY to its libmpi.so.40, or run one process without mpirun")
        }
        var rank: Int32 = 0, size: Int32 = 0
        let code = arc_mpi_init(&rank, &size)
        guard code == 0 else {
            var text = [CChar](repeating: 0, count: 512)
            arc_mpi_error_string(code, &text, text.count)
            throw DistributedError.unavailable("started as rank \(request.rank) of \(request.size) (\(request.variable)), but MPI_Init failed: \(String(cString: text))")
        }
        world = ProcessGroup(rank: Int(rank), size: Int(size), usesMPI: true)
        return world
    }

    /// The MPI library's version line ("" for a single process).
    public var libraryVersion: String {
        guard usesMPI else { return "" }
        var text = [CChar](repeating: 0, count: 512)
        arc_mpi_library_version(&text, text.count)
        return String(cString: text)
    }

    /// Ends MPI cleanly (every rank, after the command finished).
    public func finish() {
        guard usesMPI else { return }
        _ = arc_mpi_finalize()
    }

    /// Stops every rank of the run at once (after this rank printed why); does not return.
    public func abort(code: Int32) -> Never {
        if usesMPI { arc_mpi_abort(code) }
        exit(code)
    }
}
