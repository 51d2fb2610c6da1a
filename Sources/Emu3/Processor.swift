import Foundation

/// Text to ids and back, as the checkpoint's tokenizer does it (special-token strings inside the
/// text map to their ids; no BOS is added). `EmuTokenizers.BPETokenizer` conforms.
public protocol TextTokenizing: Sendable {
    func encode(_ text: String) throws -> [Int]
    func decode(_ ids: [Int]) throws -> String
}

/// The sequence layouts of Emu3 (the whole protocol between the codecs and the transformer):
///
/// - image: `BOI "H*W" IMG` then H rows of (W visual tokens, EOL), then `EOF EOI`
/// - text-to-image prompt: `BOS {text}{suffix} BOI "H*W" IMG`; the model continues with the rows,
///   then `EOF EOI EOS`
/// - video (ours, see docs/video-format.md): `BOS {text} BOI "H*W" IMG`, then each latent frame's
///   rows followed by EOF, then `EOI EOS`. A one-frame video is exactly an image.
///
/// Ids come from the checkpoint: special tokens by name from its vocabulary, visual code k from
/// `visualTokens[k]`, digits and text from its tokenizer.
public struct Processor: Sendable {
    /// Needed for the text parts of prompts; grid layouts work without it.
    public let tokenizer: (any TextTokenizing)?
    public let specials: ImageSpecialTokens
    /// Visual code k -> token id.
    public let visualTokens: [Int]
    /// Token id -> visual code.
    private let codeOfToken: [Int: Int]
    /// The VQ's spatial downsampling (2^(levels-1)): pixels per code along each side.
    public let spatialFactor: Int

    public init(tokenizer: (any TextTokenizing)?, specials: ImageSpecialTokens, visualTokens: [Int], spatialFactor: Int) {
        self.tokenizer = tokenizer
        self.specials = specials
        self.visualTokens = visualTokens
        self.spatialFactor = spatialFactor
        var inverse: [Int: Int] = [:]
        for (code, id) in visualTokens.enumerated() { inverse[id] = code }
        codeOfToken = inverse
    }

    private func encode(_ text: String) throws -> [Int] {
        guard let tokenizer else { throw ProcessorError.noTokenizer }
        return try tokenizer.encode(text)
    }

    // MARK: Grid size

    /// Rows and columns of codes for an image of aspect `ratio` ("W:H") and about `area` pixels,
    /// as transformers' `calculate_generate_size` computes them (Python's round: half to even),
    /// but with the VQ's real spatial factor.
    public static func generationGrid(ratio: String, area: Int, spatialFactor: Int) throws -> (rows: Int, columns: Int) {
        let parts = ratio.split(separator: ":", omittingEmptySubsequences: false)
        guard parts.count == 2, let width = Int(parts[0]), let height = Int(parts[1]), width > 0, height > 0 else {
            throw ProcessorError.invalidRatio(ratio)
        }
        guard area > 0, spatialFactor > 0 else { throw ProcessorError.invalidArea(area) }
        let scale = (Double(area) / Double(width * height)).squareRoot()
        let rows = Int((Double(height) * scale / Double(spatialFactor)).rounded(.toNearestOrEven))
        let columns = Int((Double(width) * scale / Double(spatialFactor)).rounded(.toNearestOrEven))
        guard rows > 0, columns > 0 else { throw ProcessorError.invalidArea(area) }
        return (rows, columns)
    }

    public func generationGrid(ratio: String, area: Int) throws -> (rows: Int, columns: Int) {
        try Processor.generationGrid(ratio: ratio, area: area, spatialFactor: spatialFactor)
    }

    // MARK: Prompts

    /// `BOI "H*W" IMG`: the header that opens every image.
    public func imageHeader(rows: Int, columns: Int) throws -> [Int] {
        [specials.beginOfImage] + (try encode("\(rows)*\(columns)")) + [specials.imageWrapper]
    }

    /// `BOS {text} BOI "H*W" IMG`: a text-to-image prompt (append the checkpoint's suffix to `text`
    /// first, if it has one). The unconditional prompt of guidance is the same with the negative prompt.
    public func textToImagePrompt(_ text: String, rows: Int, columns: Int) throws -> [Int] {
        [specials.beginOfSequence] + (try encode(text)) + (try imageHeader(rows: rows, columns: columns))
    }

    /// The rows of latent frame `frame` of `codes`, each closed by EOL (no header, no trailer).
    public func gridTokens(_ codes: VisionCodes, frame: Int = 0) throws -> [Int] {
        var ids: [Int] = []
        ids.reserveCapacity(codes.height * (codes.width + 1))
        for r in 0..<codes.height {
            for c in 0..<codes.width {
                let code = codes[frame, r, c]
                guard visualTokens.indices.contains(code) else {
                    throw ProcessorError.codeOutOfRange(code: code, codebookSize: visualTokens.count)
                }
                ids.append(visualTokens[code])
            }
            ids.append(specials.endOfLine)
        }
        return ids
    }

    /// An image (one frame of codes) inside a sequence: `BOI "H*W" IMG` rows `EOF EOI`.
    public func imageTokens(_ image: VisionCodes) throws -> [Int] {
        guard image.frames == 1 else { throw ProcessorError.notAnImage(frames: image.frames) }
        return try imageHeader(rows: image.height, columns: image.width) + gridTokens(image)
            + [specials.endOfFrame, specials.endOfImage]
    }

