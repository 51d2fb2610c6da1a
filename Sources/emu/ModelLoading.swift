import Emu3
import ShapesRecipe
import Foundation

/// Opening checkpoints and reading inputs for the model commands.
enum ModelLoading {
    /// The bundled model's folder, relative to the working directory or to the package holding the
    /// `emu` executable (`.build/<configuration>/emu`).
    static let bundledModel = "Models/shapes-emu3"

    /// `--model`, or the bundled model when none is given.
    static func directory(_ options: ModelOptions) throws -> String {
        try options.model ?? bundledModelDirectory()
    }

    static func pipeline(_ options: ModelOptions, components: Emu3Pipeline.Components) throws -> Emu3Pipeline {
        let directory = try directory(options)
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: directory, isDirectory: &isDirectory), isDirectory.boolValue else {
            throw UserError("--model \(directory): no such folder")
        }
        let url = URL(fileURLWithPath: directory)
        try refuseShapesModel(url)
        return try Emu3Pipeline(directory: url, components: components, tokenizer: nil)
    }

    /// Whether `url` holds a ShapesWorld model (its config.json names its picture codec).
    static func isShapesModel(_ url: URL) -> Bool { shapesCodec(url) != nil }

    /// The `shapes_codec` entry of `url`'s config.json: present only in ShapesWorld models.
    private static func shapesCodec(_ url: URL) -> [String: Any]? {
        guard let data = FileManager.default.contents(atPath: url.appendingPathComponent("config.json").path),
              let config = try? JSONSerialization.jsonObject(with: data) as? [String: Any] else { return nil }
        return config["shapes_codec"] as? [String: Any]
    }

    /// The bundled ShapesWorld model has a word-level tokenizer and its own sequence layout: the
    /// Emu3 pipeline cannot run its transformer; `emu generate`, `chat`, `video`, `score`, `serve`, `demo`
    /// and `eval` run it through `ShapesModel` (see ShapesModelCommands). Its vision
    /// tokenizer is Emu3's VQ-VAE, which `emu vq` runs (`visionTokenizerOnly`), unless the folder
    /// is one of the first models, coded by a patch codebook.
    static func refuseShapesModel(_ url: URL, visionTokenizerOnly: Bool = false) throws {
        guard let codec = shapesCodec(url) else { return }
        if visionTokenizerOnly {
            guard codec["type"] as? String != VisionTokenizerCodec.kind else { return }
            throw UserError("\(url.path) is a ShapesWorld model whose pictures are coded by a patch codebook, not Emu3's VQ-VAE: "
                            + "pass --model DIR with an Emu3 checkpoint or vision tokenizer")
        }
        throw UserError("\(url.path) is the bundled ShapesWorld model, whose word-level tokenizer and sequence layout are "
                        + "ShapesWorld's, not Emu3's: run it with `emu generate`, `chat`, `video`, `score`, `serve`, `demo` or `eval` "
                        + "(its vision tokenizer with `emu vq`), "
                        + "or pass --model DIR with an Emu3 checkpoint")
    }

    /// The first of the candidate places that holds the bundled model, or an error naming them all.
    static func bundledModelDirectory() throws -> String {
        var candidates = [URL(fileURLWithPath: FileManager.default.currentDirectoryPath).appendingPathComponent(bundledModel)]
        var folder = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath().deletingLastPathComponent()
        for _ in 0..<4 {
            folder = folder.deletingLastPathComponent()
            candidates.append(folder.appendingPathComponent(bundledModel))
        }
        let fileManager = FileManager.default
        if let found = candidates.first(where: { fileManager.fileExists(atPath: $0.appendingPathComponent("config.json").path) }) {
            return found.path
        }
        var looked: [String] = []
        for path in candidates.map(\.standardizedFileURL.path) where !looked.contains(path) { looked.append(path) }
        throw UserError("no --model given and the bundled model \(bundledModel) is not there (looked in \(looked.joined(separator: ", "))); "
                        + "pass --model DIR with an Emu3 checkpoint folder, or train the bundled one with `emu train --recipe shapes`")
    }

    /// A bare JSON array of non-negative integers.
    static func readIDs(_ path: String) throws -> [Int] {
        guard let data = FileManager.default.contents(atPath: path) else { throw UserError("--ids \(path): cannot read the file") }
        guard let array = try? JSONSerialization.jsonObject(with: data, options: [.fragmentsAllowed]) as? [Any] else {
            throw UserError("--ids \(path): not a JSON array")
        }
        return try array.enumerated().map { index, value in
            guard let number = value as? NSNumber, let id = Int(exactly: number.doubleValue), id >= 0 else {
                throw UserError("--ids \(path): element \(index) (\(value)) is not a non-negative integer")
            }
            return id
        }
    }
}
