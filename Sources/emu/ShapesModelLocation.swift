import Foundation
import ShapesRecipe

/// Where the bundled ShapesWorld model is: `--model`, else `Models/shapes-emu3` under the current
/// directory, else under the package root the executable was built in (`.build/<config>/emu`).
enum ShapesModelLocation {
    static let bundledPath = "Models/shapes-emu3"

    static func resolve(_ explicit: String?) throws -> URL {
        if let explicit { return URL(fileURLWithPath: explicit) }
        var candidates = [URL(fileURLWithPath: FileManager.default.currentDirectoryPath).appendingPathComponent(bundledPath)]
        var folder = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath().deletingLastPathComponent()
        for _ in 0..<6 {
            if FileManager.default.fileExists(atPath: folder.appendingPathComponent("Package.swift").path) {
                candidates.append(folder.appendingPathComponent(bundledPath))
                break
            }
            folder.deleteLastPathComponent()
        }
        for candidate in candidates where FileManager.default.fileExists(atPath: candidate.appendingPathComponent("config.json").path) {
            return candidate
        }
        throw UserError("the bundled model was not found (looked in \(candidates.map(\.path).joined(separator: ", "))); "
                        + "pass --model DIR or train it with `emu train --recipe shapes --out \(bundledPath)`")
    }

    static func load(_ explicit: String?) throws -> ShapesModel {
        let url = try resolve(explicit)
        Output.log("loading \(url.path)")
        return try ShapesModel(directory: url)
    }
}
