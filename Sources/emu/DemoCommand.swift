import ArgumentParser
import EmuIO
import Foundation
import ShapesRecipe
import ShapesWorld

/// `emu demo`: the bundled model on all four tasks, small metrics, and an HTML gallery.
struct DemoCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "demo",
        abstract: "Show the bundled ShapesWorld model: images from prompts, descriptions, video, gripper, metrics, gallery.")

    @OptionGroup var options: ModelOptions

    @Option(name: .long, help: "Folder for the gallery (index.html, PNGs, GIFs).")
    var out: String = "emu-demo"

    @Option(name: .long, help: "Samples per task for the quick metrics.")
    var samples: Int = 4

    @Option(name: .customLong("best-of"), help: "Draw each gallery picture this many times and keep the one whose description the model finds likeliest (1: one draw; the metrics always draw once).")
    var bestOf: Int = 4

    static let prompts = ["a red circle", "a large blue square", "a small green triangle left of a yellow circle",
                          "two cyan diamonds", "a purple cross above an orange square"]

    struct Generated: Encodable { var prompt: String; var file: String; var read: String; var correct: Bool? }
    struct Described: Encodable { var file: String; var truth: String; var answer: String; var exact: Bool }
    struct Video: Encodable { var prefix: String; var predicted: String; var truth: String; var meanError: Double; var withinFourPixels: Double }
    struct Gripper: Encodable { var instruction: String; var file: String; var actions: [String]; var success: Bool }
    struct Metrics: Encodable {
        var textToImage: GenEvalReport
        var understanding: ShapesEvaluation.Understanding
        var video: ShapesEvaluation.VideoReport
        var actions: ActionEvaluation
        enum CodingKeys: String, CodingKey { case understanding, video, actions, textToImage = "text_to_image" }
    }
    struct Report: Encodable {
        var model: String; var gallery: String
        /// Draws per gallery picture (the best-described kept).
        var bestOf: Int
        var images: [Generated]; var descriptions: [Described]; var video: Video; var gripper: Gripper
        var metrics: Metrics; var seconds: Double
    }

    func run() throws {
        try runReportingErrors {
            let started = Date()
            guard (1...ImageReranking.maximumCandidates).contains(bestOf) else {
                throw UserError("--best-of must be 1 to \(ImageReranking.maximumCandidates) draws, not \(bestOf)")
            }
            let model = try ShapesModelLocation.load(options.model)
            let folder = URL(fileURLWithPath: out)
            try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
            func save(_ image: RGBImage, _ name: String) throws -> String {
                try ImageFile.writePNG(DemoCommand.enlarged(image), to: folder.appendingPathComponent(name)); return name
            }
            func saveGIF(_ frames: [RGBImage], _ name: String) throws -> String {
                try VideoFile.writeGIF(frames.map { DemoCommand.enlarged($0) }, delayCentiseconds: 30, to: folder.appendingPathComponent(name)); return name
            }

            Output.log(bestOf == 1 ? "text to image" : "text to image (best of \(bestOf) draws by the model's own description)")
            var images: [Generated] = []
            for (i, prompt) in Self.prompts.enumerated() {
                let image = try model.image(fromIDs: model.generateImageIDs(prompt, reranking: ImageReranking(candidates: bestOf)))
                let read = CaptionGrammar.caption(SceneSpec(describing: Scene(objects: SceneReader().objects(in: image))))
                let correct = (try? CaptionGrammar.parse(prompt)).map { GenEvalScorer().judge(GenEvalPrompt(category: .singleObject, spec: $0), image: image).correct }
                images.append(Generated(prompt: prompt, file: try save(image, "generated_\(i).png"), read: read, correct: correct))
                Output.log("  \"\(prompt)\" -> reads as \"\(read)\"")
            }

            Output.log("image to text")
            var descriptions: [Described] = []
            // Pictures of the model's own world (objects on its grid, if it was trained on one).
            let positionStep = model.trainingData?.positionStep ?? 1
            for (i, sample) in TaskData.captionedImages(.heldOut, start: 1000, count: 3, positionStep: positionStep).enumerated() {
                let answer = try model.answer(QuestionGenerator.describePrompt, about: sample.image)
                descriptions.append(Described(file: try save(sample.image, "described_\(i).png"), truth: sample.caption, answer: answer,
                                              exact: AnswerScorer.isExactMatch(answer, expected: sample.caption)))
                Output.log("  \"\(answer)\" (truth: \"\(sample.caption)\")")
            }

            Output.log("video continuation")
            let clip = TaskData.videoClips(.heldOut, start: 1000, count: 1, frameCount: 6)[0]
            let predicted = try model.continueVideo(Array(clip.frames.prefix(2)), count: 4)
            let score = VideoEvaluator.score(predicted: predicted, truth: Array(clip.states.dropFirst(2)))
            let video = Video(prefix: try saveGIF(Array(clip.frames.prefix(2)), "video_prefix.gif"),
                              predicted: try saveGIF(Array(clip.frames.prefix(2)) + predicted, "video_predicted.gif"),
                              truth: try saveGIF(clip.frames, "video_truth.gif"),
                              meanError: score.meanError, withinFourPixels: score.shareWithinTolerance)
            Output.log(String(format: "  %.0f%% of objects within 4 px; %d of %d not found; mean error of those found %.1f px",
                              100 * score.shareWithinTolerance, score.missedCount, score.objectCount, score.meanError))

            Output.log("gripper")
            let task = TaskData.actionTasks(.heldOut, start: 1000, count: 1)[0]
            var world = task.world, frames = [world.render()], actions: [String] = []
            while !world.isDone && actions.count < ActionEvaluator.defaultStepLimit {
                let action = try model.action(for: task.instruction.text, seeing: world.render())
                actions.append(action.rawValue)
                world.step(action)
                frames.append(world.render())
            }
            let gripper = Gripper(instruction: task.instruction.text, file: try saveGIF(frames, "gripper.gif"), actions: actions,
                                  success: task.instruction.isSatisfied(in: world))
            Output.log("  \"\(task.instruction.text)\": \(actions.joined(separator: " ")) -> \(gripper.success ? "success" : "failure")")

            Output.log("metrics (\(samples) samples per task; `emu eval` for the full numbers)")
            let evaluation = ShapesEvaluation(model: model)
            let metrics = Metrics(textToImage: try evaluation.textToImage(perCategory: max(1, samples / 2)).report,
                                  understanding: try evaluation.understanding(samples: samples),
                                  video: try evaluation.video(samples: max(1, samples / 2)),
                                  actions: try evaluation.actions(samples: samples))
            let report = Report(model: model.directory.path, gallery: folder.appendingPathComponent("index.html").path,
                                bestOf: bestOf, images: images, descriptions: descriptions, video: video, gripper: gripper, metrics: metrics,
                                seconds: Date().timeIntervalSince(started))
            try DemoGallery.html(report).write(to: folder.appendingPathComponent("index.html"), atomically: true, encoding: .utf8)
            if options.json {
                try Output.printJSON(report)
            } else {
                print(String(format: "text-to-image %.2f  understanding exact %.2f  video within 4 px %.2f  actions %.2f",
                             metrics.textToImage.overall, metrics.understanding.exactMatch,
                             metrics.video.score.shareWithinTolerance, metrics.actions.successRate))
                print("gallery: \(report.gallery) (\(Int(report.seconds)) s)")
            }
        }
    }

    /// 4x nearest-neighbour enlargement, so 64-pixel pictures are visible in a browser.
    static func enlarged(_ image: RGBImage, factor: Int = 4) -> RGBImage {
        let (w, h) = (image.width * factor, image.height * factor)
        var pixels = [UInt8](repeating: 0, count: w * h * 3)
        for y in 0..<h {
            for x in 0..<w {
                let src = ((y / factor) * image.width + x / factor) * 3, dst = (y * w + x) * 3
                pixels[dst] = image.pixels[src]; pixels[dst + 1] = image.pixels[src + 1]; pixels[dst + 2] = image.pixels[src + 2]
            }
        }
        return RGBImage(width: w, height: h, pixels: pixels)
    }
}

