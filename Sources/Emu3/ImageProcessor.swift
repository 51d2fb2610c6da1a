import EmuIO
import EmuTensor
import Foundation

/// Pre- and postprocessing of transformers' `Emu3ImageProcessor`: smart resize (bicubic, like
/// Pillow), rescale by 1/255, normalize; and back to 8-bit pixels by truncation, as the reference's
/// `postprocess` does. Images are processed one at a time (the reference zero-pads batches of
/// different sizes, which changes the border codes).
public struct ImageProcessor: Sendable, Equatable {
    public var minPixels = 512 * 512
    public var maxPixels = 1024 * 1024
    /// Sides are made multiples of this: the vision tokenizer's real spatial factor, 2^(levels-1).
    public var spatialFactor = 8
    public var imageMean: [Float] = [0.5, 0.5, 0.5]
    public var imageStd: [Float] = [0.5, 0.5, 0.5]
    public var rescaleFactor = 1.0 / 255.0
    public var doResize = true

    public init(minPixels: Int = 512 * 512, maxPixels: Int = 1024 * 1024, spatialFactor: Int = 8) {
        self.minPixels = minPixels
        self.maxPixels = maxPixels
        self.spatialFactor = spatialFactor
    }

    /// Reads a `preprocessor_config.json` dictionary; `spatialFactor` (from the VQ config) wins
    /// over the file's `spatial_factor` when given.
    public init(json: [String: Any], spatialFactor: Int? = nil) throws {
        func number(_ key: String) -> Double? { (json[key] as? NSNumber)?.doubleValue }
        func floats(_ key: String) throws -> [Float]? {
            guard let value = json[key], !(value is NSNull) else { return nil }
            if let n = value as? NSNumber { return [Float](repeating: n.floatValue, count: 3) }
            guard let list = value as? [NSNumber], list.count == 3 else {
                throw VisionTokenizerError.badConfiguration("preprocessor \(key) must be a number or three numbers")
            }
            return list.map(\.floatValue)
        }
        minPixels = number("min_pixels").map { Int($0) } ?? minPixels
        maxPixels = number("max_pixels").map { Int($0) } ?? maxPixels
        self.spatialFactor = spatialFactor ?? number("spatial_factor").map { Int($0) } ?? self.spatialFactor
        imageMean = try floats("image_mean") ?? imageMean
        imageStd = try floats("image_std") ?? imageStd
        rescaleFactor = number("rescale_factor") ?? rescaleFactor
        doResize = json["do_resize"] as? Bool ?? true
        guard self.spatialFactor > 0, minPixels >= 0, maxPixels > 0, imageStd.allSatisfy({ $0 != 0 }) else {
            throw VisionTokenizerError.badConfiguration("preprocessor: bad spatial factor, pixel bounds or std")
        }
    }

