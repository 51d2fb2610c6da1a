import Foundation
import Emu3

/// Turns (caption, image codes) pairs into weighted training sequences with `Processor`'s layouts,
/// following the paper's recipe: one next-token loss, vision tokens weighted 0.5 in pretraining,
/// vision tokens only in generation fine-tuning, captions dropped with p = 0.05 so the model
/// learns the unconditional branch that classifier-free guidance needs.
public struct MultimodalExampleBuilder: Sendable {
    /// How much each kind of token counts in the loss.
    public struct Weights: Sendable, Equatable, Codable {
        public var text: Float
        public var vision: Float
        public init(text: Float, vision: Float) { self.text = text; self.vision = vision }
        /// Pretraining: text 1, vision tokens 0.5 (Emu3 section 2.2).
        public static let pretraining = Weights(text: 1, vision: 0.5)
        /// Generation fine-tuning: only the vision tokens are supervised.
        public static let visionOnly = Weights(text: 0, vision: 1)
    }

    public let processor: Processor
    public let weights: Weights
    public let captionDropout: Double
    var endOfSequence: Int { processor.specials.endOfSequence }

    public init(processor: Processor, weights: Weights = .pretraining, captionDropout: Double = 0.05) {
        self.processor = processor
        self.weights = weights
        self.captionDropout = captionDropout
    }

    /// Text-to-image: `BOS {caption} BOI "H*W" IMG rows EOF EOI EOS`. The grid (and its closing
    /// tokens) get the vision weight, the caption and the header the text weight. With probability
    /// `captionDropout` (drawn from `generator`) the caption is replaced by the empty string.
    public func textToImage(caption: String, codes: VisionCodes,
                            generator: inout SeededGenerator) throws -> TrainingExample {
        let draw = Double(generator.next() >> 11) / Double(1 << 53)
        let text = draw < captionDropout ? "" : caption
        let prompt = try processor.textToImagePrompt(text, rows: codes.height, columns: codes.width)
        let image = try processor.gridTokens(codes) + [processor.specials.endOfFrame, processor.specials.endOfImage]
        let ids = prompt + image + [endOfSequence]
        let w = [Float](repeating: weights.text, count: prompt.count)
            + [Float](repeating: weights.vision, count: image.count) + [weights.text]
        return TrainingExample(ids: ids, weights: w)
    }

    /// Plain text: `BOS {text} EOS`, every predicted token weighted as text.
    public func text(_ text: String) throws -> TrainingExample {
        guard let tokenizer = processor.tokenizer else { throw ProcessorError.noTokenizer }
        let ids = [processor.specials.beginOfSequence] + (try tokenizer.encode(text)) + [endOfSequence]
        return TrainingExample(ids: ids, weights: [Float](repeating: weights.text, count: ids.count))
    }

    /// Understanding (captioning): `BOS` image `{caption} EOS`, only the caption and EOS supervised.
    public func imageToText(caption: String, codes: VisionCodes) throws -> TrainingExample {
        let context = [processor.specials.beginOfSequence] + (try processor.imageTokens(codes))
        guard let tokenizer = processor.tokenizer else { throw ProcessorError.noTokenizer }
        let answer = try tokenizer.encode(caption) + [endOfSequence]
        return TrainingExample(ids: context + answer,
                               weights: [Float](repeating: 0, count: context.count) + [Float](repeating: 1, count: answer.count))
    }
}

/// One record of a token shard: a caption and its image's code grid.
public struct CaptionedCodes: Sendable, Equatable, Codable {
    public var caption: String
    /// [frames][rows][columns], the JSON layout of `emu vq encode`.
    public var codes: [[[Int]]]

    public init(caption: String, codes: VisionCodes) {
        self.caption = caption
        self.codes = codes.nested
    }
}

public enum TokenShardError: Error, CustomStringConvertible {
    case unreadable(path: String, reason: String)
    case badRecord(path: String, line: Int, reason: String)
    case empty(path: String)

    public var description: String {
        switch self {
        case let .unreadable(path, reason): return "cannot read token shard \(path): \(reason)"
        case let .badRecord(path, line, reason): return "\(path):\(line): \(reason)"
        case let .empty(path): return "no records in \(path)"
        }
    }
}

/// Token shards: JSON Lines files, one `CaptionedCodes` per line (`{"caption": "...", "codes":
/// [[[...]]]}`), given as files or folders of `*.jsonl` (read in name order).
public enum TokenShardDataset {
    public static func load(paths: [String]) throws -> [(caption: String, codes: VisionCodes)] {
        var files: [String] = []
        for path in paths {
            var isDirectory: ObjCBool = false
            guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
                throw TokenShardError.unreadable(path: path, reason: "no such file or folder")
            }
            if isDirectory.boolValue {
                let names = (try? FileManager.default.contentsOfDirectory(atPath: path)) ?? []
                files += names.filter { $0.hasSuffix(".jsonl") }.sorted().map { (path as NSString).appendingPathComponent($0) }
            } else {
                files.append(path)
            }
        }
        var records: [(caption: String, codes: VisionCodes)] = []
        let decoder = JSONDecoder()
        for file in files {
            guard let data = FileManager.default.contents(atPath: file), let text = String(data: data, encoding: .utf8) else {
                throw TokenShardError.unreadable(path: file, reason: "not UTF-8 text")
            }
            for (index, line) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated()
            where !line.trimmingCharacters(in: .whitespaces).isEmpty {
                let record: CaptionedCodes
                do { record = try decoder.decode(CaptionedCodes.self, from: Data(line.utf8)) } catch {
                    throw TokenShardError.badRecord(path: file, line: index + 1, reason: "not a {caption, codes} record (\(error))")
                }
                guard let codes = VisionCodes(nested: record.codes), codes.frames == 1 else {
                    throw TokenShardError.badRecord(path: file, line: index + 1, reason: "codes must be one non-empty rectangular frame [[[...]]]")
                }
                records.append((record.caption, codes))
            }
        }
        guard !records.isEmpty else { throw TokenShardError.empty(path: paths.joined(separator: ", ")) }
        return records
    }

    /// Splits `examples` deterministically into training and held-out parts (every k-th example
    /// of a seeded shuffle is held out; at least one stays for training).
    public static func split(_ examples: [TrainingExample], heldOutFraction: Double, seed: UInt64)
        -> (train: [TrainingExample], heldOut: [TrainingExample]) {
        let shuffled = examples.deterministicallyShuffled(seed: seed, epoch: -1)
        let count = min(Int((Double(shuffled.count) * heldOutFraction).rounded()), max(shuffled.count - 1, 0))
        return (Array(shuffled.dropFirst(count)), Array(shuffled.prefix(count)))
    }
}
