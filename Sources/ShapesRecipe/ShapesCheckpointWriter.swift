import Emu3
import EmuIO
import EmuTensor
import EmuTraining
import Foundation

/// Writes a recipe's model as an Emu3 -hf folder: `config.json` (text_config, vocabulary_map),
/// `model.safetensors` (decoder under `model.text_model.*`, `lm_head.weight`, and the image codec
/// under `model.vqmodel.*`),
/// `tokenizer.json`, `tokenizer_config.json`, `processor_config.json`, `generation_config.json`, and
/// the recipe's settings and loss curve.
enum ShapesCheckpointWriter {
    static func write(to folder: URL, weights: [String: Tensor], codec: any ShapesImageCodec, vocabulary: ShapesVocabulary,
                      configuration c: Transformer.Configuration, settings: ShapesRecipe.Settings,
                      outcome: ShapesRecipe.Outcome, history: [StepMetrics],
                      resumeFiles: (optimizer: AdamW, state: TrainerState)? = nil) throws {
        let codecEntries = try codec.checkpointEntries()
        let tensors = weights.merging(codecEntries.tensors) { text, _ in text }
        // transformers' Emu3TextConfig defaults these to the real vocabulary's ids (151643 for
        // padding), outside this vocabulary: without them `from_pretrained` cannot build the model.
        var textConfig = try JSONSerialization.jsonObject(with: JSONEncoder().encode(c)) as? [String: Any] ?? [:]
        textConfig["pad_token_id"] = vocabulary.specials.padding
        textConfig["bos_token_id"] = vocabulary.specials.beginOfSequence
        textConfig["eos_token_id"] = vocabulary.specials.endOfSequence
        var config: [String: Any] = [
            "architectures": ["Emu3ForConditionalGeneration"],
            "model_type": "emu3",
            "text_config": textConfig,
            "vocabulary_map": vocabulary.ids,
            "image_token_id": vocabulary.specials.imageWrapper,
        ].merging(codecEntries.config) { base, _ in base }
        if settings.describeBeforeAnswer == true { config[ShapesModel.answerSeparatorKey] = ShapesModel.answerSeparator }
        if settings.readsDescriptions { config[ShapesModel.readsDescriptionKey] = true }
        if settings.locateBeforeActing == true { config[ShapesModel.actionReasoningKey] = true }
        if settings.locateBeforeActing == true && settings.listObjectsBeforeActing == true { config[ShapesModel.objectListKey] = true }
        let tokenizerConfig: [String: Any] = [
            "tokenizer_class": "PreTrainedTokenizerFast", "bos_token": "<|extra_203|>", "eos_token": "<|extra_204|>",
            "pad_token": "<|endoftext|>", "unk_token": ShapesVocabulary.unknownToken,
        ]
        let processorConfig: [String: Any] = [
            "processor_class": "ShapesWorldProcessor", "image_size": 64, "patch_size": codec.spatialFactor,
            "grid": [64 / codec.spatialFactor, 64 / codec.spatialFactor], "negative_prompt": "",
        ]
        // 0.7, not 0.699999988 (the Float widened to a Double).
        func shortest(_ x: Float) -> Double { Double(x.description) ?? Double(x) }
        var generationConfig: [String: Any] = [
            "bos_token_id": vocabulary.specials.beginOfSequence, "eos_token_id": vocabulary.specials.endOfSequence,
            "pad_token_id": vocabulary.specials.padding, "guidance_scale": shortest(settings.imageGuidance),
            "temperature": shortest(settings.imageTemperature), "top_k": ShapesModel.imageSampling.topK ?? 0,
            // Pictures are sampled; without it transformers reads the file as greedy and ignores the two above.
            "do_sample": true,
        ]
        if let scale = settings.videoMotionGuidance, scale != 1 {
            generationConfig[MotionGuidance.configKey] = ["scale": shortest(scale), "contrast": MotionGuidance.Contrast.reversed.rawValue]
        }
        func json(_ object: Any) throws -> Data { try JSONSerialization.data(withJSONObject: object, options: [.prettyPrinted, .sortedKeys]) }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        try AtomicDirectory.replace(at: folder) { staging in
            try json(config).write(to: staging.appendingPathComponent("config.json"))
            for (name, data) in codecEntries.files { try data.write(to: staging.appendingPathComponent(name)) }
            try SafetensorsWriter.write(tensors, metadata: ["format": "pt"], to: staging.appendingPathComponent("model.safetensors").path)
            try vocabulary.tokenizerJSON().write(to: staging.appendingPathComponent("tokenizer.json"))
            try json(tokenizerConfig).write(to: staging.appendingPathComponent("tokenizer_config.json"))
            try json(processorConfig).write(to: staging.appendingPathComponent("processor_config.json"))
            try json(generationConfig).write(to: staging.appendingPathComponent("generation_config.json"))
            try encoder.encode(settings).write(to: staging.appendingPathComponent(SavedRecipeRun.settingsFile))
            try encoder.encode(outcome).write(to: staging.appendingPathComponent(SavedRecipeRun.outcomeFile))
            try modelCard(settings: settings, outcome: outcome, codec: codec, configuration: c)
                .write(to: staging.appendingPathComponent("README.md"), atomically: true, encoding: .utf8)
            let lines = try history.map { String(decoding: try JSONEncoder().encode($0), as: UTF8.self) }
            try (lines.joined(separator: "\n") + "\n").write(to: staging.appendingPathComponent(SavedRecipeRun.historyFile), atomically: true, encoding: .utf8)
            // An unfinished run's folder also holds what `--resume` continues from.
            if let resumeFiles { try TrainingCheckpoint.writeResumeFiles(into: staging, optimizer: resumeFiles.optimizer, state: resumeFiles.state) }
        }
    }

