import ArgumentParser
import Emu3
import EmuIO
import Foundation

/// `emu vq ...`: the vision tokenizer on its own.
struct VQCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "vq",
        abstract: "Vision tokenizer: images and videos to codes and back.",
        subcommands: [VQEncode.self, VQDecode.self, VQRoundtrip.self, VQEncodeDataset.self])
}

/// The JSON of one encoded input (issue 3): frames x rows x columns of codes.
struct EncodedCodesJSON: Codable {
    var frames: Int
    var height: Int
    var width: Int
    var pixelHeight: Int
    var pixelWidth: Int
    var codes: [[[Int]]]
}

enum VQMedia {
    static func pipeline(_ options: ModelOptions) throws -> VisionTokenizerPipeline {
        guard let model = options.model else { throw UserError("--model DIR is required (there is no bundled model yet)") }
        return try VisionTokenizerPipeline(directory: model)
    }

    /// A folder of frames or a multi-frame GIF is a video; any other image file is a still image.
    static func read(_ path: String) throws -> [RGBImage] {
        let url = URL(fileURLWithPath: path)
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
            throw UserError("\(path): no such file or folder")
        }
        if isDirectory.boolValue || url.pathExtension.lowercased() == "gif" { return try VideoFile.readFrames(url) }
        return [try ImageFile.read(url)]
    }

    static func encode(_ pipeline: VisionTokenizerPipeline, _ frames: [RGBImage]) throws -> EncodedCodesJSON {
        let (codes, h, w) = frames.count == 1 ? try pipeline.encode(image: frames[0]) : try pipeline.encode(frames: frames)
        return EncodedCodesJSON(frames: codes.frames, height: codes.height, width: codes.width,
                                pixelHeight: h, pixelWidth: w, codes: codes.nested)
    }

    /// Writes decoded frames: one image as PNG, several as GIF (`.gif`) or PNG frames (a folder).
    static func write(_ frames: [RGBImage], to path: String) throws {
        let url = URL(fileURLWithPath: path)
        switch url.pathExtension.lowercased() {
        case "gif": try VideoFile.writeGIF(frames, delayCentiseconds: 10, to: url)
        case "png":
            guard frames.count == 1 else {
                throw UserError("\(path): \(frames.count) frames need a .gif or a folder (PNG frames), not a .png")
            }
            try ImageFile.writePNG(frames[0], to: url)
        case "": try VideoFile.writePNGFrames(frames, to: url)
        default: throw UserError("\(path): the output must be .png, .gif or a folder")
        }
    }

    static func decode(_ pipeline: VisionTokenizerPipeline, _ codes: VisionCodes, stillImage: Bool) throws -> [RGBImage] {
        stillImage ? [try pipeline.decodeImage(codes)] : try pipeline.decodeFrames(codes)
    }
}

struct VQEncode: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "encode", abstract: "Codes of images (PNG, JPEG) and videos (a folder of frames or a GIF), each on its own.")

    @OptionGroup var options: ModelOptions
    @Argument(help: "Image files, GIFs or folders of frames.") var inputs: [String]

    func run() throws {
        try runReportingErrors {
            let pipeline = try VQMedia.pipeline(options)
            var results: [EncodedCodesJSON] = []
            for input in inputs {
                let encoded = try VQMedia.encode(pipeline, try VQMedia.read(input))
                results.append(encoded)
                if !options.json {
                    print("\(input): \(encoded.frames)x\(encoded.height)x\(encoded.width) codes "
                          + "(\(encoded.pixelWidth)x\(encoded.pixelHeight) pixels)")
                }
            }
            if options.json {
                if results.count == 1 { try Output.printJSON(results[0]) } else { try Output.printJSON(results) }
            }
        }
    }
}

struct VQDecode: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "decode", abstract: "Pixels of codes: an image (.png) or a video (.gif, or a folder of PNG frames).")

    @OptionGroup var options: ModelOptions
    @Option(help: "JSON of `emu vq encode --json` (one object), or a bare [[[codes]]] array.") var codes: String
    @Option(help: "OUT.png, OUT.gif or a folder.") var out: String

    func run() throws {
        try runReportingErrors {
            let pipeline = try VQMedia.pipeline(options)
            guard let data = FileManager.default.contents(atPath: codes) else { throw UserError("\(codes): cannot read") }
            let decoder = JSONDecoder()
            let nested: [[[Int]]]
            if let object = try? decoder.decode(EncodedCodesJSON.self, from: data) {
                nested = object.codes
            } else if let bare = try? decoder.decode([[[Int]]].self, from: data) {
                nested = bare
            } else if let list = try? decoder.decode([EncodedCodesJSON].self, from: data), list.count == 1 {
                nested = list[0].codes
            } else {
                throw UserError("\(codes): expected one `emu vq encode --json` object or a [[[codes]]] array")
            }
            guard let grid = VisionCodes(nested: nested) else { throw UserError("\(codes): the code rows are empty or ragged") }
            let stillImage = grid.frames == 1 && URL(fileURLWithPath: out).pathExtension.lowercased() == "png"
            let frames = try VQMedia.decode(pipeline, grid, stillImage: stillImage)
            try VQMedia.write(frames, to: out)
            if options.json {
                try Output.printJSON(["out": out, "frames": "\(frames.count)",
                                      "width": "\(frames[0].width)", "height": "\(frames[0].height)"])
            } else {
                print("wrote \(out): \(frames.count) frame(s) of \(frames[0].width)x\(frames[0].height)")
            }
        }
    }
}

