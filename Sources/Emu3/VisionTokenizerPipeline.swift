import EmuIO
import EmuTensor
import Foundation

/// The vision tokenizer with its image processor: 8-bit images and clips to codes and back.
/// Every image is processed on its own (no padded batches).
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

    /// Codes of a still image, and the pixel size it was resized to.
    public func encode(image: RGBImage) throws -> (codes: VisionCodes, pixelHeight: Int, pixelWidth: Int) {
        let pixels = try processor.preprocess(image)
        return (try tokenizer.encode(image: pixels), pixels.shape[1], pixels.shape[2])
    }

    /// Codes of a clip whose frame count is a multiple of the temporal factor (else an error).
    /// Every frame is resized to the size the first frame's smart resize gives.
    public func encode(frames: [RGBImage]) throws -> (codes: VisionCodes, pixelHeight: Int, pixelWidth: Int) {
        guard let first = frames.first else { throw VisionTokenizerError.badInput("a video with no frames") }
        let factor = tokenizer.temporalFactor
        guard frames.count % factor == 0 else {
            throw VisionTokenizerError.badInput("a video of \(frames.count) frames: the count must be a multiple of \(factor)")
        }
        let (h, w) = try processor.targetSize(of: first)
        let tensors = try frames.map { frame -> Tensor in
            guard frame.width == first.width, frame.height == first.height else {
                throw VisionTokenizerError.badInput("frames differ in size: \(frame.width)x\(frame.height) and \(first.width)x\(first.height)")
            }
            let values = processor.pixelValues(BicubicResize.resize(frame, width: w, height: h))
            return values.reshaped([1] + values.shape)
        }
        return (try tokenizer.encode(video: Tensor.concatenate(tensors, axis: 0)), h, w)
    }

    /// The still image of one frame of codes.
    public func decodeImage(_ codes: VisionCodes) throws -> RGBImage {
        processor.postprocess(try tokenizer.decodeImage(codes))
    }

    /// The frames of codes with any number of latent frames (factor frames each).
    public func decodeFrames(_ codes: VisionCodes) throws -> [RGBImage] {
        let video = try tokenizer.decode(codes)  // [T, 3, H, W]
        return (0..<video.shape[0]).map { t in
            let frame = video.rows(t..<(t + 1))
            return processor.postprocess(frame.reshaped(Array(frame.shape.dropFirst())))
        }
    }

    /// Peak signal-to-noise ratio in dB between two 8-bit images of the same size (infinity when equal).
    public static func psnr(_ a: RGBImage, _ b: RGBImage) -> Double {
        precondition(a.width == b.width && a.height == b.height, "PSNR of images of different sizes")
        var sum = 0.0
        for (x, y) in zip(a.pixels, b.pixels) { let d = Double(x) - Double(y); sum += d * d }
        let mse = sum / Double(max(a.pixels.count, 1))
        return mse == 0 ? .infinity : 10 * log10(255 * 255 / mse)
    }
}
