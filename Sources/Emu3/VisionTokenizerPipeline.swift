import EmuIO
import EmuTensor
import Foundation

/// The vision tokenizer with its image processor: image files and videos to codes and back, as
/// `emu vq` uses them. Every input is processed on its own (never a padded batch, which would
/// change the border codes).
///
/// Media: a PNG or JPEG file is a still image; a folder of frames or a GIF is a video. A video's
/// frame count must be a multiple of the temporal factor (4 for Emu3): other counts are an error,
/// not padded (transformers' `Emu3VQVAE` has no padding either). A video of one frame (a one-frame
/// GIF or a folder with one image) is a still image, encoded as the reference encodes images.
public struct VisionTokenizerPipeline: Sendable {
    public let tokenizer: VisionTokenizer
    public let processor: ImageProcessor

    public init(tokenizer: VisionTokenizer, processor: ImageProcessor) {
        self.tokenizer = tokenizer
        self.processor = processor
    }

    /// The tokenizer and processor of a checkpoint folder (any layout `VisionTokenizer(directory:)`
    /// reads). The processor's spatial factor is the tokenizer's real one.
    public init(directory: String) throws {
        let tokenizer = try VisionTokenizer(directory: directory)
        self.init(tokenizer: tokenizer,
                  processor: try ImageProcessor.load(directory: directory, spatialFactor: tokenizer.spatialFactor))
    }

    // MARK: Media files

    /// The frames of an input: one for an image file, all of them for a GIF or a folder of frames.
    /// Errors name the file.
    public static func readMedia(_ url: URL) throws -> [RGBImage] {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: url.path, isDirectory: &isDirectory) else {
            throw MediaError(.io, "media", "no such file or folder", file: url.path)
        }
        if isDirectory.boolValue || url.pathExtension.lowercased() == "gif" { return try VideoFile.readFrames(url) }
        return [try ImageFile.read(url)]
    }

    /// Writes decoded frames: one frame to a `.png`, any number to a `.gif` or, for a path with no
    /// extension, a folder of PNG frames.
    public static func writeMedia(_ frames: [RGBImage], to url: URL, gifDelayCentiseconds: Int = 10) throws {
        guard !frames.isEmpty else { throw VisionTokenizerError.badInput("no frames to write to \(url.path)") }
        switch url.pathExtension.lowercased() {
        case "png":
            guard frames.count == 1 else {
                throw VisionTokenizerError.badInput("\(url.path): \(frames.count) frames need a .gif or a folder, not a .png")
            }
            try ImageFile.writePNG(frames[0], to: url)
        case "gif": try VideoFile.writeGIF(frames, delayCentiseconds: gifDelayCentiseconds, to: url)
        case "": _ = try VideoFile.writePNGFrames(frames, to: url)
        default: throw VisionTokenizerError.badInput("\(url.path): the output must be a .png, a .gif or a folder")
        }
    }

    // MARK: Encoding

    /// Codes of an image file, GIF or folder of frames.
    public func encode(file url: URL) throws -> VisionEncoding {
        let frames = try Self.readMedia(url)
        do { return try encode(frames: frames) } catch let error as VisionTokenizerError {
            throw VisionTokenizerError.badInput("\(url.path): \(error.description)")
        }
    }

    /// Codes of a still image (one frame) or a video (a multiple of the temporal factor of
    /// equal-sized frames; else an error). Every frame is resized to the size the first frame's
    /// smart resize gives.
    public func encode(frames: [RGBImage]) throws -> VisionEncoding {
        guard let first = frames.first else { throw VisionTokenizerError.badInput("a video with no frames") }
        if frames.count == 1 {
            let pixels = try processor.preprocess(first)
            return VisionEncoding(codes: try tokenizer.encode(image: pixels), pixelHeight: pixels.shape[1],
                                  pixelWidth: pixels.shape[2])
        }
        let factor = tokenizer.temporalFactor
        guard frames.count % factor == 0 else {
            throw VisionTokenizerError.badInput(
                "a video of \(frames.count) frames: the count must be a multiple of the temporal factor \(factor) (no padding)")
        }
        let (h, w) = try processor.targetSize(of: first)
        let tensors = try frames.map { frame -> Tensor in
            guard frame.width == first.width, frame.height == first.height else {
                throw VisionTokenizerError.badInput("frames differ in size: \(frame.width)x\(frame.height) and \(first.width)x\(first.height)")
            }
            let values = processor.pixelValues(BicubicResize.resize(frame, width: w, height: h))
            return values.reshaped([1] + values.shape)
        }
        return VisionEncoding(codes: try tokenizer.encode(video: Tensor.concatenate(tensors, axis: 0)),
                              pixelHeight: h, pixelWidth: w)
    }

    // MARK: Decoding

    /// The still image of one frame of codes (the 2D decoder runs for frame 0 only).
    public func decodeImage(_ codes: VisionCodes) throws -> RGBImage {
        processor.postprocess(try tokenizer.decodeImage(codes))
    }

    /// All frames of codes with any number of latent frames (temporal factor frames each).
    public func decodeFrames(_ codes: VisionCodes) throws -> [RGBImage] {
        let video = try tokenizer.decode(codes)  // [T, 3, H, W]
        return (0..<video.shape[0]).map { t in
            let frame = video.rows(t..<(t + 1))
            return processor.postprocess(frame.reshaped(Array(frame.shape.dropFirst())))
        }
    }

    /// The frames to write for codes: one image when `stillImage` (and one latent frame), else
    /// every decoded frame.
    public func decode(_ codes: VisionCodes, stillImage: Bool) throws -> [RGBImage] {
        stillImage && codes.frames == 1 ? [try decodeImage(codes)] : try decodeFrames(codes)
    }

    // MARK: Round trip

    /// Encodes and decodes `frames`; the PSNR (dB, mean over frames) compares each decoded frame
    /// with its input as the tokenizer saw it (resized to the encoded size, 8-bit).
    public func roundTrip(_ frames: [RGBImage]) throws -> (encoding: VisionEncoding, decoded: [RGBImage], psnr: Double) {
        let encoding = try encode(frames: frames)
        let decoded = try decode(encoding.codes, stillImage: frames.count == 1)
        let (h, w) = (encoding.pixelHeight, encoding.pixelWidth)
        let scores = try zip(frames, decoded).map { input, output in
            let seen = input.width == w && input.height == h ? input : BicubicResize.resize(input, width: w, height: h)
            return try Self.psnr(seen, output)
        }
        return (encoding, decoded, scores.reduce(0, +) / Double(scores.count))
    }

    /// Peak signal-to-noise ratio in dB between two 8-bit images of one size (infinity when equal).
    public static func psnr(_ a: RGBImage, _ b: RGBImage) throws -> Double {
        guard a.width == b.width, a.height == b.height else {
            throw VisionTokenizerError.badInput("PSNR of a \(a.width)x\(a.height) and a \(b.width)x\(b.height) image")
        }
        var sum = 0.0
        for (x, y) in zip(a.pixels, b.pixels) { let d = Double(x) - Double(y); sum += d * d }
        let mse = sum / Double(max(a.pixels.count, 1))
        return mse == 0 ? .infinity : 10 * log10(255 * 255 / mse)
    }
}