    /// A prompt in which each `<image>` placeholder of `text` is replaced by the next grid's
    /// image tokens, BOS first. Grids with no placeholder left go before the text, in order.
    public func understandingPrompt(_ text: String, images: [VisionCodes], placeholder: String = "<image>") throws -> [Int] {
        var pieces = text.components(separatedBy: placeholder)
        let placeholders = pieces.count - 1
        guard placeholders <= images.count else {
            throw ProcessorError.placeholderCount(placeholders: placeholders, images: images.count)
        }
        // Unplaced images go first: add empty text pieces in front.
        pieces.insert(contentsOf: [String](repeating: "", count: images.count - placeholders), at: 0)
        var ids = [specials.beginOfSequence]
        for (index, piece) in pieces.enumerated() {
            if !piece.isEmpty { ids += try encode(piece) }
            if index < images.count { ids += try imageTokens(images[index]) }
        }
        return ids
    }

    /// `BOS {text} BOI "H*W" IMG` then each latent frame of `clip` followed by EOF: a video prompt,
    /// to generate from scratch (`clip` nil) or to extend a clip.
    public func videoPrompt(_ text: String, rows: Int, columns: Int, clip: VisionCodes? = nil) throws -> [Int] {
        var ids = try textToImagePrompt(text, rows: rows, columns: columns)
        if let clip {
            guard clip.height == rows, clip.width == columns else {
                throw ProcessorError.frameSizeMismatch(expected: "\(rows)x\(columns)", found: "\(clip.height)x\(clip.width)")
            }
            for frame in 0..<clip.frames { ids += try gridTokens(clip, frame: frame) + [specials.endOfFrame] }
        }
        return ids
    }

    // MARK: Back to grids

    /// The code grid(s) in generated ids: rows of visual tokens closed by EOL, frames closed by EOF,
    /// then optionally EOI and EOS (anything after EOS is ignored). Every row must have `columns`
    /// codes and every frame `rows` rows; a trailing frame that is cut short is an error.
    public func codes(from ids: [Int], rows: Int, columns: Int) throws -> VisionCodes {
        var frames: [[Int]] = []
        var codes: [Int] = []
        var rowLength = 0
        var rowCount = 0
        for (offset, id) in ids.enumerated() {
            if let code = codeOfToken[id] {
                guard rowLength < columns, rowCount < rows else {
                    throw ProcessorError.malformedGrid(offset: offset, reason: "a visual token past the end of a row of \(columns) or of \(rows) rows")
                }
                codes.append(code)
                rowLength += 1
            } else if id == specials.endOfLine {
                guard rowLength == columns else {
                    throw ProcessorError.malformedGrid(offset: offset, reason: "EOL after \(rowLength) codes, expected \(columns)")
                }
                rowLength = 0
                rowCount += 1
            } else if id == specials.endOfFrame {
                guard rowLength == 0, rowCount == rows else {
                    throw ProcessorError.malformedGrid(offset: offset, reason: "EOF after \(rowCount) rows, expected \(rows)")
                }
                frames.append(codes)
                codes = []
                rowCount = 0
            } else if id == specials.endOfImage || id == specials.endOfSequence {
                break
            } else {
                throw ProcessorError.malformedGrid(offset: offset, reason: "unexpected token id \(id) inside an image")
            }
        }
        if rowLength != 0 || rowCount != 0 {
            guard rowLength == 0, rowCount == rows else {
                throw ProcessorError.malformedGrid(offset: ids.count, reason: "image ends after \(rowCount) complete rows of \(rows)")
            }
            frames.append(codes)
        }
        guard !frames.isEmpty else { throw ProcessorError.malformedGrid(offset: 0, reason: "no image rows") }
        return VisionCodes(frames: frames.count, height: rows, width: columns, values: frames.flatMap { $0 })
    }
}

public enum ProcessorError: Error, Equatable, CustomStringConvertible {
    case invalidRatio(String)
    case invalidArea(Int)
    case missingSpecialToken(String)
    case codeOutOfRange(code: Int, codebookSize: Int)
    case placeholderCount(placeholders: Int, images: Int)
    case frameSizeMismatch(expected: String, found: String)
    case notAnImage(frames: Int)
    case noTokenizer
    case malformedGrid(offset: Int, reason: String)

    public var description: String {
        switch self {
        case .invalidRatio(let ratio): return "aspect ratio '\(ratio)' is not W:H with positive integers"
        case .invalidArea(let area): return "image area \(area) gives an empty grid"
        case .missingSpecialToken(let name): return "the vocabulary has no token '\(name)'"
        case .codeOutOfRange(let code, let size): return "visual code \(code) outside the codebook of \(size)"
        case .placeholderCount(let placeholders, let images):
            return "the prompt has \(placeholders) image placeholders but \(images) images were given"
        case .frameSizeMismatch(let expected, let found): return "frame of \(found) codes in a video of \(expected)"
        case .noTokenizer: return "no text tokenizer loaded (the checkpoint needs tokenizer.json)"
        case .notAnImage(let frames): return "an image has one frame of codes, got \(frames)"
        case .malformedGrid(let offset, let reason): return "generated ids are not an image grid at offset \(offset): \(reason)"
        }
    }
}
