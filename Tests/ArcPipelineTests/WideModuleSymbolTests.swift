// The modules compiled for newer instruction sets (KernelsAVX2, KernelsAVX512, KernelsAVX512BF16, KernelsLanes16) must not
// leak wide instructions into code that runs on any CPU. Swift emits small shared helpers (the
// `__swift_memcpyN_M` value witnesses of a module's structs, and the like) as weak symbols in every
// module that needs them; the linker keeps one copy, in link order, so a copy compiled for AVX-512 could
// serve the baseline code of another module and crash a CPU without AVX-512. The wide modules therefore
// declare no structs (FlashAttentionLanes.swift's layouts are tuples), and this test checks the outcome
// in the built executable: no `__swift_*` helper uses a ymm / zmm register or an AVX-512 mask.
import Foundation
import TestHelpers
import XCTest

final class WideModuleSymbolTests: XCTestCase {
    func run(_ tool: String, _ arguments: [String]) throws -> String {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: tool)
        process.arguments = arguments
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = Pipe()
        try process.run()
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        XCTAssertEqual(process.terminationStatus, 0, "\(tool) \(arguments.joined(separator: " "))")
        return String(decoding: data, as: UTF8.self)
    }

    func testSharedSwiftHelpersUseNoWideRegisters() throws {
        let binary = try PipelineExecutable.url().path
        for tool in ["/usr/bin/nm", "/usr/bin/objdump"] {
            XCTAssertTrue(FileManager.default.isExecutableFile(atPath: tool), "\(tool) (binutils) is needed for this test")
        }
        let symbols = try run("/usr/bin/nm", [binary]).split(separator: "\n").compactMap { line -> String? in
            let parts = line.split(separator: " ")
            guard parts.count == 3, "TtWw".contains(parts[1]), parts[2].hasPrefix("__swift_") else { return nil }
            return String(parts[2])
        }
        XCTAssertTrue(symbols.contains { $0.hasPrefix("__swift_memcpy") }, "expected some __swift_memcpy helpers in \(binary)")
        var wide = [String]()
        for symbol in Set(symbols).sorted() {
            let code = try run("/usr/bin/objdump", ["-d", "--no-show-raw-insn", "--disassemble=\(symbol)", binary])
            XCTAssertTrue(code.contains("<\(symbol)>:"), "objdump found no code for \(symbol)")
            if code.contains("%ymm") || code.contains("%zmm") || code.contains("%k1") || code.contains("{%k") { wide.append(symbol) }
        }
        print("checked \(Set(symbols).count) __swift_* helpers in \(binary)")
        XCTAssertEqual(wide, [], "helpers compiled with wide instructions, which baseline code may call: \(wide)")
    }

    /// The cause, checked where it starts: the objects of the wide modules that the executable links (its
    /// link list) define no weak symbol except their own module's (mangled with its name) and constant
    /// data every module may share (reflection version, mangled-name strings). A shared specialization
    /// of a standard-library generic (SIMD sum() / max() were) or a struct's value witness would show here.
    func testWideModulesDefineNoSharedWeakCode() throws {
        let binary = try PipelineExecutable.url()
        let list = binary.deletingLastPathComponent().appendingPathComponent("arc-pipeline.product/Objects.LinkFileList")
        let objects = try String(contentsOf: list, encoding: .utf8).split(separator: "\n").map { $0.trimmingCharacters(in: CharacterSet(charactersIn: "'\" ")) }
        let modules = ["KernelsAVX2": "$s11KernelsAVX2", "KernelsAVX512": "$s13KernelsAVX512", "KernelsAVX512BF16": "$s17KernelsAVX512BF16",
                       "KernelsLanes16": "$s14KernelsLanes16"]
        var checked = Set<String>(), offending = [String]()
        for object in objects {
            guard let (module, prefix) = modules.first(where: { object.contains("/\($0.key).build/") }) else { continue }
            checked.insert(module)
            for line in try run("/usr/bin/nm", [object]).split(separator: "\n") {
                let parts = line.split(separator: " ", maxSplits: 2)
                guard parts.count == 3, parts[1] == "W" || parts[1] == "V" else { continue }
                let name = String(parts[2])
                if name.hasPrefix(prefix) || name == "__swift_reflection_version" || name.hasPrefix("symbolic") { continue }
                offending.append("\(module): \(name)")
            }
        }
        XCTAssertEqual(checked, Set(modules.keys), "the link list \(list.path) should name objects of every wide module")
        XCTAssertEqual(offending, [], "weak symbols a wide module shares with others (the linker keeps one copy for all)")
    }
}
