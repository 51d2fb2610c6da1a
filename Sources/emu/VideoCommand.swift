import ArgumentParser
import EmuTensor
import Emu3
import EmuIO
import Foundation
import ShapesRecipe

/// `emu video`: text to video, or continue a clip (docs/video-format.md).
struct VideoCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "video", abstract: "Generate or extend a video.")

    @OptionGroup var options: ModelOptions
    @Option(name: .long, help: "What happens in the video.")
    var prompt = ""
    @Option(name: .long, help: "A clip (GIF or PNG frames' folder) to continue.")
    var extend: String?
    @Option(name: .long, help: "Video frames in total (a multiple of the vision tokenizer's temporal factor).")
    var frames = 8
    @Option(name: .long, help: "Aspect ratio W:H (ignored with --extend).")
    var ratio = "1:1"
    @Option(name: .long, help: "Target area in pixels per frame, ignored with --extend (default: 256x256, or the image processor's max_pixels if smaller).")
    var area: Int?
    @Option(name: .long, help: "Classifier-free guidance scale (1 disables it; default: the model's generation_config.json, else 3). For the ShapesWorld model, guidance away from the given clip reversed (default: the model's generation_config.json shapes_motion_guidance, else none).")
    var cfg: Float?
    @Option(name: .long, help: "Frames per second of the output GIF.")
    var fps = 8
    @OptionGroup var sampling: SamplingOptions
    @Option(name: .long, help: "Output GIF.")
    var out: String

    struct Result: Encodable {
        var rows: Int
        var columns: Int
        var frames: Int
        var ids: [Int]
        var video: String?
        /// The ShapesWorld model's motion guidance (its default or `--cfg`); nil for Emu3 checkpoints.
        var motionGuidance: MotionGuidance? = nil

        enum CodingKeys: String, CodingKey { case rows, columns, frames, ids, video, motionGuidance = "motion_guidance" }
    }

    func validate() throws {
        if extend == nil && prompt.isEmpty { throw ValidationError("give --prompt, --extend, or both") }
        if frames < 1 { throw ValidationError("--frames must be positive") }
        if fps < 1 { throw ValidationError("--fps must be positive") }
    }

    func run() throws {
        try runReportingErrors {
            if let shapes = try ShapesModelCommands.model(options) {
                try ShapesModelCommands.video(self, model: shapes)
                return
            }
            let pipeline = try ModelLoading.pipeline(options, components: .all)
            let drawing = try ImageDrawing(cfg: cfg, sampling: sampling, directory: try ModelLoading.directory(options))
            guard let vq = pipeline.visionTokenizer, let imageProcessor = pipeline.imageProcessor else {
                throw UserError("the checkpoint has no vision tokenizer")
            }
            let factor = vq.temporalFactor
            guard frames % factor == 0 else {
                throw UserError("--frames \(frames) is not a multiple of the temporal factor \(factor)")
            }
            var clip: VisionCodes?
            if let extend {
                let given = try VideoFile.readFrames(URL(fileURLWithPath: extend))
                let usable = given.count / factor * factor
                guard usable > 0, usable < frames else {
                    throw UserError("--extend \(extend): \(given.count) frames; need at least \(factor) and fewer than --frames \(frames)")
                }
                let pixels = try given.prefix(usable).map { try imageProcessor.preprocess($0) }
                guard pixels.allSatisfy({ $0.shape == pixels[0].shape }) else {
                    throw UserError("--extend \(extend): frames differ in size")
                }
                clip = try vq.encode(video: Tensor.concatenate(pixels.map { $0.reshaped([1] + $0.shape) }, axis: 0))
            }
            let request = Emu3Pipeline.ImageRequest(
                prompt: prompt, ratio: ratio, area: area ?? MediaCoding.defaultArea(256 * 256, pipeline: pipeline), guidanceScale: drawing.guidance,
                sampling: drawing.sampling, frames: frames / factor, clip: clip)
            let (generation, rows, columns) = try pipeline.imageGenerationRequest(request)
            let progress = TokenProgress(total: generation.maxNewTokens, label: "video \(columns)x\(rows)")
            let result = try pipeline.generateImage(request, onToken: progress.callAsFunction)
            progress.finish()
            var written: String?
            if let codes = result.codes {
                let images = try MediaCoding.decode(codes, pipeline: pipeline, image: false)
                try VideoFile.writeGIF(images, delayCentiseconds: max(1, 100 / fps), to: URL(fileURLWithPath: out))
                written = out
            }
            if options.json {
                try Output.printJSON(Result(rows: rows, columns: columns, frames: (result.codes?.frames ?? 0) * factor,
                                            ids: result.ids, video: written))
            } else if let written {
                Output.log("wrote \(written)")
            }
        }
    }
}