enum DemoGallery {
    static func escape(_ s: String) -> String {
        s.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;").replacingOccurrences(of: ">", with: "&gt;")
    }

    static func html(_ r: DemoCommand.Report) -> String {
        func figure(_ file: String, _ caption: String) -> String {
            "<figure><img src=\"\(file)\" width=\"256\"><figcaption>\(escape(caption))</figcaption></figure>"
        }
        var body = "<h1>swift-emu: one Emu3 model, four ShapesWorld tasks</h1><p>Model: \(escape(r.model))</p>"
        let drawn = r.bestOf == 1 ? "" : " (each the best of \(r.bestOf) draws, as the model itself describes them)"
        body += "<h2>Text to image\(drawn)</h2><div class=row>" + r.images.map { figure($0.file, "\"\($0.prompt)\" → reads as \"\($0.read)\"") }.joined() + "</div>"
        body += "<h2>Image to text</h2><div class=row>" + r.descriptions.map { figure($0.file, "model: \($0.answer) | truth: \($0.truth)") }.joined() + "</div>"
        body += "<h2>Video continuation (2 frames given, 4 predicted)</h2><div class=row>"
            + figure(r.video.predicted, String(format: "predicted (mean error %.1f px)", r.video.meanError)) + figure(r.video.truth, "simulator") + "</div>"
        body += "<h2>Gripper</h2><div class=row>" + figure(r.gripper.file, "\"\(r.gripper.instruction)\": \(r.gripper.actions.joined(separator: " ")) → \(r.gripper.success ? "success" : "failure")") + "</div>"
        let m = r.metrics
        body += "<h2>Metrics (small samples, one draw per prompt)</h2><ul>"
            + String(format: "<li>text-to-image (GenEval-style) overall %.2f</li><li>understanding exact match %.2f</li><li>video: objects within 4 px %.2f</li><li>actions: success %.2f</li>",
                     m.textToImage.overall, m.understanding.exactMatch, m.video.score.shareWithinTolerance, m.actions.successRate) + "</ul>"
        return """
        <!doctype html><html><head><meta charset="utf-8"><title>emu demo</title><style>
        body{font-family:sans-serif;margin:2em} .row{display:flex;flex-wrap:wrap;gap:1em} figure{margin:0;width:256px}
        img{image-rendering:pixelated;border:1px solid #ccc} figcaption{font-size:0.85em}
        </style></head><body>\(body)</body></html>
        """
    }
}
