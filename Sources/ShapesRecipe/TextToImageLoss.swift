import Foundation
import ShapesWorld

/// Text-to-image loss on true pictures: the mean negative log-likelihood per predicted token (the
/// codes, their line and frame ends, end of image, end of sequence) given the canonical caption,
/// the quantity the trainer minimises on text-to-image. Accuracy says whether pictures come out
/// right; this says whether the model generalises: on held-out scenes against the model's own
/// training scenes, the gap is what it memorised.
public struct TextToImageLoss: Codable, Sendable, Hashable {
    /// On held-out scenes (the evaluation's seeds).
    public var heldOut: Double
    /// On the first of the model's own training scenes (nil when its recipe settings are unknown).
    public var training: Double?
    /// Scenes in each.
    public var samples: Int
}

extension ShapesModel {
    /// What the model trained on, from its `recipe_settings.json` (nil when it is not there). Only
    /// these fields are read, so folders written before later settings were added still decode.
    public var trainingData: TrainingData? {
        guard let data = FileManager.default.contents(atPath: directory.appendingPathComponent("recipe_settings.json").path) else {
            return nil
        }
        return try? JSONDecoder().decode(TrainingData.self, from: data)
    }

    public struct TrainingData: Decodable, Sendable {
        public var seed: UInt64
        public var captionCount: Int
        public var tasks: [ShapesTask]
        /// Absent in folders written before the setting existed (their objects lie anywhere).
        public var positionStep: Int?
    }

    /// Mean negative log-likelihood per predicted token of `samples`' pictures given their captions.
    public func textToImageLoss(_ samples: [CaptionedImage]) throws -> Double {
        var total = 0.0, count = 0
        for sample in samples {
            let example = sequences.textToImageExample(caption: sample.caption, codes: try codec.encode(sample.image))
            // logprobs[t] belongs to token t+1.
            for (t, logprob) in try generator.score(example.ids).logprobs.enumerated() where example.weights[t + 1] > 0 {
                total -= Double(logprob)
                count += 1
            }
        }
        return total / Double(max(count, 1))
    }
}

extension ShapesEvaluation {
    /// Text-to-image loss on `count` held-out scenes and on the first `count` scenes the model
    /// trained on (the recipe draws them from seed x 1,000,000 on; see `ShapesRecipe`).
    public func textToImageLoss(samples count: Int) throws -> TextToImageLoss {
        // Held-out scenes come from the world the model was trained on (objects on its grid).
        let settings = model.trainingData
        let step = settings?.positionStep ?? 1
        let heldOut = try model.textToImageLoss(TaskData.captionedImages(.heldOut, count: count, positionStep: step))
        var training: Double?
        if let settings, settings.tasks.contains(.textToImage) {
            let trained = TaskData.captionedImages(.train, start: ShapesRecipe.trainingStart(seed: settings.seed),
                                                   count: min(count, settings.captionCount), positionStep: step)
            training = try model.textToImageLoss(trained)
        }
        return TextToImageLoss(heldOut: heldOut, training: training, samples: count)
    }
}
