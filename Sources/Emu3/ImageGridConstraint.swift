/// The layout of a generated image or video, enforced token by token: for each of `frames` latent
/// frames, `rows` rows of `columns` visual tokens each closed by EOL, then EOF; then EOI, EOS, and
/// padding. Generation starts right after the prompt's IMG token, or `offsetAtStart` tokens later
/// when the prompt already holds part of the grid (video extension).
///
/// For one frame, with offset o = tokens after IMG including the one being chosen (1 for the
/// first): o ≤ rows·(columns+1) and o divisible by columns+1 -> EOL; o = rows·(columns+1)+1 -> EOF;
/// +2 -> EOI; +3 -> EOS; beyond -> PAD; otherwise any visual token. That is the rule of the
/// `prefix_allowed_tokens_fn` in transformers' Emu3 documentation, except that its EOL test comes
/// first for every offset, which for grids one or two codes wide puts EOL where EOF, EOI or EOS
/// belong; here the tail always wins.
public struct ImageGridConstraint: TokenConstraint {
    public let rows: Int
    public let columns: Int
    public let frames: Int
    public let specials: ImageSpecialTokens
    /// Ids of the visual tokens.
    public let visualTokens: [Int]
    /// Tokens of this grid already in the prompt after IMG (0 when generation starts at the grid).
    public let offsetAtStart: Int

    public init(rows: Int, columns: Int, frames: Int = 1, specials: ImageSpecialTokens, visualTokens: [Int],
                offsetAtStart: Int = 0) {
        self.rows = rows
        self.columns = columns
        self.frames = frames
        self.specials = specials
        self.visualTokens = visualTokens
        self.offsetAtStart = offsetAtStart
    }

    /// Tokens of one latent frame: its rows with their EOL, then EOF.
    public var frameLength: Int { rows * (columns + 1) + 1 }

    /// Tokens the whole grid takes after IMG, up to and including EOS.
    public var tokenCount: Int { frames * frameLength + 2 }

    public func allowedTokens(after generated: [Int]) -> AllowedTokens {
        let offset = offsetAtStart + generated.count + 1
        let gridEnd = frames * frameLength
        if offset <= gridEnd {
            let inFrame = (offset - 1) % frameLength + 1
            if inFrame == frameLength { return .only([specials.endOfFrame]) }
            return inFrame % (columns + 1) == 0 ? .only([specials.endOfLine]) : .only(visualTokens)
        }
        switch offset - gridEnd {
        case 1: return .only([specials.endOfImage])
        case 2: return .only([specials.endOfSequence])
        default: return .only([specials.padding])
        }
    }
}

/// The ids of the structural tokens of image and video layouts, read from a checkpoint's vocabulary.
public struct ImageSpecialTokens: Sendable, Equatable {
    public var beginOfSequence: Int      // BOS <|extra_203|>
    public var endOfSequence: Int        // EOS <|extra_204|>
    public var padding: Int              // PAD <|endoftext|>
    public var beginOfImage: Int         // BOI <|image start|>
    public var imageWrapper: Int         // IMG <|image token|>
    public var endOfLine: Int            // EOL <|extra_200|>
    public var endOfFrame: Int           // EOF <|extra_201|>
    public var endOfImage: Int           // EOI <|image end|>

    public init(beginOfSequence: Int, endOfSequence: Int, padding: Int, beginOfImage: Int,
                imageWrapper: Int, endOfLine: Int, endOfFrame: Int, endOfImage: Int) {
        self.beginOfSequence = beginOfSequence
        self.endOfSequence = endOfSequence
        self.padding = padding
        self.beginOfImage = beginOfImage
        self.imageWrapper = imageWrapper
        self.endOfLine = endOfLine
        self.endOfFrame = endOfFrame
        self.endOfImage = endOfImage
    }

    /// Looks the tokens up by their names in a name -> id vocabulary (config `vocabulary_map`).
    public init(vocabulary: [String: Int]) throws {
        func id(_ name: String) throws -> Int {
            guard let id = vocabulary[name] else { throw ProcessorError.missingSpecialToken(name) }
            return id
        }
        self.init(beginOfSequence: try id("<|extra_203|>"), endOfSequence: try id("<|extra_204|>"),
                  padding: try id("<|endoftext|>"), beginOfImage: try id("<|image start|>"),
                  imageWrapper: try id("<|image token|>"), endOfLine: try id("<|extra_200|>"),
                  endOfFrame: try id("<|extra_201|>"), endOfImage: try id("<|image end|>"))
    }
}