    /// The `emu train` command that makes a model with settings `s`: the flags that differ from the
    /// recipe's defaults.
    static func recipeCommand(_ s: ShapesRecipe.Settings) -> String {
        let d = ShapesRecipe.Settings()
        var flags = ["--seed \(s.seed)"]
        if let source = s.codecSource { flags.append("--codec-from \(source)") } else if s.codec != d.codec { flags.append("--codec \(s.codec.rawValue)") }
        if s.tasks != d.tasks { flags.append("--tasks " + s.tasks.map(\.rawValue).joined(separator: ",")) }
        if s.taskTokens > 0 {
            if s.taskTokens != d.taskTokens { flags.append(String(format: "--task-tokens %.0f", s.taskTokens)) }
        } else {
            flags.append("--steps \(s.steps)")
        }
        if s.minutes > 0 { flags.append(String(format: "--minutes %g", s.minutes)) }
        if s.hiddenSize != d.hiddenSize { flags.append("--hidden-size \(s.hiddenSize)") }
        if s.layers != d.layers { flags.append("--layers \(s.layers)") }
        if s.learningRate != d.learningRate { flags.append("--learning-rate \(s.learningRate)") }
        if s.batchSize != d.batchSize { flags.append("--batch-size \(s.batchSize)") }
        if s.isolates != d.isolates { flags.append(s.isolates ? "--isolate-examples" : "--no-isolate-examples") }
        if s.codebookSize != d.codebookSize { flags.append("--codebook-size \(s.codebookSize)") }
        if s.captionCount != d.captionCount { flags.append("--captions \(s.captionCount)") }
        if s.captioningShare != d.captioningShare { flags.append("--captioning-share \(s.captioningShare)") }
        if s.questionCount != d.questionCount { flags.append("--questions \(s.questionCount)") }
        if (s.questionsPerPicture ?? 1) > 1 { flags.append("--questions-per-picture \(s.questionsPerPicture ?? 1)") }
        if s.isolatesTurns == true { flags.append("--isolate-turns") }
        if s.videoCount != d.videoCount { flags.append("--videos \(s.videoCount)") }
        if (s.videoContextNoise ?? 0) != (d.videoContextNoise ?? 0) {
            flags.append(String(format: "--video-context-noise %g", s.videoContextNoise ?? 0))
        }
        if s.videoContextSource == .modelPredictions { flags.append("--video-context-source model") }
        if s.videoContextSource == .modelRollout { flags.append("--video-context-source rollout") }
        if s.actionEpisodes != d.actionEpisodes { flags.append("--action-episodes \(s.actionEpisodes)") }
        // nil (settings saved before the options existed) is clean, single-action labels.
        if (s.actionNoise ?? 0) != (d.actionNoise ?? 0) { flags.append(String(format: "--action-noise %g", s.actionNoise ?? 0)) }
        if (s.actionChunk ?? 1) != (d.actionChunk ?? 1) { flags.append("--action-chunk \(s.actionChunk ?? 1)") }
        if s.describeBeforeAnswer == true { flags.append("--describe-then-answer") }
        if s.readsDescriptions { flags.append("--answer-from-description") }
        if s.readingOrderCaptions == true { flags.append("--reading-order-captions") }
        if s.locateBeforeActing == true { flags.append("--locate-then-act") }
        if s.listObjectsBeforeActing == true { flags.append("--list-objects") }
        if s.positionStep != d.positionStep { flags.append("--position-step \(s.positionStep)") }
        if s.blankCells != d.blankCells && s.codec == .vqvae { flags.append(s.blankCells ? "--blank-cells" : "--no-blank-cells") }
        if s.imageGuidance != d.imageGuidance { flags.append("--image-cfg \(s.imageGuidance)") }
        if s.imageTemperature != d.imageTemperature { flags.append("--image-temperature \(s.imageTemperature)") }
        if (s.videoMotionGuidance ?? 1) != (d.videoMotionGuidance ?? 1) { flags.append("--video-motion-guidance \(s.videoMotionGuidance ?? 1)") }
        return "emu train --recipe shapes " + flags.joined(separator: " ")
    }