    /// The processor of a checkpoint folder (`preprocessor_config.json`, else the defaults), with
    /// the tokenizer's spatial factor.
    public static func load(directory: String, spatialFactor: Int) throws -> ImageProcessor {
        let path = URL(fileURLWithPath: directory).appendingPathComponent("preprocessor_config.json").path
        guard let data = FileManager.default.contents(atPath: path) else {
            return ImageProcessor(spatialFactor: spatialFactor)
        }
        guard let json = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any] else {
            throw VisionTokenizerError.badConfiguration("\(path) is not a JSON object")
        }
        return try ImageProcessor(json: json, spatialFactor: spatialFactor)
    }

    /// transformers' `smart_resize`: sides rounded (half to even) to multiples of `factor`, then
    /// scaled down (floor) or up (ceil) to bring the area within [minPixels, maxPixels].
    public static func smartResize(height: Int, width: Int, factor: Int, minPixels: Int, maxPixels: Int) throws -> (height: Int, width: Int) {
        guard height > 0, width > 0 else { throw VisionTokenizerError.badInput("empty image \(width)x\(height)") }
        let (h, w, f) = (Double(height), Double(width), Double(factor))
        guard max(h, w) / min(h, w) <= 200 else {
            throw VisionTokenizerError.badInput("absolute aspect ratio must be at most 200, got \(max(h, w) / min(h, w))")
        }
        var hBar = Int((h / f).rounded(.toNearestOrEven)) * factor
        var wBar = Int((w / f).rounded(.toNearestOrEven)) * factor
        if hBar * wBar > maxPixels {
            let beta = (h * w / Double(maxPixels)).squareRoot()
            hBar = max(factor, Int((h / beta / f).rounded(.down)) * factor)
            wBar = max(factor, Int((w / beta / f).rounded(.down)) * factor)
        } else if hBar * wBar < minPixels {
            let beta = (Double(minPixels) / (h * w)).squareRoot()
            hBar = Int((h * beta / f).rounded(.up)) * factor
            wBar = Int((w * beta / f).rounded(.up)) * factor
        }
        guard hBar > 0, wBar > 0 else {
            throw VisionTokenizerError.badInput("image \(width)x\(height) resizes to an empty \(wBar)x\(hBar)")
        }
        return (hBar, wBar)
    }

    /// The size the image is resized to (unchanged when `doResize` is off).
    public func targetSize(of image: RGBImage) throws -> (height: Int, width: Int) {
        guard doResize else { return (image.height, image.width) }
        return try ImageProcessor.smartResize(height: image.height, width: image.width, factor: spatialFactor,
                                              minPixels: minPixels, maxPixels: maxPixels)
    }

    /// The image resized as the reference does (Pillow bicubic).
    public func resized(_ image: RGBImage) throws -> RGBImage {
        let (h, w) = try targetSize(of: image)
        return BicubicResize.resize(image, width: w, height: h)
    }

    /// Normalized pixel values [3, H, W] of an image of the right size (no resizing): the 8-bit
    /// value times the rescale factor in double precision, rounded to float, then (x - mean) / std
    /// in float, as numpy computes it.
    public func pixelValues(_ image: RGBImage) -> Tensor {
        let plane = image.width * image.height
        let out = Tensor(zeros: [3, image.height, image.width])
        let dst = out.mutableFloats
        for c in 0..<3 {
            let (mean, std) = (imageMean[c], imageStd[c])
            for i in 0..<plane {
                let scaled = Float(Double(image.pixels[i * 3 + c]) * rescaleFactor)
                dst[c * plane + i] = (scaled - mean) / std
            }
        }
        return out
    }

    /// Resize and normalize: the tokenizer's input [3, H, W].
    public func preprocess(_ image: RGBImage) throws -> Tensor {
        pixelValues(try resized(image))
    }

    /// 8-bit image of decoded pixels [3, H, W]: unnormalize in float ((x + m/s) / (1/s)), times
    /// 1/rescaleFactor in double rounded to float, clipped to [0, 255] and truncated.
    public func postprocess(_ pixels: Tensor) -> RGBImage {
        precondition(pixels.rank == 3 && pixels.shape[0] == 3, "postprocess expects [3, H, W], got \(pixels.shape)")
        let (h, w) = (pixels.shape[1], pixels.shape[2])
        let src = pixels.to(.float32).toArray()
        var out = [UInt8](repeating: 0, count: w * h * 3)
        for c in 0..<3 {
            let reverseMean = -imageMean[c] / imageStd[c], reverseStd = 1 / imageStd[c]
            for i in 0..<(w * h) {
                let unnormalized = (src[c * w * h + i] - reverseMean) / reverseStd
                let scaled = Float(Double(unnormalized) * (1 / rescaleFactor))
                out[i * 3 + c] = scaled.isNaN ? 0 : UInt8(min(max(scaled, 0), 255))
            }
        }
        return RGBImage(width: w, height: h, pixels: out)
    }
}
