import Emu3
import EmuIO
import Foundation
import ShapesRecipe
import ShapesWorld

/// `emu generate`, `chat` and `video` on a ShapesWorld model (the bundled one by default). Its
/// word-level tokenizer and sequence layout are its world's, not Emu3's chat template and
/// resolution tokens, so these commands run it through `ShapesModel`, and refuse, by name, the
/// flags that have no meaning for it (other sizes, system prompts, text-to-video).
enum ShapesModelCommands {
    /// The ShapesWorld model in `options`' folder (the bundled one when none is given), or nil when
    /// the folder is an Emu3 checkpoint for the generic pipeline.
    static func model(_ options: ModelOptions) throws -> ShapesModel? {
        let directory = try ModelLoading.directory(options)
        guard ModelLoading.isShapesModel(URL(fileURLWithPath: directory)) else { return nil }
        return try ShapesModelLocation.load(directory)
    }

    /// `error`, retyped as a user error when it is the model's own (unknown words, wrong sizes).
    static func userFacing<T>(_ body: () throws -> T) throws -> T {
        do { return try body() } catch let error as ShapesModelError { throw UserError(error.description) }
    }

    static func generate(_ command: GenerateCommand, model: ShapesModel) throws {
        guard command.ratio == "1:1", command.area == nil else {
            throw UserError("the ShapesWorld model draws \(canvas) pictures only: drop --ratio and --area")
        }
        try ImageDrawing.check(command.cfg)
        let ids = try userFacing { () throws -> [Int] in
            try model.checkWords(command.prompt, role: "--prompt")
            if let negative = command.negativePrompt { try model.checkWords(negative, role: "--negative-prompt") }
            return try model.generateImageIDs(command.prompt, negativePrompt: command.negativePrompt ?? "", guidance: command.cfg,
                                              sampling: command.sampling.parameters(over: model.imageDefaults.sampling),
                                              reranking: ImageReranking(candidates: command.bestOf, score: command.rerank))
        }
        try ImageFile.writePNG(try model.image(fromIDs: ids), to: URL(fileURLWithPath: command.out))
        if command.options.json {
            try Output.printJSON(GenerateCommand.Result(rows: model.sequences.rows, columns: model.sequences.columns, ids: ids, image: command.out))
        } else {
            Output.log("wrote \(command.out) (\(model.sequences.columns)x\(model.sequences.rows) codes)")
        }
    }

    static func chat(_ command: ChatCommand, model: ShapesModel) throws {
        guard command.image.count == 1 else {
            throw UserError("the ShapesWorld model answers about one picture: give exactly one --image (got \(command.image.count))")
        }
        guard command.system == nil, !command.raw else {
            throw UserError("the ShapesWorld model has no chat template or system message: drop --system and --raw")
        }
        let ids = try userFacing { () throws -> [Int] in
            try model.checkWords(command.prompt, role: "--prompt")
            let picture = try model.canvasPicture(try ImageFile.read(URL(fileURLWithPath: command.image[0])), role: "--image \(command.image[0])")
            // A model that describes before answering gets room for the description too.
            let room = 32 + (model.describesBeforeAnswering(command.prompt) ? ShapesModel.descriptionTokens : 0)
            return try model.answerIDs(command.prompt, about: picture, maxTokens: command.maxNewTokens ?? room,
                                       sampling: command.sampling.parameters(greedyByDefault: true))
        }
        let answer = try model.sequences.tokenizer.decode(ids, skipSpecialTokens: true)
        if command.options.json {
            // For scripts: the words after the description, where the model writes one.
            let final = model.describesBeforeAnswering(command.prompt) ? model.answer(to: command.prompt, inCompletion: answer) : nil
            try Output.printJSON(ChatCommand.Result(text: answer, ids: ids, answer: final))
        } else {
            print(answer)
        }
    }

    static func video(_ command: VideoCommand, model: ShapesModel) throws {
        guard let extend = command.extend, command.prompt.isEmpty else {
            throw UserError("the ShapesWorld model continues clips and has no text-to-video: give --extend CLIP and no --prompt")
        }
        let clip = try VideoFile.readFrames(URL(fileURLWithPath: extend))
        let given = try userFacing {
            try clip.enumerated().map { index, frame in try model.canvasPicture(frame, role: "--extend \(extend), frame \(index + 1)") }
        }
        let most = model.maxVideoFrames
        guard given.count < command.frames, command.frames <= most else {
            throw UserError("--extend \(extend) has \(given.count) frames and --frames is \(command.frames): the total must be more than "
                            + "the clip's and at most \(most) (what fits the model's context)")
        }
        let count = command.frames - given.count
        var guidance = model.videoDefaults
        if let scale = command.cfg { guidance.scale = scale }
        let ids = try userFacing {
            try model.continueVideoIDs(given, count: count, sampling: command.sampling.parameters(greedyByDefault: true),
                                       motionGuidance: guidance)
        }
        let predicted = try model.frames(fromIDs: ids, count: count)
        try VideoFile.writeGIF(given + predicted, delayCentiseconds: max(1, 100 / command.fps), to: URL(fileURLWithPath: command.out))
        if command.options.json {
            try Output.printJSON(VideoCommand.Result(rows: model.sequences.rows, columns: model.sequences.columns,
                                                     frames: command.frames, ids: ids, video: command.out, motionGuidance: guidance))
        } else {
            let guided = guidance.scale == 1 ? "" : ", guided away from the given clip \(guidance.contrast.rawValue) at \(guidance.scale)"
            Output.log("wrote \(command.out) (\(given.count) frames given, \(predicted.count) predicted\(guided))")
        }
    }

    static var canvas: String { "\(Scene.canvasSize)x\(Scene.canvasSize)" }
}