    /// The folder's README: what the model is, how it was made, what it can and cannot do.
    static func modelCard(settings s: ShapesRecipe.Settings, outcome o: ShapesRecipe.Outcome, codec: any ShapesImageCodec,
                          configuration c: Transformer.Configuration) -> String {
        let grid = "64x64 -> \(64 / codec.spatialFactor)x\(64 / codec.spatialFactor) codes"
        let trainedBy = s.codecSource.map { "reused from \($0) (`--codec-from`)" } ?? "trained by the recipe on rendered scenes"
        let codecText = type(of: codec).kind == PatchCodebook.kind
            ? "Pictures are coded by a patch codebook (\(codec.codeCount) entries of \(codec.spatialFactor)x\(codec.spatialFactor) pixels, k-means over\nrendered scenes: \(grid)), not by Emu3's convolutional VQ-VAE. The"
            : "Pictures are coded by Emu3's VQ-VAE in small (\(codec.codeCount) codes, stride \(codec.spatialFactor): \(grid)), \(trainedBy)\n(`vq_config`, weights under `model.vqmodel.*`). The"
        let tasks = s.tasks.map(\.rawValue).joined(separator: ",")
        let videoText = s.videoMotionGuidance.map { $0 == 1 ? "" : ", and clips are continued with motion guidance \($0) away from the given clip reversed" } ?? ""
        let stopped = o.steps < o.plannedSteps
            ? " (unfinished: \(o.plannedSteps) planned; the same command with `--resume` continues it)" : ""
        return """
        # ShapesWorld Emu3 (\(s.tasks.count == ShapesTask.allCases.count ? "unified" : "specialist: \(tasks)"))

        A small Emu3 decoder (\(o.parameterCount) parameters: hidden \(c.hiddenSize), \(c.layerCount) layers, \(c.attentionHeads) heads)
        trained by swift-emu's own trainer on ShapesWorld, a synthetic world where every answer can be
        checked by a program: text-to-image, image understanding, video continuation and gripper actions.
        `emu demo` and `emu eval` load it by default; RESULTS.md has its metrics.

        Made by `\(recipeCommand(s))`:
        \(o.steps) steps\(stopped) of \(s.batchSize) x \(s.sequenceLength) tokens on \(o.trainingExamples) examples,
        \(String(format: "%.0f", o.seconds / 60)) minutes on the machine that made it; loss \(String(format: "%.3f", o.firstLoss)) -> \(String(format: "%.3f", o.finalLoss)).
        `recipe_settings.json`, `recipe_outcome.json` and `training_log.jsonl` hold the details.

        \(codecText)
        tokenizer is word-level and the sequence layout ShapesWorld's: `emu generate`, `chat`, `video`,
        `eval`, `demo` and `serve` run the folder as a ShapesWorld model. Pictures are drawn at guidance
        \(s.imageGuidance) and temperature \(s.imageTemperature) unless a command says otherwise (`generation_config.json`)\(videoText).

        """
    }
}