struct VQRoundtrip: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "roundtrip", abstract: "Encode then decode; writes the reconstruction and prints its PSNR.")

    @OptionGroup var options: ModelOptions
    @Argument(help: "An image, GIF or folder of frames.") var input: String
    @Option(help: "OUT.png (image), OUT.gif or a folder (video).") var out: String

    struct Report: Codable { var psnr: Double; var frames: Int; var pixelWidth: Int; var pixelHeight: Int; var out: String }

    func run() throws {
        try runReportingErrors {
            let pipeline = try VQMedia.pipeline(options)
            let frames = try VQMedia.read(input)
            let stillImage = frames.count == 1
            let (codes, h, w) = stillImage ? try pipeline.encode(image: frames[0]) : try pipeline.encode(frames: frames)
            let decoded = try VQMedia.decode(pipeline, codes, stillImage: stillImage)
            try VQMedia.write(decoded, to: out)
            // PSNR against the input as the tokenizer saw it (resized), averaged over frames.
            let references = frames.map { BicubicResize.resize($0, width: w, height: h) }
            let scores = zip(references, decoded).map { VisionTokenizerPipeline.psnr($0, $1) }
            let psnr = scores.reduce(0, +) / Double(max(scores.count, 1))
            if options.json {
                try Output.printJSON(Report(psnr: psnr, frames: decoded.count, pixelWidth: w, pixelHeight: h, out: out))
            } else {
                print(String(format: "PSNR %.2f dB (%dx%d, %d frame(s)) -> %@", psnr, w, h, decoded.count, out))
            }
        }
    }
}

struct VQEncodeDataset: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "encode-dataset",
        abstract: "Encode every image/GIF under a folder into code shards (resumable; see VisionCodeShardWriter).")

    @OptionGroup var options: ModelOptions
    @Option(help: "Folder of images (.png, .jpg, .jpeg, .gif), searched recursively.") var input: String
    @Option(help: "Output folder: codes-NNNNN.safetensors shards and index.jsonl.") var output: String
    @Option(help: "Items per shard.") var itemsPerShard = 256

    struct Report: Codable { var items: Int; var encoded: Int; var skipped: Int; var output: String }

    func run() throws {
        try runReportingErrors {
            guard itemsPerShard > 0 else { throw UserError("--items-per-shard must be positive") }
            let pipeline = try VQMedia.pipeline(options)
            let root = URL(fileURLWithPath: input)
            guard let walker = FileManager.default.enumerator(at: root, includingPropertiesForKeys: nil,
                                                               options: [.skipsHiddenFiles]) else {
                throw UserError("\(input): not a readable folder")
            }
            let extensions: Set<String> = ["png", "jpg", "jpeg", "gif"]
            let rootPath = root.standardizedFileURL.path
            var sources: [String] = []
            for case let url as URL in walker where extensions.contains(url.pathExtension.lowercased()) {
                sources.append(String(url.standardizedFileURL.path.dropFirst(rootPath.count + 1)))
            }
            sources.sort()
            let writer = try VisionCodeShardWriter(folder: URL(fileURLWithPath: output), itemsPerShard: itemsPerShard)
            let done = writer.encodedSources
            let todo = sources.filter { !done.contains($0) }
            if !options.json { Output.log("\(sources.count) files, \(sources.count - todo.count) already encoded") }
            let progress = ProgressBar(total: todo.count, label: "encoding", unit: "img")
            for source in todo {
                let frames = try VQMedia.read(root.appendingPathComponent(source).path)
                let (codes, h, w) = frames.count == 1 ? try pipeline.encode(image: frames[0]) : try pipeline.encode(frames: frames)
                try writer.append(source: source, codes: codes, pixelHeight: h, pixelWidth: w)
                progress.advance()
            }
            try writer.flush()
            progress.finish()
            let report = Report(items: writer.entries.count, encoded: todo.count, skipped: sources.count - todo.count, output: output)
            if options.json { try Output.printJSON(report) } else {
                print("\(report.encoded) encoded, \(report.skipped) skipped, \(report.items) items in \(output)")
            }
        }
    }
}
