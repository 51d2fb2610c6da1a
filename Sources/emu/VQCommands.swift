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

enum VQMedia {
    static func pipeline(_ options: ModelOptions) throws -> VisionTokenizerPipeline {
        let model = try ModelLoading.directory(options)
        try ModelLoading.refuseShapesModel(URL(fileURLWithPath: model), visionTokenizerOnly: true)
        do { return try VisionTokenizerPipeline(directory: model) } catch {
            throw UserError("\(model): \(error)")
        }
    }
}

struct VQEncode: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "encode",
        abstract: "Codes of images (PNG, JPEG) and videos (a folder of frames or a GIF), each on its own.",
        discussion: """
            A video's frame count must be a multiple of the temporal factor (4): others are an error \
            (no padding). A one-frame GIF or folder is a still image. --json prints {"frames", "height", \
            "width", "pixelHeight", "pixelWidth", "codes": [[[...]]]} per input (an array for several).
            """)

    @OptionGroup var options: ModelOptions
    @Argument(help: "Image files, GIFs or folders of frames.") var inputs: [String]

    func run() throws {
        try runReportingErrors {
            let pipeline = try VQMedia.pipeline(options)
            var results: [VisionEncoding] = []
            for input in inputs {
                let encoding = try pipeline.encode(file: URL(fileURLWithPath: input))
                results.append(encoding)
                if !options.json {
                    let c = encoding.codes
                    print("\(input): \(c.frames)x\(c.height)x\(c.width) codes (\(encoding.pixelWidth)x\(encoding.pixelHeight) pixels)")
                    for row in c.nested.joined() { print("  " + row.map(String.init).joined(separator: " ")) }
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
    @Option(help: "JSON of `emu vq encode --json` (one object, or an array of one), or a bare [[[codes]]] array.")
    var codes: String
    @Option(help: "OUT.png (one frame of codes), OUT.gif or a folder (all decoded frames).") var out: String

    struct Report: Codable { var out: String; var frames: Int; var width: Int; var height: Int }

    func run() throws {
        try runReportingErrors {
            guard let data = FileManager.default.contents(atPath: codes) else { throw UserError("\(codes): cannot read") }
            let grid = try Self.parse(data, file: codes)
            let pipeline = try VQMedia.pipeline(options)
            let stillImage = URL(fileURLWithPath: out).pathExtension.lowercased() == "png"
            if stillImage && grid.frames != 1 {
                throw UserError("\(codes): \(grid.frames) frames of codes decode to a video; write a .gif or a folder")
            }
            let frames = try pipeline.decode(grid, stillImage: stillImage)
            try VisionTokenizerPipeline.writeMedia(frames, to: URL(fileURLWithPath: out))
            let report = Report(out: out, frames: frames.count, width: frames[0].width, height: frames[0].height)
            if options.json { try Output.printJSON(report) } else {
                print("wrote \(out): \(report.frames) frame(s) of \(report.width)x\(report.height)")
            }
        }
    }

    static func parse(_ data: Data, file: String) throws -> VisionCodes {
        let decoder = JSONDecoder()
        if let object = try? decoder.decode(VisionEncoding.self, from: data) { return object.codes }
        if let list = try? decoder.decode([VisionEncoding].self, from: data) {
            guard list.count == 1 else { throw UserError("\(file): \(list.count) encodings; decode takes one") }
            return list[0].codes
        }
        if let bare = try? decoder.decode([[[Int]]].self, from: data) {
            guard let grid = VisionCodes(nested: bare) else { throw UserError("\(file): the code rows are empty or ragged") }
            return grid
        }
        do { _ = try decoder.decode(VisionEncoding.self, from: data) } catch {
            throw UserError("\(file): not the JSON of `emu vq encode --json` nor a [[[codes]]] array (\(error))")
        }
        throw UserError("\(file): unreadable codes")
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
            let frames = try VisionTokenizerPipeline.readMedia(URL(fileURLWithPath: input))
            let (encoding, decoded, psnr) = try pipeline.roundTrip(frames)
            try VisionTokenizerPipeline.writeMedia(decoded, to: URL(fileURLWithPath: out))
            let report = Report(psnr: psnr.isFinite ? psnr : 999, frames: decoded.count,
                                pixelWidth: encoding.pixelWidth, pixelHeight: encoding.pixelHeight, out: out)
            if options.json { try Output.printJSON(report) } else {
                print(String(format: "PSNR %.2f dB (%dx%d, %d frame(s)) -> %@", psnr, report.pixelWidth,
                             report.pixelHeight, report.frames, out))
            }
        }
    }
}

struct VQEncodeDataset: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "encode-dataset",
        abstract: "Encode every image/GIF under a folder into code shards (resumable).",
        discussion: "Output: codes-NNNNN.safetensors shards and index.jsonl (format: VisionCodeShards). "
            + "Running again skips the files already in the index.")

    @OptionGroup var options: ModelOptions
    @Option(help: "Folder of images (.png, .jpg, .jpeg) and GIF videos, searched recursively.") var input: String
    @Option(help: "Output folder of shards.") var output: String
    @Option(help: "Items per shard.") var itemsPerShard = 256

    func run() throws {
        try runReportingErrors {
            guard itemsPerShard > 0 else { throw UserError("--items-per-shard must be positive") }
            let inputURL = URL(fileURLWithPath: input), outputURL = URL(fileURLWithPath: output)
            let sources = try VisionDatasetEncoder.mediaFiles(in: inputURL)
            let already = Set(try VisionCodeShards.readIndex(outputURL).map(\.source))
            let todo = sources.filter { !already.contains($0) }.count
            let encoder = VisionDatasetEncoder(pipeline: try VQMedia.pipeline(options), itemsPerShard: itemsPerShard)
            Output.log("\(sources.count) files under \(input), \(sources.count - todo) already in \(output)")
            let progress = ProgressBar(total: todo, label: "encoding", unit: "file")
            let summary = try encoder.encode(input: inputURL, output: outputURL) { _, _, _ in progress.advance() }
            progress.finish()
            if options.json { try Output.printJSON(summary) } else {
                print("\(summary.encoded) encoded, \(summary.skipped) skipped, \(summary.items) items in \(output)")
            }
        }
    }
}
