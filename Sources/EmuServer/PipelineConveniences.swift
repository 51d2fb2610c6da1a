import Emu3
import EmuIO
import EmuTensor
import Foundation

// Conveniences the server needs that belong with the pipeline (candidates to move into Emu3 once
// `emu chat` / `emu generate` / `emu vq` and the ImageProcessor land there).

extension Emu3Pipeline {
    /// The negative prompt of the official Emu3 text-to-image example, used when a request gives none.
    public static let officialNegativePrompt =
        "lowres, bad anatomy, bad hands, text, error, missing fingers, extra digit, fewer digits, cropped, worst quality, low quality, normal quality, jpeg artifacts, signature, watermark, username, blurry."

    /// The checkpoint's `preprocessor_config.json`, or the Emu3 defaults when the folder has none.
    func preprocessorConfiguration() throws -> PreprocessorConfig {
        let url = directory.appendingPathComponent("preprocessor_config.json")
        guard FileManager.default.fileExists(atPath: url.path) else {
            return try PreprocessorConfig.decode(Data("{}".utf8))
        }
        return try PreprocessorConfig.load(path: url.path)
    }

    /// The chat prompt ids for `text` and the code grids of `images`: the checkpoint's chat template
    /// (an optional system turn, then one user turn with the images first, then the generation cue)
    /// unless `raw` or the checkpoint has none; then `<image>` placeholders are replaced by the
    /// images' tokens (see `Processor.understandingPrompt`).
    func chatPrompt(_ text: String, images: [VisionCodes], system: String?, raw: Bool, processor: Processor) throws -> [Int] {
        guard !raw, let source = chatTemplate else {
            return try processor.understandingPrompt((system.map { $0 + " " } ?? "") + text, images: images)
        }
        let template = try ChatTemplate(source)
        var messages: [ChatTemplate.Message] = []
        if let system { messages.append(ChatTemplate.Message(role: "system", content: [.text(system)])) }
        messages.append(ChatTemplate.Message(role: "user", content: images.map { _ in .image } + [.text(text)]))
        return try processor.understandingPrompt(template.render(messages), images: images)
    }

    /// Pixels [3, H, W] of `image` rescaled and normalized as the preprocessor says. Sizes must already
    /// be multiples of the VQ's spatial factor: the resizing of `Emu3ImageProcessor` is not done here.
    func pixels(of image: RGBImage, preprocessor: PreprocessorConfig, spatialFactor: Int) throws -> Tensor {
        guard image.width % spatialFactor == 0, image.height % spatialFactor == 0 else {
            throw VisionTokenizerError.badInput(
                "image of \(image.width)x\(image.height): width and height must be multiples of \(spatialFactor)")
        }
        let plane = image.width * image.height
        var values = [Float](repeating: 0, count: 3 * plane)
        let rescale = preprocessor.doRescale ? preprocessor.rescaleFactor : 1
        for channel in 0..<3 {
            let mean = preprocessor.doNormalize ? preprocessor.imageMean[channel] : 0
            let std = preprocessor.doNormalize ? preprocessor.imageStd[channel] : 1
            for i in 0..<plane {
                values[channel * plane + i] = Float((Double(image.pixels[i * 3 + channel]) * rescale - mean) / std)
            }
        }
        return Tensor(values, shape: [3, image.height, image.width])
    }

    /// The 8-bit image of decoded pixels [3, H, W], undoing the preprocessor's normalization and
    /// rescaling (clamped, rounded to nearest).
    func image(fromPixels pixels: Tensor, preprocessor: PreprocessorConfig) -> RGBImage {
        let (height, width) = (pixels.shape[1], pixels.shape[2])
        let values = pixels.toArray()
        let plane = width * height
        let rescale = preprocessor.doRescale ? preprocessor.rescaleFactor : 1
        var bytes = [UInt8](repeating: 0, count: 3 * plane)
        for channel in 0..<3 {
            let mean = preprocessor.doNormalize ? preprocessor.imageMean[channel] : 0
            let std = preprocessor.doNormalize ? preprocessor.imageStd[channel] : 1
            for i in 0..<plane {
                let value = (Double(values[channel * plane + i]) * std + mean) / rescale
                bytes[i * 3 + channel] = value.isNaN ? 0 : UInt8(max(0, min(255, value.rounded())))
            }
        }
        return RGBImage(width: width, height: height, pixels: bytes)
    }
}
