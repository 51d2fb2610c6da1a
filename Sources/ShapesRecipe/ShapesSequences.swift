import Emu3
import EmuTraining
import Foundation

/// The four tasks as Emu3 token streams (one layout per task; the loss weights mark what the model
/// learns to write):
///
/// - text-to-image: `BOS caption BOI "8*8" IMG rows EOF EOI EOS` (learns the grid and the tail)
/// - understanding: `BOS <image> question ASSISTANT answer EOS` (learns the answer; several
///   questions about one picture continue it with `question ASSISTANT answer EOS` turns)
/// - video: `BOS BOI "8*8" IMG frame1 EOF ... frameN EOF EOI EOS` (learns frames after the prefix)
/// - actions: `BOS <image> instruction ASSISTANT BOA action(s) EOA EOS` (learns the action span)
///
/// `<image>` is Emu3's image layout `BOI "H*W" IMG rows EOF EOI`.
public struct ShapesSequences: Sendable {
    public let vocabulary: ShapesVocabulary
    public let tokenizer: ShapesTokenizer
    public let rows: Int
    public let columns: Int

    public init(vocabulary: ShapesVocabulary, rows: Int = 8, columns: Int = 8) {
        self.vocabulary = vocabulary
        tokenizer = ShapesTokenizer(vocabulary: vocabulary)
        self.rows = rows
        self.columns = columns
    }

    var specials: ImageSpecialTokens { vocabulary.specials }
    func text(_ s: String) -> [Int] { (try? tokenizer.encode(s)) ?? [] }

    /// `BOI "H*W" IMG`
    public var imageHeader: [Int] { [specials.beginOfImage] + text("\(rows)*\(columns)") + [specials.imageWrapper] }

    /// Tokens of one frame: its rows, each closed by EOL, then EOF.
    public var frameLength: Int { rows * (columns + 1) + 1 }

    /// One frame's rows, each closed by EOL, then EOF.
    public func frameTokens(_ codes: [Int]) -> [Int] {
        let visual = vocabulary.visualTokens
        var ids: [Int] = []
        for r in 0..<rows {
            ids += codes[(r * columns)..<((r + 1) * columns)].map { visual[$0] }
            ids.append(specials.endOfLine)
        }
        ids.append(specials.endOfFrame)
        return ids
    }

    /// `BOI "H*W" IMG rows EOF EOI`
    public func imageTokens(_ codes: [Int]) -> [Int] { imageHeader + frameTokens(codes) + [specials.endOfImage] }

    /// Codes of the grids in `ids` (visual tokens in order; non-visual tokens skipped).
    public func codes(in ids: [Int]) -> [Int] {
        let visual = vocabulary.visualTokenRange
        return ids.compactMap { id in visual.contains(id) ? id - visual.lowerBound : nil }
    }

    // MARK: prompts (what inference feeds the model)

    public func textToImagePrompt(_ caption: String) -> [Int] { [specials.beginOfSequence] + text(caption) + imageHeader }

    public func questionPrompt(imageCodes: [Int], question: String) -> [Int] {
        [specials.beginOfSequence] + imageTokens(imageCodes) + text(question) + [vocabulary.assistant]
    }

    /// A question about a picture given only as its description (text, no picture), as a model
    /// that answers from its own description reads it.
    public func readingPrompt(description: String, question: String) -> [Int] {
        [specials.beginOfSequence] + text(description + ". " + question) + [vocabulary.assistant]
    }

    public func videoPrompt(prefixCodes: [[Int]]) -> [Int] {
        [specials.beginOfSequence] + imageHeader + prefixCodes.flatMap(frameTokens)
    }

    public func actionPrompt(imageCodes: [Int], instruction: String) -> [Int] {
        [specials.beginOfSequence] + imageTokens(imageCodes) + text(instruction) + [vocabulary.assistant]
    }

    // MARK: training examples

    static func example(prompt: [Int], completion: [Int]) -> TrainingExample {
        TrainingExample(ids: prompt + completion,
                        weights: [Float](repeating: 0, count: prompt.count) + [Float](repeating: 1, count: completion.count))
    }

    public func textToImageExample(caption: String, codes: [Int]) -> TrainingExample {
        Self.example(prompt: textToImagePrompt(caption),
                     completion: frameTokens(codes) + [specials.endOfImage, specials.endOfSequence])
    }

    public func questionExample(imageCodes: [Int], question: String, answer: String) -> TrainingExample {
        Self.example(prompt: questionPrompt(imageCodes: imageCodes, question: question),
                     completion: text(answer) + [specials.endOfSequence])
    }

    /// Several questions about one picture: `BOS <image> q1 ASSISTANT a1 EOS q2 ASSISTANT a2 EOS ...`.
    /// Each answer ends as a single answer does, so the model still stops after one; the picture's
    /// tokens are paid once for all of them. Only the answers (and their EOS) carry weight.
    /// `isolatingTurns`: each `question ASSISTANT answer EOS` turn sees `BOS <image>` and itself
    /// only (`TrainingExample.turnStarts`), as a question asked alone.
    public func conversationExample(imageCodes: [Int], turns: [(question: String, answer: String)],
                                    isolatingTurns: Bool = false) -> TrainingExample {
        precondition(!turns.isEmpty, "a conversation needs a question")
        var example = questionExample(imageCodes: imageCodes, question: turns[0].question, answer: turns[0].answer)
        if isolatingTurns { example.turnStarts = [1 + imageTokens(imageCodes).count] }
        for turn in turns.dropFirst() {
            if isolatingTurns { example.turnStarts.append(example.ids.count) }
            let asked = text(turn.question) + [vocabulary.assistant]
            let answer = text(turn.answer) + [specials.endOfSequence]
            example.ids += asked + answer
            example.weights += [Float](repeating: 0, count: asked.count) + [Float](repeating: 1, count: answer.count)
        }
        return example
    }

    public func readingExample(description: String, question: String, answer: String) -> TrainingExample {
        Self.example(prompt: readingPrompt(description: description, question: question), completion: text(answer) + [specials.endOfSequence])
    }

    /// The frames' visual tokens are noisable (free-running, the model reads frames it wrote): every
    /// frame's, or with `noisablePrefix` false only those of the frames after the prefix.
    public func videoExample(frames: [[Int]], prefixFrames: Int, noisablePrefix: Bool = true) -> TrainingExample {
        let prompt = videoPrompt(prefixCodes: Array(frames.prefix(prefixFrames)))
        var example = Self.example(prompt: prompt,
                                   completion: frames.dropFirst(prefixFrames).flatMap(frameTokens) + [specials.endOfImage, specials.endOfSequence])
        let visual = vocabulary.visualTokenRange
        example.noisable = example.ids.enumerated().map { i, id in visual.contains(id) && (noisablePrefix || i >= prompt.count) }
        return example
    }

    /// The action span holds the next action, or the expert's next few (an action chunk: more
    /// labels for one picture; inference takes the first). A non-empty `situation` (where things
    /// are, `GripperSituation`) is written before it.
    public func actionExample(imageCodes: [Int], instruction: String, situation: String = "",
                              actions: [DiscreteActionToken]) -> TrainingExample {
        Self.example(prompt: actionPrompt(imageCodes: imageCodes, instruction: instruction),
                     completion: text(situation) + [vocabulary.beginOfAction] + actions.map(\.id)
                        + [vocabulary.endOfAction, specials.endOfSequence])
    }
}

/// An action token id (kept apart from ShapesWorld's `Action` so this file needs only the vocabulary).
public struct DiscreteActionToken: Sendable { public var id: Int }