/// The codes of one input with the pixel size it was resized to. Its JSON is `emu vq encode`'s:
/// `{"frames": t, "height": h, "width": w, "pixelHeight": H, "pixelWidth": W, "codes": [[[...]]]}`
/// (frames x rows x columns).
public struct VisionEncoding: Sendable, Equatable, Codable {
    public var codes: VisionCodes
    public var pixelHeight: Int
    public var pixelWidth: Int

    public init(codes: VisionCodes, pixelHeight: Int, pixelWidth: Int) {
        self.codes = codes
        self.pixelHeight = pixelHeight
        self.pixelWidth = pixelWidth
    }

    enum CodingKeys: String, CodingKey { case frames, height, width, pixelHeight, pixelWidth, codes }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(codes.frames, forKey: .frames)
        try c.encode(codes.height, forKey: .height)
        try c.encode(codes.width, forKey: .width)
        try c.encode(pixelHeight, forKey: .pixelHeight)
        try c.encode(pixelWidth, forKey: .pixelWidth)
        try c.encode(codes.nested, forKey: .codes)
    }

    /// Reads the JSON back; `frames`, `height` and `width` must agree with the code grid.
    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let nested = try c.decode([[[Int]]].self, forKey: .codes)
        guard let grid = VisionCodes(nested: nested) else {
            throw DecodingError.dataCorruptedError(forKey: .codes, in: c, debugDescription: "the code rows are empty or ragged")
        }
        let (t, h, w) = (try c.decode(Int.self, forKey: .frames), try c.decode(Int.self, forKey: .height),
                         try c.decode(Int.self, forKey: .width))
        guard (t, h, w) == (grid.frames, grid.height, grid.width) else {
            throw DecodingError.dataCorruptedError(
                forKey: .codes, in: c,
                debugDescription: "frames/height/width \(t)x\(h)x\(w) disagree with the codes' \(grid.frames)x\(grid.height)x\(grid.width)")
        }
        codes = grid
        pixelHeight = try c.decode(Int.self, forKey: .pixelHeight)
        pixelWidth = try c.decode(Int.self, forKey: .pixelWidth)
    }
}
