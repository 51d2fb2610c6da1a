import Emu3
import EmuIO
import EmuTensor
import EmuTraining
import Foundation
import ShapesWorld
import XCTest
@testable import ShapesRecipe

final class ShapesRecipeSmokeTests: XCTestCase {
    /// A tiny run of the whole recipe: the loss falls, and the written folder reloads through
    /// Emu3Pipeline and answers every task with well-formed output.
    func testTinyRecipeLearnsAndTheCheckpointReloads() throws {
        for codec in ShapesRecipe.Codec.allCases {
            try checkTinyRecipe(codec: codec)
        }
    }

    func checkTinyRecipe(codec: ShapesRecipe.Codec) throws {
        let folder = temporaryFolder("shapes-smoke")
        var settings = ShapesRecipe.Settings.smoke
        settings.codec = codec
        // Codes as the generic VQ-VAE loader codes them (blank cells have their own test).
        settings.blankCells = false
        let outcome = try ShapesRecipe(settings: settings, log: { _ in }).run(output: folder)
        XCTAssertNotNil(outcome.codecCeiling, "\(codec)")
        XCTAssertEqual(outcome.steps, ShapesRecipe.Settings.smoke.steps)
        // The initial loss is about log(vocabulary); 30 steps must cut it clearly.
        XCTAssertLessThan(outcome.finalLoss, outcome.firstLoss * 0.7, "loss \(outcome.firstLoss) -> \(outcome.finalLoss)")

        let model = try ShapesModel(directory: folder)
        // transformers builds the text model only if its special ids lie inside the vocabulary.
        let config = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(contentsOf: folder.appendingPathComponent("config.json"))) as? [String: Any])
        let textConfig = try XCTUnwrap(config["text_config"] as? [String: Any])
        for key in ["pad_token_id", "bos_token_id", "eos_token_id"] {
            let id = try XCTUnwrap(textConfig[key] as? Int, key)
            XCTAssertTrue((0..<model.vocabulary.count).contains(id), "\(key) \(id)")
        }
        XCTAssertEqual(model.codec.codeCount, settings.codebookSize)
        XCTAssertNil(model.reasoningSeparator, "answers directly unless trained with --describe-then-answer")
        XCTAssertFalse(model.describesBeforeAnswering("is there a red circle?"))
        XCTAssertEqual(model.answer(to: "is there a red circle?", inCompletion: "a red circle so yes"), "a red circle so yes")
        XCTAssertEqual(model.codec.spatialFactor, 8)
        if codec == .vqvae {
            // Emu3's -hf layout: the VQ-VAE under model.vqmodel.* with its vq_config, readable by the
            // generic loader, and the same network the model codes pictures with.
            let codecInModel = try XCTUnwrap(model.codec as? VisionTokenizerCodec)
            let standalone = try VisionTokenizer(directory: folder.path)
            XCTAssertEqual(standalone.configuration, ShapesVisionTokenizer.configuration(codebookSize: settings.codebookSize))
            let picture = TaskData.captionedImages(.heldOut, count: 1)[0].image
            let codes = try codecInModel.encode(picture)
            XCTAssertEqual(codes.count, 64)
            XCTAssertEqual(codes, try standalone.encode(image: ImageProcessor().pixelValues(picture)).values)
            XCTAssertTrue(codes.allSatisfy { (0..<settings.codebookSize).contains($0) })
            // `emu vq`'s pipeline on the folder: its preprocessor keeps 64x64 pictures at 64x64.
            let pipeline = try VisionTokenizerPipeline(directory: folder.path)
            let pixels = try pipeline.processor.preprocess(picture)
            XCTAssertEqual(pixels.shape, [3, 64, 64])
            XCTAssertEqual(try pipeline.tokenizer.encode(image: pixels).values, codes)
        } else {
            XCTAssertTrue(model.codec is PatchCodebook)
        }
        let image = try model.generateImage("a red circle", guidance: 2)
        XCTAssertEqual([image.width, image.height], [64, 64])
        let scene = TaskData.captionedImages(.heldOut, count: 1)[0]
        _ = try model.answer(QuestionGenerator.describePrompt, about: scene.image, maxTokens: 8)
        let clip = TaskData.videoClips(.heldOut, count: 1, frameCount: 3)[0]
        XCTAssertEqual(try model.continueVideo(Array(clip.frames.prefix(2)), count: 1).count, 1)
        let task = TaskData.actionTasks(.heldOut, count: 1)[0]
        let seen = task.world.render()
        let first = try model.action(for: task.instruction.text, seeing: seen)
        XCTAssertTrue(Action.allCases.contains(first))
        // A chunk of up to 3 actions starts with the single greedy action (the same decoding).
        let chunk = try model.actions(for: task.instruction.text, seeing: seen, count: 3)
        XCTAssertTrue((1...3).contains(chunk.count), "\(chunk)")
        XCTAssertEqual(chunk.first, first)
    }

    /// A specialist's token budget: training stops once the optimizer has seen the requested tokens
    /// of its task (padding excluded), within one step's worth.
    func testTaskTokenBudgetBecomesSteps() throws {
        let folder = temporaryFolder("shapes-budget")
        var settings = ShapesRecipe.Settings.smoke
        settings.codec = .patch
        settings.blankCells = false
        settings.tasks = [.understanding]
        settings.taskTokens = 9000
        let outcome = try ShapesRecipe(settings: settings, log: { _ in }).run(output: folder)
        let seen = try XCTUnwrap(outcome.tokensSeenPerTask["understanding"])
        let perStep = seen / Double(outcome.steps)
        XCTAssertEqual(outcome.steps, outcome.plannedSteps)
        XCTAssertGreaterThanOrEqual(seen, 9000)
        XCTAssertLessThan(seen, 9000 + perStep, "one step too many")
        XCTAssertEqual(ShapesRecipe.steps(toSee: 100, tokensPerEpoch: 50, rows: 10, batchSize: 2), 10)
        XCTAssertEqual(ShapesRecipe.steps(toSee: 101, tokensPerEpoch: 50, rows: 10, batchSize: 2), 11)
    }

    /// A specialist made with `codecSource` codes pictures with the unified model's codec, bit for
    /// bit (even under another seed, which would train a different one), codes and trains only its
    /// task, and refuses a codec whose size does not match the vocabulary.
    func testSpecialistReusesTheUnifiedModelsCodec() throws {
        let unified = temporaryFolder("shapes-unified")
        let specialist = temporaryFolder("shapes-specialist")
        var settings = ShapesRecipe.Settings.smoke
        settings.steps = 2
        try ShapesRecipe(settings: settings, log: { _ in }).run(output: unified)

        settings.seed = 5
        settings.tasks = [.video]
        settings.codecSource = unified.path
        var logged: [String] = []
        let outcome = try ShapesRecipe(settings: settings, log: { logged.append($0) }).run(output: specialist)
        XCTAssertEqual(Array(outcome.tokensPerTask.keys), ["video"])
        XCTAssertFalse(logged.contains { $0.contains("training the VQ-VAE") }, "the codec stage ran")
        let frames = settings.videoCount * settings.videoFrames
        XCTAssertTrue(logged.contains("coding \(frames) pictures"), "coded more than the video frames: \(logged)")

        let (sourceConfig, sourceWeights) = try VisionTokenizer.weights(directory: unified.path)
        let (reusedConfig, reusedWeights) = try VisionTokenizer.weights(directory: specialist.path)
        XCTAssertEqual(reusedConfig, sourceConfig)
        XCTAssertEqual(reusedWeights.count, sourceWeights.count)
        XCTAssertTrue(sourceWeights.allSatisfy { reusedWeights[$0.key]?.toArray() == $0.value.toArray() }, "the codec's weights changed")

        settings.codebookSize = 64
        XCTAssertThrowsError(try ShapesRecipe(settings: settings, log: { _ in }).run(output: specialist)) { error in
            XCTAssertTrue("\(error)".contains("32 codes"), "\(error)")
        }
        settings.codecSource = unified.appendingPathComponent("absent").path
        XCTAssertThrowsError(try ShapesRecipe(settings: settings, log: { _ in }).run(output: specialist)) { error in
            XCTAssertTrue("\(error)".contains("to reuse the codec of"), "\(error)")
        }
    }

    /// `--action-noise`: the action data are the noisy demonstrations (more states, the expert's
    /// labels); `--action-chunk`: each label holds the expert's next actions; settings saved
    /// before the options existed still load.
    func testActionNoiseReachesTheActionData() throws {
        let unified = temporaryFolder("shapes-noise-unified")
        var settings = ShapesRecipe.Settings.smoke
        settings.steps = 2
        settings.actionEpisodes = 6
        settings.actionChunk = nil  // the recipe's 8 since model 5; the chunks are checked below
        try ShapesRecipe(settings: settings, log: { _ in }).run(output: unified)
        settings.tasks = [.actions]
        settings.codecSource = unified.path
        var tokens: [Double: Int] = [:]
        for noise in [0, 0.5] {
            settings.actionNoise = noise
            var logged: [String] = []
            let outcome = try ShapesRecipe(settings: settings, log: { logged.append($0) })
                .run(output: temporaryFolder("shapes-noise-\(noise)"))
            let episodes = TaskData.actionEpisodes(.train, start: ShapesRecipe.trainingStart(seed: settings.seed),
                                                   count: settings.actionEpisodes, noise: noise)
            let frames = episodes.map(\.frames.count).reduce(0, +)
            XCTAssertTrue(logged.contains("coding \(frames) pictures"), "noise \(noise): \(logged)")
            tokens[noise] = outcome.tokensPerTask["actions"]
        }
        XCTAssertGreaterThan(tokens[0.5] ?? 0, tokens[0] ?? .max, "disturbed episodes are longer")

        // --action-chunk: the same pictures, each labelled with the expert's next actions.
        settings.actionNoise = nil
        settings.actionChunk = 3
        let chunked = try ShapesRecipe(settings: settings, log: { _ in }).run(output: temporaryFolder("shapes-chunk"))
        let episodes = TaskData.actionEpisodes(.train, start: 0, count: settings.actionEpisodes)
        let extraLabels = episodes.flatMap { $0.expertPlans(length: 3) }.map { $0.count - 1 }.reduce(0, +)
        XCTAssertGreaterThan(extraLabels, 0)
        XCTAssertEqual(chunked.tokensPerTask["actions"], (tokens[0] ?? 0) + extraLabels)

        // Settings saved before the options existed load as clean, single-action labels (nil), not
        // as today's defaults.
        var clean = ShapesRecipe.Settings()
        clean.actionNoise = nil
        clean.actionChunk = nil
        var saved = try JSONSerialization.jsonObject(with: JSONEncoder().encode(clean)) as! [String: Any]
        XCTAssertNil(saved.removeValue(forKey: "actionNoise"), "nil is not written")
        XCTAssertNil(saved.removeValue(forKey: "actionChunk"), "nil is not written")
        saved["actionNoise"] = 0.25
        let decoded = try JSONDecoder().decode(ShapesRecipe.Settings.self, from: JSONSerialization.data(withJSONObject: saved))
        XCTAssertEqual(decoded.actionNoise, 0.25)
        saved.removeValue(forKey: "actionNoise")
        XCTAssertEqual(saved.removeValue(forKey: "isolatesExamples") as? Bool, true, "isolation is the default")
        let old = try JSONDecoder().decode(ShapesRecipe.Settings.self, from: JSONSerialization.data(withJSONObject: saved))
        XCTAssertNil(old.actionNoise)
        XCTAssertNil(old.actionChunk)
        XCTAssertNil(old.isolatesExamples, "settings saved before isolation existed resume without it")
    }

    /// The model card's `emu train` line makes the model again: every data setting that differs
    /// from the recipe's defaults is a flag, and settings saved before the gripper options existed
    /// (model 4's) say clean labels explicitly, since the defaults are no longer clean.
    func testModelCardCommandNamesTheSettingsThatDifferFromTheDefaults() throws {
        XCTAssertEqual(ShapesCheckpointWriter.recipeCommand(ShapesRecipe.Settings()), "emu train --recipe shapes --seed 0")
        var model4 = ShapesRecipe.Settings()
        model4.seed = 2
        model4.videoCount = 1200
        model4.taskTokens = 18_000_000
        model4.actionNoise = nil
        model4.actionChunk = nil
        model4.isolatesExamples = nil
        XCTAssertEqual(ShapesCheckpointWriter.recipeCommand(model4),
                       "emu train --recipe shapes --seed 2 --task-tokens 18000000 --no-isolate-examples --videos 1200 --action-noise 0 --action-chunk 1")
        model4.actionEpisodes = 300
        model4.actionNoise = 0.1
        XCTAssertTrue(ShapesCheckpointWriter.recipeCommand(model4).hasSuffix("--action-episodes 300 --action-noise 0.1 --action-chunk 1"))
        var faster = ShapesRecipe.Settings()
        faster.learningRate = 0.003
        XCTAssertEqual(ShapesCheckpointWriter.recipeCommand(faster), "emu train --recipe shapes --seed 0 --learning-rate 0.003")
        faster.batchSize = 4
        XCTAssertEqual(ShapesCheckpointWriter.recipeCommand(faster), "emu train --recipe shapes --seed 0 --learning-rate 0.003 --batch-size 4")
        // Isolation is the default: a run without it (or saved before it existed) says so.
        faster.isolatesExamples = nil
        XCTAssertEqual(ShapesCheckpointWriter.recipeCommand(faster),
                       "emu train --recipe shapes --seed 0 --learning-rate 0.003 --batch-size 4 --no-isolate-examples")
        faster.isolatesExamples = false
        XCTAssertTrue(ShapesCheckpointWriter.recipeCommand(faster).hasSuffix("--batch-size 4 --no-isolate-examples"))
        faster.isolatesExamples = true
        XCTAssertEqual(ShapesCheckpointWriter.recipeCommand(faster), "emu train --recipe shapes --seed 0 --learning-rate 0.003 --batch-size 4")
    }

    /// `--blank-cells`: the saved model codes empty cells as the empty canvas, after reloading
    /// too, and a specialist reusing its codec keeps that; the patch codec refuses blank cells.
    func testBlankCellsAreSavedAndReused() throws {
        let unified = temporaryFolder("shapes-blank")
        let specialist = temporaryFolder("shapes-blank-spec")
        var settings = ShapesRecipe.Settings.smoke
        settings.steps = 2
        settings.blankCells = true
        try ShapesRecipe(settings: settings, log: { _ in }).run(output: unified)
        let codec = try XCTUnwrap(try ShapesModel(directory: unified).codec as? VisionTokenizerCodec)
        let blankCodes = try XCTUnwrap(codec.blankCodes)
        XCTAssertEqual(blankCodes, try VisionTokenizerCodec(tokenizer: codec.tokenizer).encode(RGBImage(width: 64, height: 64)))

        settings.blankCells = false
        settings.tasks = [.textToImage]
        settings.codecSource = unified.path
        try ShapesRecipe(settings: settings, log: { _ in }).run(output: specialist)
        XCTAssertEqual((try ShapesModel(directory: specialist).codec as? VisionTokenizerCodec)?.blankCodes, blankCodes)

        var patch = ShapesRecipe.Settings.smoke
        patch.codec = .patch
        patch.blankCells = true
        XCTAssertThrowsError(try ShapesRecipe(settings: patch, log: { _ in }).run(output: specialist)) { error in
            XCTAssertTrue("\(error)".contains("blank cells are for the VQ-VAE"), "\(error)")
        }
    }

    /// `captioningShare` picks that share of the captioned scenes, evenly, for captioning; every
    /// scene still gives a text-to-image example.
    func testCaptioningShareThinsCaptioningOnly() throws {
        XCTAssertEqual((0..<9).filter { ShapesRecipe.isCaptioned($0, share: 1.0 / 3) }, [2, 5, 8])
        XCTAssertEqual((0..<10).filter { ShapesRecipe.isCaptioned($0, share: 1) }.count, 10)
        XCTAssertEqual((0..<10).filter { ShapesRecipe.isCaptioned($0, share: 0) }.count, 0)
        XCTAssertEqual((0..<1000).filter { ShapesRecipe.isCaptioned($0, share: 0.37) }.count, 370)

        var settings = ShapesRecipe.Settings.smoke
        settings.steps = 1
        settings.questionCount = 1
        var logged: [String] = []
        func tokens(share: Double, tasks: [ShapesTask] = [.textToImage, .understanding]) throws -> [String: Int] {
            settings.captioningShare = share
            settings.tasks = tasks
            logged = []
            return try ShapesRecipe(settings: settings, log: { logged.append($0) }).run(output: temporaryFolder("shapes-share")).tokensPerTask
        }
        let captions = settings.captionCount
        let all = try tokens(share: 1)
        XCTAssertTrue(logged.contains { $0.hasPrefix("\(2 * captions + 1) examples packed") }, "\(logged)")
        let half = try tokens(share: 0.5)
        // Every scene still draws; half of them caption; the one question stays.
        XCTAssertTrue(logged.contains { $0.hasPrefix("\(captions + captions / 2 + 1) examples packed") }, "\(logged)")
        XCTAssertEqual(half["t2i"], all["t2i"])
        XCTAssertLessThan(try XCTUnwrap(half["understanding"]), try XCTUnwrap(all["understanding"]))
        // Without text-to-image, only the captioned scenes and the question are coded.
        _ = try tokens(share: 0.5, tasks: [.understanding])
        XCTAssertTrue(logged.contains("coding \(captions / 2 + 1) pictures"), "\(logged)")
    }

    /// A model trained on objects on a grid is scored on held-out scenes of that world unless the
    /// caller names another; the report says which.
    func testUnderstandingIsScoredInTheModelsOwnWorld() throws {
        let folder = temporaryFolder("shapes-grid")
        var settings = ShapesRecipe.Settings.smoke
        settings.steps = 2
        settings.positionStep = 8
        try ShapesRecipe(settings: settings, log: { _ in }).run(output: folder)
        let evaluation = ShapesEvaluation(model: try ShapesModel(directory: folder))
        let own = try evaluation.understanding(samples: 3)
        XCTAssertEqual(own.positionStep, 8)
        XCTAssertEqual(try evaluation.understanding(samples: 1, positionStep: 1).positionStep, 1)
        // The tally by kind accounts for every question and agrees with the overall exact match.
        XCTAssertEqual(own.questionsByKind.values.map(\.asked).reduce(0, +), 3)
        XCTAssertEqual(Double(own.questionsByKind.values.map(\.right).reduce(0, +)) / 3, own.questionExactMatch, accuracy: 1e-12)
        XCTAssertTrue(Set(own.questionsByKind.keys).isSubset(of: QuestionKind.allCases.map(\.rawValue)))
    }

    /// The guidance and temperature a recipe names, and its motion guidance for clips, are written to
    /// the folder's generation_config.json and become how the reloaded model draws and continues
    /// clips when a caller does not say; the caller's still win.
    func testRecipesDrawingSettingsBecomeTheModelsDefaults() throws {
        let folder = temporaryFolder("shapes-drawing")
        var settings = ShapesRecipe.Settings.smoke
        settings.steps = 2
        settings.imageGuidance = 2
        settings.imageTemperature = 0.8
        settings.videoMotionGuidance = 2
        try ShapesRecipe(settings: settings, log: { _ in }).run(output: folder)
        let written = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(contentsOf: folder.appendingPathComponent("generation_config.json"))) as? [String: Any])
        XCTAssertEqual(written["guidance_scale"] as? Double, 2)
        XCTAssertEqual(written["temperature"] as? Double, 0.8, "written as 0.8, not the Float widened")
        XCTAssertEqual(written["top_k"] as? Int, ShapesModel.imageSampling.topK)
        XCTAssertEqual(written["do_sample"] as? Bool, true, "transformers samples with them only then")
        let motion = try XCTUnwrap(written[MotionGuidance.configKey] as? [String: Any])
        XCTAssertEqual(motion["scale"] as? Double, 2)
        XCTAssertEqual(motion["contrast"] as? String, "reversed")
        // The model card names the command that made the model: the flags that are not the recipe's defaults.
        let card = try String(contentsOf: folder.appendingPathComponent("README.md"), encoding: .utf8)
        XCTAssertTrue(card.contains("--steps 2 "), card)
        XCTAssertTrue(card.contains("--image-cfg 2.0 --image-temperature 0.8 --video-motion-guidance 2.0`"), card)
        XCTAssertTrue(card.contains("motion guidance 2.0 away from the given clip reversed"), card)
        XCTAssertFalse(card.contains("--position-step"), "a default is not named: \(card)")

        let model = try ShapesModel(directory: folder)
        let explicit = SamplingParameters(temperature: 0.8, topK: ShapesModel.imageSampling.topK)
        XCTAssertEqual(model.imageDefaults, ShapesModel.ImageDefaults(guidance: 2, sampling: explicit))
        XCTAssertEqual(model.videoDefaults, MotionGuidance(scale: 2))
        let prompt = "a red circle"
        XCTAssertEqual(try model.generateImageIDs(prompt), try model.generateImageIDs(prompt, guidance: 2, sampling: explicit))
        let evaluation = ShapesEvaluation(model: model)
        XCTAssertEqual(try evaluation.textToImage(perCategory: 1).samples.map(\.1),
                       try evaluation.textToImage(perCategory: 1, guidance: 2, sampling: explicit).samples.map(\.1))

        // A folder whose file has no sampling entries (the bundled model's) draws as Emu3 does.
        let ids: [String: Any] = ["bos_token_id": 1, "eos_token_id": 2]
        try JSONSerialization.data(withJSONObject: ids).write(to: folder.appendingPathComponent("generation_config.json"))
        XCTAssertEqual(try ShapesModel(directory: folder).imageDefaults, ShapesModel.ImageDefaults())
        XCTAssertEqual(try ShapesModel(directory: folder).videoDefaults, .none)
        // A bad entry is named when the model opens, not sampled with.
        try Data(#"{"temperature": -1}"#.utf8).write(to: folder.appendingPathComponent("generation_config.json"))
        XCTAssertThrowsError(try ShapesModel(directory: folder)) { error in
            XCTAssertTrue("\(error)".contains("temperature"), "\(error)")
        }
    }

    /// A seed's codec does not depend on the grid the decoder's captions use, and a decoder trained
    /// on a reused codec is the one the recipe trains on its own codec: `--codec-from` a model of the
    /// same seed gives the from-scratch model bit for bit, without the VQ-VAE stage.
    func testReusedCodecOfTheSameSeedGivesTheFromScratchModel() throws {
        var settings = ShapesRecipe.Settings.smoke
        settings.steps = 3
        settings.positionStep = 1
        settings.blankCells = false
        let anywhere = temporaryFolder("shapes-anywhere")
        try ShapesRecipe(settings: settings, log: { _ in }).run(output: anywhere)
        settings.positionStep = 8
        settings.blankCells = true
        let onGrid = temporaryFolder("shapes-on-grid")
        try ShapesRecipe(settings: settings, log: { _ in }).run(output: onGrid)
        settings.codecSource = anywhere.path
        let reused = temporaryFolder("shapes-on-grid-reused")
        try ShapesRecipe(settings: settings, log: { _ in }).run(output: reused)

        func tensors(_ folder: URL) throws -> [String: [Float]] {
            let store = try WeightStore.load(file: folder.appendingPathComponent("model.safetensors").path)
            return try Dictionary(uniqueKeysWithValues: store.names.map { ($0, try store.tensor($0).to(.float32).toArray()) })
        }
        let (a, b, c) = (try tensors(anywhere), try tensors(onGrid), try tensors(reused))
        let codecNames = a.keys.filter { $0.hasPrefix("model.vqmodel.") }
        XCTAssertFalse(codecNames.isEmpty)
        XCTAssertTrue(codecNames.allSatisfy { a[$0] == b[$0] }, "the grid changed the codec")
        XCTAssertEqual(b.keys.sorted(), c.keys.sorted())
        XCTAssertTrue(b.allSatisfy { c[$0.key] == $0.value }, "a reused codec of the same seed changed the model")
        XCTAssertFalse(a.filter { !$0.key.hasPrefix("model.vqmodel.") }.allSatisfy { b[$0.key] == $0.value },
                       "the grid's data should train another decoder")
    }

    /// The recipe is reproducible from a seed, its VQ-VAE stage included: two runs give the same
    /// weights bit for bit, and another seed gives different ones.
    func testVisionTokenizerStageIsReproducibleFromTheSeed() throws {
        let images = TaskData.captionedImages(.train, count: 4).map(\.image)
        func run(seed: UInt64) throws -> [String: [Float]] {
            try ShapesVisionTokenizer.train(images: images, codebookSize: 16, steps: 2, batchSize: 2, learningRate: 1e-3,
                                            seed: seed, log: { _ in }).weights.mapValues { $0.toArray() }
        }
        let (first, again, other) = (try run(seed: 3), try run(seed: 3), try run(seed: 4))
        XCTAssertEqual(first.count, again.count)
        XCTAssertTrue(first.allSatisfy { again[$0.key] == $0.value }, "same seed, different weights")
        XCTAssertFalse(first.allSatisfy { other[$0.key] == $0.value }, "another seed gave the same weights")
    }
}
