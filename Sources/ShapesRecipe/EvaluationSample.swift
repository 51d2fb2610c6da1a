import Foundation
import ShapesWorld

/// One held-out sample of `ShapesEvaluation` and how the model did on it: what `emu eval
/// --log-samples` writes, one JSON object per line, so a score can be traced to the answers,
/// pictures, clips and episodes behind it.
public struct EvaluationSample: Codable, Sendable, Equatable {
    /// The model's folder name (set by `emu eval`, which may score specialists beside the model).
    public var model: String?
    /// t2i, caption, question, video or actions.
    public var task: String
    /// Position within its task's held-out samples (the same for every model).
    public var index: Int
    /// The GenEval category or question kind.
    public var kind: String?
    /// The prompt, question or instruction; for video, the clip's objects at the last given frame.
    public var input: String
    /// The right answer (caption, question answer); nil where there is no single one.
    public var expected: String?
    /// What the model wrote; for text-to-image, the objects read back from its picture.
    public var output: String?
    /// Exact match, a picture that passes, a successful episode; nil for video (see `withinTolerance`).
    public var correct: Bool?
    /// Text-to-image: the first check the picture failed (`GenEvalFailure`).
    public var failure: String?
    /// Video: share of the clip's objects within 4 px at each predicted frame.
    public var withinTolerance: [Double]?
    /// Actions: steps taken before stopping or the step limit.
    public var steps: Int?

    public init(task: String, index: Int, kind: String? = nil, input: String, expected: String? = nil, output: String? = nil,
                correct: Bool? = nil, failure: String? = nil, withinTolerance: [Double]? = nil, steps: Int? = nil) {
        self.task = task; self.index = index; self.kind = kind; self.input = input; self.expected = expected
        self.output = output; self.correct = correct; self.failure = failure
        self.withinTolerance = withinTolerance; self.steps = steps
    }

    /// `samples` as JSON Lines (keys sorted, one object per line).
    public static func jsonLines(_ samples: [EvaluationSample]) throws -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        var data = Data()
        for sample in samples {
            data.append(try encoder.encode(sample))
            data.append(0x0A)
        }
        return data
    }
}

extension Scene {
    /// The objects as a caption would name them ("nothing" when there are none).
    var readableDescription: String { objects.isEmpty ? "nothing" : CaptionGrammar.caption(self) }
}
