import ArgumentParser
import Emu3
import EmuIO
import Foundation
import ShapesRecipe

/// `emu generate`: text to image (Emu3-Gen) with classifier-free guidance and the grid constraint.
struct GenerateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "generate", abstract: "Generate an image from text.")

    @OptionGroup var options: ModelOptions
    @Option(name: .long, help: "What to draw.")
    var prompt: String
    @Option(name: .customLong("negative-prompt"), help: "Unconditional text for guidance (default: the official Emu3 one).")
    var negativePrompt: String?
    @Option(name: .long, help: "Aspect ratio W:H.")
    var ratio = "1:1"
    @Option(name: .long, help: "Target area in pixels (default: 720x720, or the image processor's max_pixels if smaller).")
    var area: Int?
    @Option(name: .long, help: "Classifier-free guidance scale (1 disables it; default: the model's generation_config.json, else 3).")
    var cfg: Float?
    @OptionGroup var sampling: SamplingOptions
    @Option(name: .customLong("best-of"), help: "ShapesWorld models: draw this many pictures and keep the one the model rates best (see --rerank).")
    var bestOf = 1
    @Option(name: .long, help: "How --best-of rates pictures: caption (log p(prompt | picture): the model describing its own picture), likelihood (log p(picture | prompt)) or contrast (likelihood minus that of the negative prompt).")
    var rerank: ImageReranking.Score = ImageReranking.defaultScore
    @Option(name: .long, help: "Output PNG.")
    var out: String

    struct Result: Encodable {
        var rows: Int
        var columns: Int
        var ids: [Int]
        var image: String?
    }

    func run() throws {
        try runReportingErrors {
            if let shapes = try ShapesModelCommands.model(options) {
                try ShapesModelCommands.generate(self, model: shapes)
                return
            }
            guard bestOf == 1 else {
                throw UserError("--best-of needs a ShapesWorld model, which can read its own pictures; this checkpoint draws one picture per prompt")
            }
            let pipeline = try ModelLoading.pipeline(options, components: .all)
            let drawing = try ImageDrawing(cfg: cfg, sampling: sampling, directory: try ModelLoading.directory(options))
            let request = Emu3Pipeline.ImageRequest(
                prompt: prompt, negativePrompt: negativePrompt, ratio: ratio,
                area: area ?? MediaCoding.defaultArea(720 * 720, pipeline: pipeline), guidanceScale: drawing.guidance,
                sampling: drawing.sampling)
            let (_, rows, columns) = try pipeline.imageGenerationRequest(request)
            let progress = TokenProgress(total: rows * (columns + 1) + 3, label: "generate \(columns)x\(rows)")
            let result = try pipeline.generateImage(request, onToken: progress.callAsFunction)
            progress.finish()
            var written: String?
            if let codes = result.codes, result.stopReason != .cancelled {
                try ImageFile.writePNG(try MediaCoding.decode(codes, pipeline: pipeline, image: true)[0],
                                       to: URL(fileURLWithPath: out))
                written = out
            } else {
                Output.log("interrupted after \(result.ids.count) tokens: no complete image, nothing written to \(out)")
            }
            if options.json {
                try Output.printJSON(Result(rows: rows, columns: columns, ids: result.ids, image: written))
            } else if let written {
                Output.log("wrote \(written) (\(columns)x\(rows) codes)")
            }
        }
    }
}
