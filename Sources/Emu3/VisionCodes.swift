/// A grid of codebook indices: `frames` latent frames of `height` x `width` codes, row-major
/// (frame, row, column). A still image has one frame; a video of T frames has T / temporal factor.
public struct VisionCodes: Sendable, Equatable {
    public let frames: Int
    public let height: Int
    public let width: Int
    public var values: [Int]

    public init(frames: Int, height: Int, width: Int, values: [Int]) {
        precondition(values.count == frames * height * width,
                     "\(values.count) codes for a \(frames)x\(height)x\(width) grid")
        self.frames = frames
        self.height = height
        self.width = width
        self.values = values
    }

    /// Codes from nested arrays [frames][rows][columns]; nil when the rows are ragged or empty.
    public init?(nested: [[[Int]]]) {
        guard let first = nested.first, let row = first.first, !row.isEmpty else { return nil }
        let (h, w) = (first.count, row.count)
        guard nested.allSatisfy({ $0.count == h && $0.allSatisfy { $0.count == w } }) else { return nil }
        self.init(frames: nested.count, height: h, width: w, values: nested.flatMap { $0.flatMap { $0 } })
    }

    /// The codes as nested arrays [frames][rows][columns] (the JSON layout of `emu vq encode`).
    public var nested: [[[Int]]] {
        (0..<frames).map { t in
            (0..<height).map { r in Array(values[((t * height + r) * width)..<((t * height + r + 1) * width)]) }
        }
    }

    public subscript(frame: Int, row: Int, column: Int) -> Int {
        values[(frame * height + row) * width + column]
    }
}
